"""Which retriever ``retrieve`` builds: one frozen :class:`RetrievalPlan`, parsed from ``--retriever``,
``--fusion`` and ``--proposals``.

``--retriever`` names the parts, comma-separated, each optionally weighted (``name:weight``):

- ``bm25`` — BM25 over Mecab morphemes of the passages; ``bm25-char`` — over character n-grams;
- ``examples`` — a linear classifier from labelled questions to their rule (needs examples);
- ``category`` — the probability of each passage's norm category given the question, learned
  from labelled questions and the question's own evidence (:mod:`.category`; needs examples);
- ``dense`` — a sentence-transformers bi-encoder (``--dense-model``; the ``dense`` extra).

``--fusion`` says how the parts become one ranking:

- ``rrf`` — reciprocal rank fusion (:class:`.fusion.FusedRetriever`), each part weighted. A weight
  may be ``auto``: the builder chooses it from :data:`AUTO_WEIGHTS` by an inner
  :data:`AUTO_FOLDS`-fold cross-validation over the examples it is given (recall@5, then MRR; the
  smaller weight on a tie; 0 leaves the part out). The chosen weight is part of the retriever's
  name (``rrf(bm25-mecab+bm25-char+examples:4)``).
- ``learned`` — weights of every part's score, the category probability and their interactions
  with the question type, learned from the examples (:class:`.learned.LearnedFusion`); the
  retriever is named ``learned(bm25-mecab+...)``. Weights in ``--retriever`` have no place here.

``--proposals kiwi`` lets Kiwi propose a correction of each 교정형 question's sentence, read as an
``{original/proposal}`` alternative by every part (:mod:`.proposals`; the ``kiwi`` extra).
``--rerank MODEL`` puts a cross-encoder over the result (its top ``--rerank-depth``).

Only the examples given are learned from, so inside an outer cross-validation fold nothing sees the
fold's own items. The defaults are what measured best on our labelled sample without leakage
(docs/rag.md, "Measured"): :data:`DEFAULT_PARTS` fused by RRF without examples;
:data:`DEFAULT_PARTS_WITH_EXAMPLES` fused by :data:`DEFAULT_FUSION_WITH_EXAMPLES` with them
(with ``--fusion rrf``: :data:`DEFAULT_RRF_PARTS_WITH_EXAMPLES`); RRF's k is :data:`.fusion.DEFAULT_RRF_K`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import MalpyeongError
from .base import Hit, Query, Retriever
from .corpus import Corpus
from .examples import CrossFitted, Example, ExamplesRetriever
from .fusion import DEFAULT_RRF_K

if TYPE_CHECKING:
    from .proposals import Proposer

__all__ = [
    "AUTO", "DEFAULT_FUSION_WITH_EXAMPLES", "DEFAULT_PARTS", "DEFAULT_PARTS_WITH_EXAMPLES", "DEFAULT_RRF_PARTS_WITH_EXAMPLES",
    "FUSIONS", "LEARNED_PARTS", "PART_NAMES", "PROPOSERS", "RetrievalPlan", "RetrieverBuilder", "deal_folds", "parse_parts",
]

PART_NAMES = ("bm25", "bm25-char", "examples", "category", "dense")
LEARNED_PARTS = ("examples", "category")  # the parts that learn from labelled examples
FUSIONS = ("rrf", "learned")
PROPOSERS = ("kiwi",)
DEFAULT_PARTS = "bm25,bm25-char"
DEFAULT_PARTS_WITH_EXAMPLES = "bm25,bm25-char,examples,category"
DEFAULT_RRF_PARTS_WITH_EXAMPLES = "bm25,bm25-char,examples:auto"
DEFAULT_FUSION_WITH_EXAMPLES = "learned"
AUTO = -1.0  # the weight of a part written name:auto (a weight given is positive)
AUTO_WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # 0: the part is left out
AUTO_FOLDS = 3
Part = TypeVar("Part")


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
    """Everything that decides the retriever: its parts, how they are fused, their models and depths.

    ``parts`` and ``fusion`` ``None`` are the defaults for what is given (:meth:`resolved`).
    """

    parts: tuple[tuple[str, float], ...] | None = None
    fusion: str | None = None
    proposals: str | None = None
    dense_model: str | None = None
    rerank_model: str | None = None
    rerank_depth: int = 20
    rrf_k: int = DEFAULT_RRF_K
    device: str | None = None

    def __post_init__(self) -> None:
        if self.fusion is not None and self.fusion not in FUSIONS:
            raise MalpyeongError(f"--fusion: unknown fusion {self.fusion!r} (choose from {', '.join(FUSIONS)})")
        if self.proposals is not None and self.proposals not in PROPOSERS:
            raise MalpyeongError(f"--proposals: unknown proposer {self.proposals!r} (choose from {', '.join(PROPOSERS)})")
        weighted = [f"{name}:{weight:g}" for name, weight in self.parts or () if weight not in (1.0, AUTO)]
        if self.fusion == "learned" and weighted:
            raise MalpyeongError(f"--retriever: the weights are learned under --fusion learned (drop the weight of {weighted[0]})")

    @classmethod
    def parse(cls, spec: str | None, **settings) -> RetrievalPlan:
        """The plan ``--retriever spec`` names (``None``: the default), with the other settings as given."""
        return cls(None if spec is None else parse_parts(spec), **settings)

    def resolved(self, learns: bool) -> RetrievalPlan:
        """This plan with its default fusion and parts filled in (``learns``: labelled examples are given).

        The fusion defaults to :data:`DEFAULT_FUSION_WITH_EXAMPLES` where examples are given and the
        parts (given or default) are two or more, one of them learned, none weighted; else to ``rrf``.
        """
        fusion = self.fusion
        if fusion is None:
            parts = self.parts
            fused = parts is None or (len(parts) > 1 and all(weight == 1.0 for _, weight in parts)
                                      and any(name in LEARNED_PARTS for name, _ in parts))
            fusion = DEFAULT_FUSION_WITH_EXAMPLES if learns and fused else "rrf"
        if self.parts is not None:
            return replace(self, fusion=fusion)
        spec = DEFAULT_PARTS if not learns else DEFAULT_PARTS_WITH_EXAMPLES if fusion == "learned" else DEFAULT_RRF_PARTS_WITH_EXAMPLES
        return replace(self, parts=parse_parts(spec), fusion=fusion)

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.parts or ())

    @property
    def learns(self) -> bool:
        """Whether anything in the plan learns from labelled examples (a part, or the fusion)."""
        return any(name in LEARNED_PARTS for name in self.part_names) or self.fusion == "learned"


class _Cached:
    """A part that learns nothing, its hits for each question searched once (at the corpus's full depth)."""

    def __init__(self, part: Retriever, size: int) -> None:
        self.part, self.name, self.size = part, part.name, size
        self._hits: dict[Query, list[Hit]] = {}

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        missing = [query for query in dict.fromkeys(queries) if query not in self._hits]
        for query, hits in zip(missing, self.part.search(missing, self.size), strict=True):
            self._hits[query] = hits
        return [self._hits[query][:k] for query in queries]


class RetrieverBuilder:
    """Builds a plan's retriever over one corpus; the parts that learn nothing are built once and
    search each question once (cross-validation builds only the learned parts and the fusion anew
    for each fold)."""

    def __init__(self, plan: RetrievalPlan, corpus: Corpus, *, cache_dir: str | Path | None = None) -> None:
        self.plan = plan
        self.corpus = corpus
        self.cache_dir = cache_dir
        self._fixed: dict[str, Retriever] = {}
        self._cross_encoder: object | None = None
        self._proposer: Proposer | None = None

    def _part(self, name: str, examples: Sequence[Example]) -> Retriever:
        if name == "examples":
            return ExamplesRetriever(self.corpus, examples)
        if name == "category":
            from .category import CategoryRetriever

            return CategoryRetriever(self.corpus, examples)
        if name not in self._fixed:
            self._fixed[name] = _Cached(self._fixed_part(name), len(self.corpus))
        return self._fixed[name]

    def _fixed_part(self, name: str) -> Retriever:
        if name in ("bm25", "bm25-char"):
            from .bm25 import BM25Retriever

            return BM25Retriever(self.corpus, tokenizer="char" if name == "bm25-char" else "mecab", cache_dir=self.cache_dir)
        from .dense import DEFAULT_DENSE_MODEL, DenseRetriever

        return DenseRetriever(self.corpus, self.plan.dense_model or DEFAULT_DENSE_MODEL, device=self.plan.device)

    @property
    def proposer(self) -> Proposer | None:
        """The plan's proposer (loaded once), or ``None``."""
        if self.plan.proposals and self._proposer is None:
            from .proposals import KiwiProposer

            self._proposer = KiwiProposer()
        return self._proposer

    def build(self, examples: Sequence[Example] = ()) -> Retriever:
        """The plan's retriever, learning from ``examples`` where it has a learned part or fusion."""
        plan = self.plan.resolved(bool(examples))
        proposer = self.proposer
        if proposer is not None:
            examples = [proposer.example(example) for example in examples]
        retriever = self._fuse(plan, [(self._part(name, examples), weight) for name, weight in plan.parts or ()], examples)
        if plan.rerank_model:
            from .fusion import CrossEncoderReranker, load_cross_encoder

            if self._cross_encoder is None:
                self._cross_encoder = load_cross_encoder(plan.rerank_model, plan.device)
            retriever = CrossEncoderReranker(retriever, self.corpus, self._cross_encoder, plan.rerank_model, depth=plan.rerank_depth)
        if proposer is not None:
            from .proposals import ProposingRetriever

            retriever = ProposingRetriever(retriever, proposer)
        return retriever

    def _fuse(self, plan: RetrievalPlan, parts: list[tuple[Retriever, float]], examples: Sequence[Example]) -> Retriever:
        if plan.fusion == "learned":
            from .learned import LearnedFusion

            return LearnedFusion([part for part, _ in parts], self.corpus, examples)
        from .fusion import FusedRetriever

        if any(weight == AUTO for _, weight in parts):
            parts = self._choose_weights(parts, examples)
        return parts[0][0] if len(parts) == 1 else FusedRetriever(parts, k_rrf=plan.rrf_k)

    def _choose_weights(self, parts: list[tuple[Retriever, float]], examples: Sequence[Example]) -> list[tuple[Retriever, float]]:
        """``auto`` weights chosen by an inner cross-validation over ``examples`` (see the module docstring)."""
        from .fusion import FusedRetriever

        if len(parts) == 1 or len(examples) < 2 * AUTO_FOLDS:
            return [(part, 1.0 if weight == AUTO else weight) for part, weight in parts]
        # with the question type, as the items are asked: the fixed parts' cache then holds one search per question
        queries = [Query(example.question, example.id, example.question_type) for example in examples]
        gold = [set(self.corpus.passages_for(example.label)) for example in examples]
        folds = deal_folds(len(examples), AUTO_FOLDS, 0)
        depth = 50
        # the other parts' hits: a fixed part's are the same for any examples, a learned part's are cross-fitted
        fixed_hits = {id(part): part.search(queries, depth) for part, _ in parts if not isinstance(part, ExamplesRetriever)}
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

    def learned_part(self, retriever: Retriever, kind: type[Part] = CrossFitted) -> Part | None:  # type: ignore[assignment]
        """The first part of type ``kind`` inside ``retriever`` (any learned part, by default), if it has one."""
        if isinstance(retriever, kind):
            return retriever
        for inner in _inner_retrievers(retriever):
            found = self.learned_part(inner, kind)
            if found is not None:
                return found
        return None

    def _asked(self, queries: Sequence[Query]) -> Sequence[Query]:
        """``queries`` as the learned parts see them (with the proposer's alternatives, where there is one)."""
        return [self._proposer.query(query) for query in queries] if self._proposer is not None else queries

    def self_excluded(self, retriever: Retriever, queries: Sequence[Query]) -> int:
        """How many ``queries`` are among the examples ``retriever`` learned from (each left out of its own)."""
        part = self.learned_part(retriever)
        return 0 if part is None else sum(1 for query in self._asked(queries) if part.own_rows(query))

    def category_probabilities(self, retriever: Retriever, queries: Sequence[Query]) -> list[dict[str, float]] | None:
        """Each query's norm-category probabilities from ``retriever``'s category part (``None``: it has none)."""
        from .category import CategoryRetriever

        part = self.learned_part(retriever, CategoryRetriever)
        return None if part is None else part.probabilities(self._asked(queries))


def _inner_retrievers(retriever: Retriever) -> list[Retriever]:
    """The retrievers ``retriever`` is made of (its fused parts, its first stage, the one it proposes for)."""
    for attribute in ("parts", "first_stage", "inner"):
        value = getattr(retriever, attribute, None)
        if isinstance(value, list):
            return [part[0] if isinstance(part, tuple) else part for part in value]
        if value is not None:
            return [value]
    return []
