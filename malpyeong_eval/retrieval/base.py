"""The one interface every retriever offers, and the Mecab morphemes BM25 indexes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

__all__ = ["Hit", "Retriever", "morphemes"]

Hit = tuple[int, float]  # (index of the passage in the corpus, score): higher is better

_NOT_KEPT = re.compile(r"[^A-Za-z0-9가-힣ㄱ-ㅎㅏ-ㅣ]")


@runtime_checkable
class Retriever(Protocol):
    """Finds the passages of a corpus that best match each query.

    ``name`` is what the output records as ``retrieval.retriever`` (``bm25-mecab``,
    ``dense:<model>``). ``search`` returns, per query, up to ``k`` hits, best first.
    """

    name: str

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]: ...


class MorphemeAnalyser:
    """Mecab (mecab-ko-dic) morphemes, through the same tagger ROUGE-1 uses.

    The text is cleaned as for ROUGE-1 (lowercase, every char outside ``[A-Za-z0-9가-힣]`` a
    space) except that Hangul jamo are kept (the norms talk of 'ㄷ' 받침, 'ㅅ' ...) and no text
    is cut at 1,000 words (a passage is indexed whole).
    """

    def __init__(self) -> None:
        from ..metrics._vendor_api import mecab_wakati_tagger

        self._tagger = mecab_wakati_tagger()

    def __call__(self, text: str) -> list[str]:
        cleaned = _NOT_KEPT.sub(" ", text.lower()).strip()
        return self._tagger.parse(cleaned).split() if cleaned else []


def tokenizer_version() -> str:
    """What the morphemes depend on: the tagger's and the dictionary's versions (part of the BM25 cache key)."""
    from importlib.metadata import PackageNotFoundError, version

    parts = []
    for package in ("python-mecab-ko", "python-mecab-ko-dic"):
        try:
            parts.append(f"{package}={version(package)}")
        except PackageNotFoundError:
            parts.append(f"{package}=?")
    return "mecab-morphemes-v1;" + ";".join(parts)


_analyser: MorphemeAnalyser | None = None


def morphemes(text: str) -> list[str]:
    """Mecab morphemes of ``text`` (see :class:`MorphemeAnalyser`).

    >>> morphemes("라면이 {불기/붇기} 전에, 'ㄷ' 받침")
    ['라면', '이', '불', '기', '붇', '기', '전', '에', 'ㄷ', '받침']
    """
    global _analyser
    if _analyser is None:
        _analyser = MorphemeAnalyser()
    return _analyser(text)
