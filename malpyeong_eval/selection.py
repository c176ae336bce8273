"""Choosing one answer among several sampled for the same question: majority vote and minimum Bayes risk.

A rule (``--select``) is parsed once into a :class:`SelectionRule`:

- ``vote``: the candidate whose answer sentence is the most frequent. The sentence is the answer
  clause by the organizers' split (:func:`~malpyeong_eval.parsing.split_answer`), compared as Exact
  Match compares it (:func:`~malpyeong_eval.parsing.normalize_clause`: quotes deleted, stripped); an
  empty clause casts no vote. Ties go to the earliest candidate.
- ``mbr:METRIC[,METRIC…]`` (``rouge1``, ``bertscore``, ``bleurt``): the candidate whose reason has the
  highest *utility*: the mean of the metric of its reason (prediction) against each other
  candidate's reason (reference), self-pairs and empty reasons left out; with several metrics, the
  mean of their utilities. A candidate without a reason, or with no other reason to meet, has no
  utility and is chosen only when no candidate has one. Ties go to the earliest candidate.
- ``vote+mbr:METRIC[,…]``: the vote, then MBR among the candidates of the winning sentence(s)
  (their utilities still measured against every other candidate). So a tie of sentences, and the
  choice among the candidates of one sentence, go to the reason the others agree with most.

Utilities are computed by each metric's scorer for all the items' candidates at once
(``pair_matrices``, :mod:`malpyeong_eval.metrics.pairwise`): each reason analysed by Mecab once
(ROUGE-1), embedded once (BERTScore), every ordered pair cross-encoded in shared batches (BLEURT).
Means use :func:`math.fsum`, so equal sets of values tie exactly, whatever their order.

>>> rule = SelectionRule.parse("vote+mbr:bertscore, rouge1")
>>> rule.describe()
'vote+mbr:rouge1,bertscore'
>>> answers = ['"A"가 옳다. 이유 하나', '"B"가 옳다. 이유 둘', "'A'가 옳다. 이유 셋"]
>>> [candidate.votes for candidate in select(SelectionRule.parse("vote"), [answers])[0].candidates]
[2, 1, 2]
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import MalpyeongError
from .metrics.options import ScorerOptions
from .metrics.registry import REASON_METRICS, PairwiseScorer, spec
from .parsing import normalize_clause, split_answer

if TYPE_CHECKING:
    import numpy as np

SELECT_FLAG = "--select"
VOTE = "vote"
MBR_PREFIX = "mbr:"
RULE_FORMS = f"{VOTE}, {MBR_PREFIX}METRIC[,METRIC...] or {VOTE}+{MBR_PREFIX}METRIC[,METRIC...]"
# (metric, each item's candidate reasons) -> each item's pair matrix (:mod:`malpyeong_eval.metrics.pairwise`)
UtilityMatrices = Callable[[str, Sequence[Sequence[str]]], "list[np.ndarray]"]


def _rule_error(text: str, problem: str) -> MalpyeongError:
    return MalpyeongError(f"{SELECT_FLAG} {text!r}: {problem}; give {RULE_FORMS} (METRIC: {', '.join(REASON_METRICS)})")


def _mbr_metrics(text: str, mbr: str) -> tuple[str, ...]:
    """The metrics of ``mbr:METRIC[,METRIC…]`` (``""``: no MBR), refused unless each is a reason metric."""
    if not mbr:
        return ()
    if not mbr.startswith(MBR_PREFIX):
        problem = "no metric after 'mbr'" if mbr == MBR_PREFIX.rstrip(":") else f"unknown rule {mbr!r}"
        raise _rule_error(text, problem)
    names = [name for name in mbr[len(MBR_PREFIX):].split(",") if name]
    unknown = [name for name in names if name not in REASON_METRICS]
    if unknown or not names:
        raise _rule_error(text, f"unknown metric {unknown[0]!r}" if unknown else "no metric after 'mbr:'")
    return tuple(names)


@dataclass(frozen=True)
class SelectionRule:
    """How one candidate is chosen: by vote, by MBR over ``metrics`` (registry order), or both."""

    vote: bool = False
    metrics: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = [metric for metric in self.metrics if metric not in REASON_METRICS]
        if unknown or not (self.vote or self.metrics):
            raise _rule_error(self.describe(), f"unknown metric {unknown[0]!r}" if unknown else "no rule given")
        # one value for one rule: the metrics in registry order, each once
        object.__setattr__(self, "metrics", tuple(metric for metric in REASON_METRICS if metric in self.metrics))

    @classmethod
    def parse(cls, text: str) -> SelectionRule:
        """``vote``, ``mbr:rouge1,bertscore`` or ``vote+mbr:…`` (case and spaces ignored, metrics in any order).

        >>> SelectionRule.parse("MBR: bleurt,rouge1")
        SelectionRule(vote=False, metrics=('rouge1', 'bleurt'))
        """
        rule = "".join(text.split()).lower()
        head, plus, mbr = rule.partition("+")
        if plus and (head != VOTE or not mbr):
            raise _rule_error(text, f"unknown rule {head!r} before '+'" if head != VOTE else "no rule after '+'")
        vote = bool(plus) or rule == VOTE
        if not plus:
            mbr = "" if vote else rule
        if not vote and not mbr:
            raise _rule_error(text, "no rule given")
        return cls(vote=vote, metrics=_mbr_metrics(text, mbr))

    def describe(self) -> str:
        """The rule as ``--select`` takes it, in canonical form (equal rules, equal strings)."""
        mbr = f"{MBR_PREFIX}{','.join(self.metrics)}" if self.metrics else ""
        return "+".join(part for part in (VOTE if self.vote else "", mbr) if part)

    def utility_configs(self, options: ScorerOptions = ScorerOptions()) -> dict[str, str]:
        """Each utility metric's configuration string (computed without loading a model)."""
        return {metric: spec(metric).config(options) for metric in self.metrics}

    def config(self, options: ScorerOptions = ScorerOptions()) -> str:
        """The rule and its utilities' configurations, as one string to record with a run."""
        configs = self.utility_configs(options)
        return f"select({self.describe()}" + "".join(f";{config}" for config in configs.values()) + ")"


@dataclass(frozen=True)
class CandidateScore:
    """What the rule measured of one candidate.

    ``votes``: the candidates sharing its answer sentence, itself included (0: an empty clause);
    ``utilities``: its utility per MBR metric (empty where it has none: no MBR, no reason, no other
    reason); ``utility``: their mean, the value MBR compares (``None`` where ``utilities`` is empty).
    """

    votes: int
    utilities: Mapping[str, float]
    utility: float | None


@dataclass(frozen=True)
class Selection:
    """One item's choice: the index of the chosen candidate and what was measured of each."""

    chosen: int
    candidates: tuple[CandidateScore, ...]


def answer_sentence(answer: str) -> str:
    """What the vote counts: the answer clause as Exact Match compares it.

    >>> answer_sentence(' "우동이 불을 것 같다."가 옳다. 이유')
    '우동이 불을 것 같다.가 옳다'
    """
    return normalize_clause(split_answer(answer).clause)


def vote_counts(answers: Sequence[str]) -> list[int]:
    """For each answer, how many answers share its sentence (itself included; 0 for an empty clause)."""
    sentences = [answer_sentence(answer) for answer in answers]
    counts = Counter(sentence for sentence in sentences if sentence)
    return [counts[sentence] if sentence else 0 for sentence in sentences]


def row_means(matrix: np.ndarray) -> list[float | None]:
    """Each row's mean over its measured (non-NaN) pairs, by :func:`math.fsum`; ``None``: none measured."""
    means: list[float | None] = []
    for row in matrix.tolist():
        values = [value for value in row if not math.isnan(value)]
        means.append(math.fsum(values) / len(values) if values else None)
    return means


def choose(rule: SelectionRule, answers: Sequence[str], matrices: Mapping[str, np.ndarray]) -> Selection:
    """The rule's choice among ``answers``, given each MBR metric's pair matrix of their reasons
    (``[i, j]``: reason ``i`` against reason ``j``; NaN: not measured)."""
    if not answers:
        raise ValueError("no candidates to choose from")
    votes = vote_counts(answers)
    per_metric = {metric: row_means(matrices[metric]) for metric in rule.metrics}
    candidates = []
    for index, count in enumerate(votes):
        utilities = {metric: mean for metric, means in per_metric.items() if (mean := means[index]) is not None}
        candidates.append(CandidateScore(count, utilities, math.fsum(utilities.values()) / len(utilities) if utilities else None))
    pool: Sequence[int] = range(len(answers))
    if rule.vote and max(votes) > 0:
        pool = [index for index, count in enumerate(votes) if count == max(votes)]
    chosen = max(pool, key=lambda index: _rank(candidates[index], index)) if rule.metrics else min(pool)
    return Selection(chosen, tuple(candidates))


def _require_candidates(answer_sets: Sequence[Sequence[str]]) -> None:
    empty = next((index for index, answers in enumerate(answer_sets) if not answers), None)
    if empty is not None:
        raise ValueError(f"item {empty} has no candidates to choose from")


def _rank(candidate: CandidateScore, index: int) -> tuple[bool, float, int]:
    """MBR's order: a utility above none, a higher one first, then the earlier candidate."""
    return candidate.utility is not None, candidate.utility if candidate.utility is not None else 0.0, -index


def batched_utilities(options: ScorerOptions = ScorerOptions()) -> UtilityMatrices:
    """Utilities from the pooled scorers' ``pair_matrices`` (:func:`~malpyeong_eval.metrics.pool.shared_scorer`),
    in batches of ``options.batch_size``."""
    from .metrics.pool import shared_scorer

    def matrices(metric: str, reason_sets: Sequence[Sequence[str]]) -> list[np.ndarray]:
        scorer = shared_scorer(metric, options)
        if not isinstance(scorer, PairwiseScorer):
            raise TypeError(f"the {metric} scorer cannot score pairs of candidates")
        return scorer.pair_matrices(reason_sets, options.batch_size)

    return matrices


def reason_matrices(metric: str, reasons: Sequence[Sequence[str]], utilities: UtilityMatrices) -> list[np.ndarray]:
    """Each item's N×N matrix of ``metric`` between its candidates' reasons (``reasons[k]``: item ``k``'s,
    split from the answers once for every metric), computed on the non-empty reasons only; NaN on the
    diagonal and wherever either reason is empty."""
    import numpy as np

    kept = [[index for index, reason in enumerate(item) if reason] for item in reasons]
    computed = utilities(metric, [[item[index] for index in indices] for item, indices in zip(reasons, kept, strict=True)])
    matrices = []
    for item, indices, matrix in zip(reasons, kept, computed, strict=True):
        full = np.full((len(item), len(item)), np.nan)
        full[np.ix_(indices, indices)] = matrix
        matrices.append(full)
    return matrices


def select(
    rule: SelectionRule,
    answer_sets: Sequence[Sequence[str]],
    options: ScorerOptions = ScorerOptions(),
    utilities: UtilityMatrices | None = None,
) -> list[Selection]:
    """Choose one candidate answer per item by ``rule``: ``answer_sets[k]`` holds item ``k``'s
    candidates (whole answers). ``utilities``: how pair matrices are computed (default: the scorers'
    batched ``pair_matrices``, configured by ``options``)."""
    _require_candidates(answer_sets)
    compute = utilities or batched_utilities(options)
    reasons = [[split_answer(answer).reason for answer in answers] for answers in answer_sets] if rule.metrics else []
    by_metric = {metric: reason_matrices(metric, reasons, compute) for metric in rule.metrics}
    return [choose(rule, answers, {metric: matrices[index] for metric, matrices in by_metric.items()})
            for index, answers in enumerate(answer_sets)]
