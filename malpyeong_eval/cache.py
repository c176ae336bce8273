"""A small bounded LRU memo shared by the scorers' caches (tokens, embeddings, pair scores)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
Value = TypeVar("Value")


class LRUCache(Generic[Key, Value]):
    """Remembers up to ``size`` values; the least recently used goes first. ``size=0`` keeps nothing.

    >>> cache = LRUCache(str.upper, size=2)
    >>> cache("a"), len(cache)
    ('A', 1)
    """

    def __init__(self, compute: Callable[[Key], Value] | None = None, size: int = 65536) -> None:
        self._compute = compute
        self._entries: OrderedDict[Key, Value] = OrderedDict()
        self.size = size

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def get(self, key: Key) -> Value | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: Key, value: Value) -> None:
        if self.size <= 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def __call__(self, key: Key) -> Value:
        value = self.get(key)
        if value is None:
            if self._compute is None:
                raise TypeError("this LRUCache was built without a compute function: use get and put")
            value = self._compute(key)
            self.put(key, value)
        return value
