"""Turning whatever GRPOTrainer hands a reward function into answer texts, safely.

Completions are plain strings or conversations (a list of messages whose last one
holds the answer). Anything else is malformed: it is scored 0.0, never raises, and
each kind is warned about once per process.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger("malpyeong_eval.rewards")

MAX_COMPLETION_CHARS = 20_000  # gold answers are ~150 characters; far longer output is degenerate
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_warned: set[str] = set()


def warn_once(kind: str, message: str) -> None:
    """Log ``message`` the first time ``kind`` is seen in this process."""
    if kind not in _warned:
        _warned.add(kind)
        logger.warning("%s (further %s cases are scored 0.0 silently)", message, kind)


def _message_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence) and content and all(
        isinstance(part, Mapping) and isinstance(part.get("text"), str) for part in content
    ):
        return "".join(part["text"] for part in content)  # content parts: [{"type": "text", "text": ...}]
    return None


def completion_text(completion: Any) -> str | None:
    """The answer text of one completion, or ``None`` (after a one-time warning) if malformed."""
    text: str | None
    if isinstance(completion, str):
        text = completion
    elif completion is None:
        warn_once("none", "a completion is None")
        return None
    elif isinstance(completion, Sequence) and not isinstance(completion, (bytes, bytearray)):
        last = completion[-1] if completion else None
        text = _message_text(last.get("content")) if isinstance(last, Mapping) else None
        if text is None:
            warn_once("bad_messages", "a conversational completion is not a list of messages with text content")
            return None
    else:
        warn_once("not_text", f"a completion is {type(completion).__name__}, not text or messages")
        return None
    if len(text) > MAX_COMPLETION_CHARS:
        warn_once("too_long", f"a completion has {len(text)} characters (more than {MAX_COMPLETION_CHARS})")
        return None
    if _SURROGATE.search(text):
        warn_once("surrogates", "a completion holds lone surrogate characters")
        return None
    if _CONTROL.search(text):
        warn_once("control_chars", "a completion holds control characters")
        return None
    return text


def gold_texts(kwargs: Mapping[str, Any], column: str, count: int) -> list[str | None]:
    """The gold answers from the dataset column ``column`` (``None`` where one is not a string)."""
    if column not in kwargs:
        raise KeyError(f"reward needs the dataset column {column!r} (the gold answer); columns given: {sorted(kwargs)}")
    golds = list(kwargs[column])
    if len(golds) != count:
        raise ValueError(f"column {column!r} has {len(golds)} values for {count} completions")
    return [gold if isinstance(gold, str) else None for gold in golds]
