"""Retrieval over a norms corpus for RAG runs: corpus loading, retrievers, fusion, metrics, cross-validation.

- :mod:`.corpus` — a PDF, a .docx, a text file with ``<분류 - 규정명>`` headings, or JSONL → passages;
- :mod:`.question` — a question read the way the task writes it (sentence, ``{A/B}``, their difference);
- :mod:`.base` — the :class:`Retriever` interface (``search(queries, k)``), :class:`Query`, tokenizers;
- :mod:`.bm25` — BM25 over morphemes or character n-grams (bm25s), the index cached on disk;
- :mod:`.examples` — a linear classifier (LinearSVC) from labelled questions to their rule, and the
  cross-fitting guard every learned part shares (no item learns from itself);
- :mod:`.category` — the norm category of a question as probabilities (labelled questions and the
  question's own evidence), a part and a feature;
- :mod:`.dense` — sentence-transformers embeddings (the ``dense`` extra);
- :mod:`.fusion` — reciprocal rank fusion (k = 10 by default), a cross-encoder reranker;
- :mod:`.learned` — a fusion learned from labelled questions (a conditional logit over passages);
- :mod:`.proposals` — Kiwi's corrections of a 교정형 sentence as alternatives (the ``kiwi`` extra);
- :mod:`.plan` — ``--retriever`` parsed into one :class:`RetrievalPlan`, and its builder;
- :mod:`.metrics` — recall@k and MRR against ``output.article`` labels;
- :mod:`.pipeline` — the passages written into the data, labelled examples, cross-validation;
- :mod:`.labelling` — rule labels made from gold answers (lexical, or a language model's likelihood);
- :mod:`.workflows` — ``retrieve`` and ``label`` as library calls: :class:`RetrievalRequest` →
  :func:`retrieve` → :class:`RetrievalOutcome`, :class:`LabelRequest` → :func:`label` → :class:`LabelOutcome`.

Importing this package imports neither bm25s, pypdf, python-docx, scikit-learn, kiwipiepy nor sentence-transformers.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import Hit, Query, Retriever
    from .corpus import Corpus, CorpusError, Passage, load_corpus
    from .metrics import is_relevant, normalize_title, retrieval_metrics
    from .pipeline import SETTINGS_KEYS, retrieve_into
    from .plan import RetrievalPlan, RetrieverBuilder
    from .workflows import LabelOutcome, LabelRequest, RetrievalOutcome, RetrievalRequest, label, retrieve

# name -> module, each imported on first use: the core's scoring imports .metrics alone (citation, norms),
# and should not pay for the corpus readers, the plans and the workflows
_LAZY = {
    **dict.fromkeys(("Hit", "Query", "Retriever"), "base"),
    **dict.fromkeys(("Corpus", "CorpusError", "Passage", "load_corpus"), "corpus"),
    **dict.fromkeys(("is_relevant", "normalize_title", "retrieval_metrics"), "metrics"),
    **dict.fromkeys(("SETTINGS_KEYS", "retrieve_into"), "pipeline"),
    **dict.fromkeys(("RetrievalPlan", "RetrieverBuilder"), "plan"),
    **dict.fromkeys(("LabelOutcome", "LabelRequest", "RetrievalOutcome", "RetrievalRequest", "label", "retrieve"), "workflows"),
}

__all__ = [
    "Corpus", "CorpusError", "Hit", "LabelOutcome", "LabelRequest", "Passage", "Query", "RetrievalOutcome", "RetrievalPlan",
    "RetrievalRequest", "Retriever", "RetrieverBuilder", "SETTINGS_KEYS", "is_relevant", "label", "load_corpus",
    "make_retriever", "normalize_title", "retrieval_metrics", "retrieve", "retrieve_into",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_retriever(kind: str, corpus: Corpus, *, dense_model: str | None = None, device: str | None = None,
                   cache_dir: str | Path | None = None) -> Retriever:
    """The retriever ``--retriever kind`` names (parts without ``examples``) over ``corpus``."""
    from .plan import RetrievalPlan, RetrieverBuilder, parse_parts

    plan = RetrievalPlan(parse_parts(kind), dense_model=dense_model, device=device)
    return RetrieverBuilder(plan, corpus, cache_dir=cache_dir).build()
