"""The one interface every retriever offers, what a query is, and the tokenizers BM25 indexes with.

Two tokenizers (a :data:`Tokenizer` is any ``str -> list[str]``), chosen by name in
:data:`TOKENIZERS`:

- ``mecab``: Mecab (mecab-ko-dic) morphemes, as ROUGE-1 reads a text (punctuation and spaces gone);
- ``char``: character 2- and 3-grams of the text with its spaces and punctuation kept, so a
  spacing rule (``본 지``/``본지``) or a punctuation mark is still visible to the index.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["Hit", "Query", "Retriever", "TOKENIZERS", "Tokenizer", "char_ngrams", "morphemes", "tokenizer_version"]

Hit = tuple[int, float]  # (index of the passage in the corpus, score): higher is better
Tokenizer = Callable[[str], list[str]]


@dataclass(frozen=True)
class Query:
    """What a retriever is asked: an item's question (never its answer), the item's id and its question type.

    The id lets a retriever that learns from labelled questions leave the item itself out; the type
    (``선택형``, ``교정형``; ``None``: read from the question) lets a learned fusion weigh parts by it.
    """

    question: str
    id: str | None = None
    question_type: str | None = None

_NOT_KEPT = re.compile(r"[^A-Za-z0-9가-힣ㄱ-ㅎㅏ-ㅣ]")


@runtime_checkable
class Retriever(Protocol):
    """Finds the passages of a corpus that best match each query.

    ``name`` is what the output records as ``retrieval.retriever`` (``bm25-mecab``,
    ``dense:<model>``). ``search`` returns, per query, up to ``k`` hits, best first. A hit of
    score exactly 0 is filler (the retriever found nothing for it: BM25 with no shared token, a
    rule no labelled question is about, which the examples classifier cannot predict); fusion gives
    filler no weight.
    """

    name: str

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]: ...


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


def tokenizer_version(name: str = "mecab") -> str:
    """What a tokenizer's tokens depend on (part of the BM25 cache key): for Mecab, its and the dictionary's versions."""
    if name == "char":
        return "char-2-3-grams-v1"
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


_SPACES = re.compile(r"\s+")


def char_ngrams(text: str, sizes: tuple[int, ...] = (2, 3)) -> list[str]:
    """Character n-grams of ``text`` (lowercased, whitespace runs one space), spaces and punctuation kept.

    >>> char_ngrams("본 지,", sizes=(2,))
    ['본 ', ' 지', '지,']
    """
    cleaned = _SPACES.sub(" ", text.lower()).strip()
    return [cleaned[i:i + n] for n in sizes for i in range(len(cleaned) - n + 1)]


TOKENIZERS: dict[str, Tokenizer] = {"mecab": morphemes, "char": char_ngrams}
