"""Retrieval over a norms corpus for RAG runs: corpus loading, BM25 and dense retrievers, metrics.

- :mod:`.corpus` — a PDF, a text file with ``<분류 - 규정 제N항>`` headings, or JSONL → passages;
- :mod:`.base` — the :class:`Retriever` interface (``search(queries, k)``) and Mecab morphemes;
- :mod:`.bm25` — BM25 over morphemes (bm25s), the index cached on disk by corpus hash;
- :mod:`.dense` — sentence-transformers embeddings (the ``dense`` extra);
- :mod:`.metrics` — recall@k and MRR against ``output.article`` labels;
- :mod:`.pipeline` — the passages written into the data (``input.references``, ``retrieval``).

Importing this package imports neither bm25s, pypdf nor sentence-transformers.
"""

from __future__ import annotations

from .base import Hit, Retriever
from .corpus import Corpus, CorpusError, Passage, load_corpus
from .metrics import is_relevant, normalize_title, retrieval_metrics
from .pipeline import SETTINGS_KEYS, retrieve_into

__all__ = [
    "Corpus", "CorpusError", "Hit", "Passage", "Retriever", "SETTINGS_KEYS", "is_relevant", "load_corpus",
    "make_retriever", "normalize_title", "retrieval_metrics", "retrieve_into",
]


def make_retriever(kind: str, corpus: Corpus, *, dense_model: str | None = None, device: str | None = None,
                   cache_dir=None) -> Retriever:
    """``bm25`` (default) or ``dense`` over ``corpus``."""
    if kind == "bm25":
        from .bm25 import BM25Retriever

        return BM25Retriever(corpus, cache_dir=cache_dir)
    if kind == "dense":
        from .dense import DEFAULT_DENSE_MODEL, DenseRetriever

        return DenseRetriever(corpus, dense_model or DEFAULT_DENSE_MODEL, device=device)
    from ..errors import MalpyeongError

    raise MalpyeongError(f"--retriever: unknown retriever {kind!r} (bm25 or dense)")
