"""Scoring a submission against gold items: per-item scores, overall and by question type.

The metrics, their order and their scorers come from the registry (:mod:`.metrics.registry`);
the scorers themselves from the per-process pool (:mod:`.metrics.pool`), so a model is loaded once
per configuration however many ContestScorers (or rewards) use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

from .citation import Choice
from .data import Item
from .metrics.aggregate import SCORING_RULES, summarize
from .metrics.options import ScorerOptions
from .metrics.pool import shared_scorer
from .metrics.registry import (
    ALIASES, CONTEXT_METRICS, DEFAULT_METRICS_TEXT, METRIC_SPECS, MetricSpec, Scorer, parse_metrics, spec, specs_of,
)
from .parsing import is_counted, split_answer

METRICS = ALIASES  # what --metrics takes: em, rouge1, bertscore, bleurt

__all__ = ["DEFAULT_METRICS_TEXT", "METRICS", "ContestScorer", "EvaluationResult", "ItemScore", "parse_metrics", "score"]


@dataclass
class ItemScore:
    """One item's prediction, its parts and its scores (``None``: metric not computed).

    The score fields are the registry's metrics (``METRIC_NAMES``), in its order, declared here so
    that type checkers see them; ``tests/test_registry.py`` checks that they equal the registry's.
    A new registry metric needs its field here too.
    """

    id: str
    question_type: str
    prediction: str
    answer_clause: str
    reason: str
    gold: str
    counted: bool  # both reasons non-empty: the item enters the reason metrics' means
    exact_match: float | None = None
    exact_match_lenient: float | None = None
    rouge1: float | None = None
    bertscore: float | None = None
    bleurt: float | None = None
    context_selection: float | None = None
    # the context the model named (citation.Choice): as written, its number and title; the item's
    # gold rule (output.article; None: it has none), which a citation is judged against
    citation: str | None = None
    cited: int | None = None
    cited_title: str | None = None
    gold_article: str | None = None


@dataclass
class EvaluationResult:
    """What ``score`` prints and writes: overall and per-type metrics, items, configuration.

    ``n_counted``: items that entered the reason metrics' means. ``n_selection``: items where
    selection accuracy is measured (a gold rule, candidates, a citing run). ``aligned_by_id``: the
    submission was not in the gold's order and was scored by id, which the organizers refuse.
    """

    n: int
    metrics: dict[str, float | None]
    by_type: dict[str, dict[str, float | None]]
    items: list[ItemScore]
    config: dict[str, Any] = field(default_factory=dict)
    n_counted: int = 0
    aligned_by_id: bool = False
    rules: str = SCORING_RULES
    n_selection: int = 0

    @property
    def official(self) -> bool:
        """Whether the organizers would have scored this submission as it is."""
        return not self.aligned_by_id

    @classmethod
    def from_items(cls, items: list[ItemScore], config: dict[str, Any], *, aligned_by_id: bool = False) -> EvaluationResult:
        """The result of scored items: overall and per question_type, the organizers' aggregation."""
        by_type = {}
        for question_type in sorted({item.question_type for item in items}):
            group = [item for item in items if item.question_type == question_type]
            by_type[question_type] = {"n": len(group), "n_counted": sum(item.counted for item in group),
                                      "n_selection": _measured(group), **summarize(asdict(item) for item in group)}
        return cls(n=len(items), metrics=summarize(asdict(item) for item in items), by_type=by_type, items=items,
                   config=config, n_counted=sum(item.counted for item in items), aligned_by_id=aligned_by_id,
                   n_selection=_measured(items))

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_counted": self.n_counted,
            "n_selection": self.n_selection,
            "rules": self.rules,
            "aligned_by_id": self.aligned_by_id,
            "official": self.official,
            "metrics": self.metrics,
            "by_type": self.by_type,
            "items": [asdict(item) for item in self.items],
            "config": self.config,
        }


class ContestScorer:
    """The scorers of the chosen metrics, taken from the pool (models loaded once, on first use),
    scoring many submissions.

    Building one loads nothing: each metric's configuration string is computed at once (which
    also checks its model folder), each scorer is taken from the pool when it first scores. So a
    run already recorded under this configuration never loads a model.

    >>> scorer = ContestScorer(metrics=("em", "rouge1"))
    >>> scorer.score_texts(['"가"가 옳다. 이유이다.'], ['"가"가 옳다. 이유이다.'])[0]["rouge1"]
    1.0
    """

    def __init__(self, metrics: str | Sequence[str] = METRICS, options: ScorerOptions = ScorerOptions()) -> None:
        """The metrics of ``metrics`` (``--metrics`` names), run as ``options`` say (models, device,
        batch size of the model-based scorers)."""
        self._use(specs_of(parse_metrics(metrics)), options)

    @classmethod
    def of(cls, names: Sequence[str], options: ScorerOptions = ScorerOptions()) -> ContestScorer:
        """A scorer of exactly the registry metrics ``names`` (``exact_match`` without the lenient
        twin that ``--metrics em`` adds): what a reward computes."""
        scorer = cls.__new__(cls)
        scorer._use(tuple(spec(name) for name in names), options)
        return scorer

    def _use(self, specs: Sequence[MetricSpec], options: ScorerOptions) -> None:
        self.specs, self.options = tuple(specs), options
        self.metrics = tuple(dict.fromkeys(metric.alias for metric in self.specs))  # their --metrics names
        self._configs = {metric.name: metric.config(options) for metric in self.specs}
        self._scorers: dict[str, Scorer] = {}

    def scorer(self, name: str) -> Scorer:
        """The loaded scorer of metric ``name``, taken from the pool (built there on first use)."""
        if name not in self._scorers:
            self._scorers[name] = shared_scorer(name, self.options)
        return self._scorers[name]

    def load(self) -> ContestScorer:
        """Load every scorer now (to fail early, or before timing); returns the scorer itself."""
        for metric in self.specs:
            self.scorer(metric.name)
        return self

    @property
    def config(self) -> dict[str, str]:
        """One configuration string per metric computed, each naming the scoring rules' version,
        plus the rules and the tool's version (a new dict each time)."""
        config = {"malpyeong_eval": version("malpyeong-eval"), "rules": SCORING_RULES}
        config.update({name: f"{text} rules={SCORING_RULES}" for name, text in self._configs.items()})
        return config

    def score_texts(
        self, references: Sequence[str], predictions: Sequence[str], *, counted_only: bool = False
    ) -> list[dict[str, float | None]]:
        """Per-item scores of full predicted answers against full gold answers (``references``).

        Each row says whether the item is ``counted`` (both reasons non-empty); the reason
        metrics are computed for every item, as diagnostics where it is not counted, unless
        ``counted_only`` (rewards: no model time on values nobody reads), which leaves them
        ``None`` there. Clause metrics score the full answers, reason metrics the reasons the
        organizers' split finds.
        """
        if len(predictions) != len(references):
            raise ValueError("predictions and references differ in length")
        gold_reasons = [split_answer(text).reason for text in references]
        reasons = [split_answer(text).reason for text in predictions]
        rows: list[dict[str, float | None]] = [
            {"counted": is_counted(gold_reason, reason)} for gold_reason, reason in zip(gold_reasons, reasons, strict=True)
        ]
        every = range(len(rows))
        scored = {"clause": every, "reason": [i for i in every if rows[i]["counted"]] if counted_only else every}
        texts = {"clause": (references, predictions), "reason": (gold_reasons, reasons)}
        for metric in self.specs:
            indices = scored[metric.part]
            golds, candidates = texts[metric.part]
            values = self.scorer(metric.name).score([golds[i] for i in indices], [candidates[i] for i in indices],
                                                  self.options.batch_size)
            for row in rows:
                row.setdefault(metric.name, None)
            for i, value in zip(indices, values, strict=True):
                rows[i][metric.name] = value
        return rows

    def evaluate(self, gold: Sequence[Item], predictions: Sequence[str], *, aligned_by_id: bool = False,
                 choices: Sequence[Choice] | None = None) -> EvaluationResult:
        """Score predicted answers against gold items: ``predictions[i]`` is the full answer for ``gold[i]``.

        A submission file's items are matched to the gold first (:func:`~malpyeong_eval.data.match_submission`);
        ``aligned_by_id`` marks a submission that had to be reordered to the gold's order.
        ``choices`` (one per item, :func:`malpyeong_eval.citation.choose`): the context each
        generation named; selection accuracy is measured on the items whose choice has a gold rule.
        Without them (a submission file, a run whose model was not asked to cite) it is not measured.
        """
        if len(predictions) != len(gold):
            raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold items")
        golds = [item.answer or "" for item in gold]
        rows = self.score_texts(golds, predictions)
        config = self.config
        if choices is not None:
            if len(choices) != len(gold):
                raise ValueError("one choice per item is needed")
            config.update(self._score_choices(choices, rows))
        items = []
        for index, (gold_item, prediction, row) in enumerate(zip(gold, predictions, rows, strict=True)):
            parsed = split_answer(prediction)
            choice = choices[index] if choices is not None else None
            scores: dict[str, Any] = {name: value for name, value in row.items() if name != "counted"}
            item = ItemScore(
                id=gold_item.id,
                question_type=gold_item.question_type,
                prediction=prediction,
                answer_clause=parsed.clause,
                reason=parsed.reason,
                gold=gold_item.answer or "",
                counted=bool(row["counted"]),
                gold_article=gold_item.article if gold_item.article and gold_item.article.strip() else None,
                **scores,
            )
            if choice is not None:
                item.citation, item.cited, item.cited_title = choice.citation, choice.number, choice.title
            items.append(item)
        return EvaluationResult.from_items(items, config, aligned_by_id=aligned_by_id)

    @staticmethod
    def _score_choices(choices: Sequence[Choice], rows: list[dict[str, Any]]) -> dict[str, str]:
        """Set each row's context metrics (``None`` where not measured); their configuration strings."""
        measured = [i for i, choice in enumerate(choices) if choice.measured]
        config = {}
        for metric_spec in (s for s in METRIC_SPECS if s.name in CONTEXT_METRICS):
            scorer = shared_scorer(metric_spec.name)
            values = scorer.score([choices[i].article or "" for i in measured], [choices[i].title or "" for i in measured])
            for row in rows:
                row[metric_spec.name] = None
            for i, value in zip(measured, values, strict=True):
                rows[i][metric_spec.name] = value
            config[metric_spec.name] = f"{scorer.config} rules={SCORING_RULES}"
        return config


def _measured(items: Sequence[Any]) -> int:
    """How many items selection accuracy is measured on."""
    return sum(getattr(item, name) is not None for item in items for name in CONTEXT_METRICS[:1])


def score(predictions: Sequence[str], references: Sequence[str], metrics: str | Sequence[str] = METRICS,
          options: ScorerOptions = ScorerOptions()) -> dict[str, float | None]:
    """One-off scoring, the front door (bert_score's ``score()``; :class:`ContestScorer` keeps its
    models for many calls): the organizers' table of full predicted answers against full gold
    answers, every metric column (``None``: not computed) and ``n_counted``, the items the reason
    metrics average over.

    >>> table = score(['"가"가 옳다. 이유이다.', '"나"가 옳다.'], ['"가"가 옳다. 이유이다.'] * 2, metrics="em,rouge1")
    >>> table["exact_match"], table["rouge1"], table["n_counted"]
    (0.5, 1.0, 1)
    """
    rows = ContestScorer(metrics, options).score_texts(list(references), list(predictions))
    return {**summarize(rows), "n_counted": sum(bool(row["counted"]) for row in rows)}
