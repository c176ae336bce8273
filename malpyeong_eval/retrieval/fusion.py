"""Several retrievers as one: reciprocal rank fusion, and a cross-encoder reranking a first stage.

:class:`FusedRetriever` asks each part for its top ``depth`` passages and scores a passage by
``sum(weight / (k_rrf + rank))`` over the parts that found it (Cormack et al., 2009, who use
``k_rrf`` = 60; here :data:`DEFAULT_RRF_K` = 10, which measured better on our labelled sample);
a part's hits of score 0 (filler, see :class:`.base.Retriever`) count for nothing. Rank fusion needs no calibration between a BM25 score, a classifier's decision value and
a cosine.

:class:`CrossEncoderReranker` rescores the first stage's top ``depth`` passages with a
sentence-transformers ``CrossEncoder`` on (query text, passage) pairs (the ``rerank`` extra).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from ..errors import MalpyeongError, ModelLoadError
from .base import Hit, Query, Retriever
from .corpus import Corpus
from .question import read_question

__all__ = ["DEFAULT_RRF_K", "CrossEncoderReranker", "FusedRetriever", "load_cross_encoder"]

DEFAULT_RRF_K = 10  # reciprocal rank fusion's k (see the module docstring)


class FusedRetriever:
    """Reciprocal rank fusion of ``parts`` (each with a weight), over their top ``depth`` passages."""

    def __init__(self, parts: Sequence[tuple[Retriever, float]], *, depth: int = 50, k_rrf: int = DEFAULT_RRF_K) -> None:
        self.parts = list(parts)
        self.depth = depth
        self.k_rrf = k_rrf
        self.name = "rrf(" + "+".join(
            part.name if weight == 1 else f"{part.name}:{weight:g}" for part, weight in self.parts
        ) + ")"

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by fused reciprocal rank, best first (ties: the first part's order)."""
        fused: list[dict[int, float]] = [defaultdict(float) for _ in queries]
        first_seen: list[dict[int, int]] = [{} for _ in queries]
        for part, weight in self.parts:
            if weight == 0:  # a part chosen out (plan's auto weight)
                continue
            for scores, order, hits in zip(fused, first_seen, part.search(queries, max(k, self.depth)), strict=True):
                for rank, (index, score) in enumerate(hits, start=1):
                    if score == 0:  # filler: the part found nothing better (see Retriever)
                        break
                    scores[index] += weight / (self.k_rrf + rank)
                    order.setdefault(index, len(order))
        return [
            sorted(scores.items(), key=lambda item: (-item[1], order[item[0]]))[:k]
            for scores, order in zip(fused, first_seen, strict=True)
        ]


def load_cross_encoder(model: str, device: str | None = None):
    """A sentence-transformers ``CrossEncoder``, or one line naming the model and ``--rerank``: a path that is
    not a model is refused before sentence-transformers loads, and what it warns while failing (it could not
    pin a Hub revision) is left out of the error's one line."""
    from ..metrics.loading import check_model

    check_model(model, "cross-encoder", "--rerank")
    try:
        from sentence_transformers import CrossEncoder
    except ImportError:
        raise MalpyeongError("--rerank needs sentence-transformers: pip install 'malpyeong-eval[rerank]'") from None
    with _held_warnings("sentence_transformers") as held:
        try:
            encoder = CrossEncoder(model, device=device)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cross-encoder {model!r} cannot be loaded (--rerank): {str(exc).splitlines()[0][:160]}") from None
    for record in held:  # it loaded: what it warned about still holds
        logging.getLogger(record.name).handle(record)
    return encoder


@contextmanager
def _held_warnings(logger_name: str) -> Iterator[list[logging.LogRecord]]:
    """The records ``logger_name`` logs inside the block, held back (not printed) in the list yielded."""
    held: list[logging.LogRecord] = []

    class Hold(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append(record)

    logger = logging.getLogger(logger_name)
    handler, propagate = Hold(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield held
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class CrossEncoderReranker:
    """A first stage's top ``depth`` passages rescored by a cross-encoder (query text, passage)."""

    def __init__(self, first_stage: Retriever, corpus: Corpus, model, model_name: str, *, depth: int = 20,
                 batch_size: int = 32) -> None:
        self.first_stage = first_stage
        self.corpus = corpus
        self._model = model
        self.depth = depth
        self.batch_size = batch_size
        self.name = f"{first_stage.name}>rerank:{model_name}"

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """The first stage's top ``max(k, depth)`` reordered by the cross-encoder's score, top ``k`` kept."""
        candidates = self.first_stage.search(queries, max(k, self.depth))
        pairs = [
            (read_question(query.question).query_text(), self.corpus.passages[index].render())
            for query, hits in zip(queries, candidates, strict=True) for index, _ in hits
        ]
        scores = iter(self._model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False).tolist()) if pairs else iter(())
        results = []
        for hits in candidates:
            rescored = [(index, float(next(scores))) for index, _ in hits]
            results.append(sorted(rescored, key=lambda hit: -hit[1])[:k])
        return results
