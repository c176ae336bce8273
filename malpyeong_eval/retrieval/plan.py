"""Which retriever ``retrieve`` builds: one frozen :class:`RetrievalPlan`, parsed from ``--retriever``.

``--retriever`` names the parts, comma-separated, each optionally weighted (``name:weight``); two
or more parts are fused by reciprocal rank (:class:`.fusion.FusedRetriever`):

- ``bm25`` — BM25 over Mecab morphemes of the passages; ``bm25-char`` — over character n-grams;
- ``examples`` — a linear classifier from labelled questions to their rule (needs ``--examples``);
- ``dense`` — a sentence-transformers bi-encoder (``--dense-model``; the ``dense`` extra).

``--rerank MODEL`` puts a cross-encoder over the result (its top ``--rerank-depth``).

A weight may be ``auto`` (the default for ``examples`` beside other parts): how much a learned
part should count against the lexical ones depends on the data — on how much the labelled
questions say and how well the corpus's words match the questions — so the builder chooses it from
:data:`AUTO_WEIGHTS` by an inner :data:`AUTO_FOLDS`-fold cross-validation over the examples it is
given (recall@5, then MRR; the smaller weight on a tie); 0 is among them, so a part that does
not help on the examples is left out. Only those examples are used, so inside an
outer cross-validation fold the choice never sees the fold's own items. The chosen weight is part
of the retriever's name (``rrf(bm25-mecab+bm25-char+examples:4)``).

The defaults are what measured best on our labelled sample without leakage (README, "Evaluating
a RAG pipeline"): :data:`DEFAULT_PARTS` without examples, :data:`DEFAULT_PARTS_WITH_EXAMPLES`
with them, fused with :data:`.fusion.DEFAULT_RRF_K`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import MalpyeongError
from .base import Hit, Query, Retriever
from .corpus import Corpus
from .examples import Example, ExamplesRetriever
from .fusion import DEFAULT_RRF_K

__all__ = [
    "AUTO", "DEFAULT_PARTS", "DEFAULT_PARTS_WITH_EXAMPLES", "PART_NAMES", "RetrievalPlan", "RetrieverBuilder", "deal_folds",
    "parse_parts",
]

PART_NAMES = ("bm25", "bm25-char", "examples", "dense")
DEFAULT_PARTS = "bm25,bm25-char"
DEFAULT_PARTS_WITH_EXAMPLES = "bm25,bm25-char,examples:auto"
AUTO = -1.0  # the weight of a part written name:auto (a weight given is positive)
AUTO_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # 0: the part is left out
AUTO_FOLDS = 3


def deal_folds(count: int, k: int, seed: int) -> list[int]:
    """The fold of each of ``count`` items: positions shuffled by ``random.Random(seed)``, dealt round-robin."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    fold = [0] * count
    for position, index in enumerate(order):
        fold[index] = position % k
    return fold


def parse_parts(spec: str) -> tuple[tuple[str, float], ...]:
    """``"bm25,examples:2"`` → ``(("bm25", 1.0), ("examples", 2.0))``; one line naming a bad part.

    >>> parse_parts("bm25-char, examples:2")
    (('bm25-char', 1.0), ('examples', 2.0))
    >>> parse_parts("bm25,examples:auto")[1] == ("examples", AUTO)
    True
    """
    parts: list[tuple[str, float]] = []
    for raw in spec.split(","):
        name, _, weight_text = raw.strip().partition(":")
        if name not in PART_NAMES:
            raise MalpyeongError(f"--retriever: unknown part {name!r} (choose from {', '.join(PART_NAMES)}; join parts with ',')")
        try:
            weight = AUTO if weight_text == "auto" else float(weight_text) if weight_text else 1.0
        except ValueError:
            weight = math.nan
        if weight_text != "auto" and (not math.isfinite(weight) or weight <= 0):
            raise MalpyeongError(f"--retriever: the weight of {name!r} must be a positive number or auto, got {weight_text!r}")
        if any(name == seen for seen, _ in parts):
            raise MalpyeongError(f"--retriever: {name!r} is named twice")
        parts.append((name, weight))
    return tuple(parts)


@dataclass(frozen=True)
class RetrievalPlan:
    """Everything that decides the retriever: its parts, their models and depths.

    ``parts`` ``None`` is the default for what is given (:meth:`resolved`): :data:`DEFAULT_PARTS`,
    or :data:`DEFAULT_PARTS_WITH_EXAMPLES` where the retriever learns from labelled examples.
    """

    parts: tuple[tuple[str, float], ...] | None = None
    dense_model: str | None = None
    rerank_model: str | None = None
    rerank_depth: int = 20
    rrf_k: int = DEFAULT_RRF_K
    device: str | None = None

    @classmethod
    def parse(cls, spec: str | None, **settings) -> RetrievalPlan:
        """The plan ``--retriever spec`` names (``None``: the default), with the other settings as given."""
        return cls(None if spec is None else parse_parts(spec), **settings)

    def resolved(self, learns: bool) -> RetrievalPlan:
        """This plan with its default parts filled in (``learns``: examples are given)."""
        if self.parts is not None:
            return self
        return replace(self, parts=parse_parts(DEFAULT_PARTS_WITH_EXAMPLES if learns else DEFAULT_PARTS))

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parts or ())

    @property
    def uses_examples(self) -> bool:
        return "examples" in self.part_names


class RetrieverBuilder:
    """Builds a plan's retriever over one corpus; the parts that learn nothing are built once and reused
    (cross-validation builds only the examples part anew for each fold)."""

    def __init__(self, plan: RetrievalPlan, corpus: Corpus, *, cache_dir: str | Path | None = None) -> None:
        self.plan = plan
        self.corpus = corpus
        self.cache_dir = cache_dir
        self._fixed: dict[str, Retriever] = {}
        self._cross_encoder: object | None = None
        self._hits: dict[str, dict[Query, list[Hit]]] = {}

    def _part(self, name: str, examples: Sequence[Example]) -> Retriever:
        if name == "examples":
            return ExamplesRetriever(self.corpus, examples)
        if name not in self._fixed:
            if name in ("bm25", "bm25-char"):
                from .bm25 import BM25Retriever

                self._fixed[name] = BM25Retriever(
                    self.corpus, tokenizer="char" if name == "bm25-char" else "mecab", cache_dir=self.cache_dir
                )
            else:
                from .dense import DEFAULT_DENSE_MODEL, DenseRetriever

                self._fixed[name] = DenseRetriever(self.corpus, self.plan.dense_model or DEFAULT_DENSE_MODEL, device=self.plan.device)
        return self._fixed[name]

    def build(self, examples: Sequence[Example] = ()) -> Retriever:
        """The plan's retriever, learning from ``examples`` where it has an ``examples`` part."""
        from .fusion import CrossEncoderReranker, FusedRetriever, load_cross_encoder

        parts = [(self._part(name, examples), weight) for name, weight in self.plan.resolved(bool(examples)).parts or ()]
        if any(weight == AUTO for _, weight in parts):
            parts = self._choose_weights(parts, examples)
        retriever: Retriever = parts[0][0] if len(parts) == 1 else FusedRetriever(parts, k_rrf=self.plan.rrf_k)
        if self.plan.rerank_model:
            if self._cross_encoder is None:
                self._cross_encoder = load_cross_encoder(self.plan.rerank_model, self.plan.device)
            retriever = CrossEncoderReranker(
                retriever, self.corpus, self._cross_encoder, self.plan.rerank_model, depth=self.plan.rerank_depth
            )
        return retriever

    def _cached_search(self, part: Retriever, queries: list[Query], depth: int) -> list[list[Hit]]:
        """A fixed part's hits for ``queries`` (they do not depend on the examples): each question searched once."""
        cache = self._hits.setdefault(part.name, {})
        missing = [query for query in dict.fromkeys(queries) if query not in cache]
        for query, hits in zip(missing, part.search(missing, depth), strict=True):
            cache[query] = hits
        return [cache[query] for query in queries]

    def _choose_weights(self, parts: list[tuple[Retriever, float]], examples: Sequence[Example]) -> list[tuple[Retriever, float]]:
        """``auto`` weights chosen by an inner cross-validation over ``examples`` (see the module docstring)."""
        from .fusion import FusedRetriever

        if len(parts) == 1 or len(examples) < 2 * AUTO_FOLDS:
            return [(part, 1.0 if weight == AUTO else weight) for part, weight in parts]
        queries = [Query(example.question, example.id) for example in examples]
        gold = [set(self.corpus.passages_for(example.label)) for example in examples]
        folds = deal_folds(len(examples), AUTO_FOLDS, 0)
        depth = 50
        fixed_hits = {id(part): self._cached_search(part, queries, depth) for part, _ in parts if not isinstance(part, ExamplesRetriever)}
        learned_hits: list[list[Hit]] = [[] for _ in queries]
        for fold in range(AUTO_FOLDS):
            inner = ExamplesRetriever(self.corpus, [e for e, f in zip(examples, folds, strict=True) if f != fold])
            members = [i for i, f in enumerate(folds) if f == fold]
            for i, hits in zip(members, inner.search([queries[i] for i in members], depth), strict=True):
                learned_hits[i] = hits

        class Given:
            def __init__(self, name: str, hits: list[list[Hit]]) -> None:
                self.name, self.hits = name, hits

            def search(self, _queries: Sequence[Query], k: int) -> list[list[Hit]]:
                return [found[:k] for found in self.hits]

        def score(weights: tuple[float, ...]) -> tuple[float, float]:
            given = [
                (Given(part.name, learned_hits if isinstance(part, ExamplesRetriever) else fixed_hits[id(part)]), weight)
                for (part, _), weight in zip(parts, weights, strict=True)
            ]
            ranks = []
            for relevant, hits in zip(gold, FusedRetriever(given, depth=depth, k_rrf=self.plan.rrf_k).search(queries, depth), strict=True):
                ranks.append(next((rank for rank, (index, _) in enumerate(hits, start=1) if index in relevant), None))
            return (sum(1 for rank in ranks if rank is not None and rank <= 5) / len(ranks),
                    sum(1 / rank for rank in ranks if rank is not None) / len(ranks))

        choices = [tuple(candidate if weight == AUTO else weight for _, weight in parts) for candidate in AUTO_WEIGHTS]
        best = max(choices, key=lambda weights: (score(weights), -sum(weights)))
        return [(part, weight) for (part, _), weight in zip(parts, best, strict=True)]

    def examples_part(self, retriever: Retriever) -> ExamplesRetriever | None:
        """The examples part inside ``retriever``, if it has one (for its leakage count)."""
        from .fusion import CrossEncoderReranker, FusedRetriever

        if isinstance(retriever, CrossEncoderReranker):
            return self.examples_part(retriever.first_stage)
        if isinstance(retriever, FusedRetriever):
            return next((part for part, _ in retriever.parts if isinstance(part, ExamplesRetriever)), None)
        return retriever if isinstance(retriever, ExamplesRetriever) else None
