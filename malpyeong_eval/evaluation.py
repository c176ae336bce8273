"""Scoring a submission against gold items: per-item scores, overall and by question type."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from typing import Any

from .data import Item
from .errors import MalpyeongError
from .metrics.aggregate import SCORING_RULES, summarize
from .metrics.exact_match import CONFIG as EM_CONFIG
from .metrics.exact_match import CONFIG_LENIENT as EM_LENIENT_CONFIG
from .metrics.exact_match import exact_match, exact_match_lenient
from .parsing import is_counted, split_answer

METRICS = ("em", "rouge1", "bertscore", "bleurt")


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"em,rouge1"`` → ``("em", "rouge1")`` in canonical order; unknown names are refused."""
    names = [name.strip().lower() for name in (text.split(",") if isinstance(text, str) else text) if name.strip()]
    unknown = [name for name in names if name not in METRICS]
    if unknown or not names:
        problem = f"unknown metric {unknown[0]!r}" if unknown else "no metric given"
        raise MalpyeongError(f"{problem}; choose from {','.join(METRICS)}")
    return tuple(name for name in METRICS if name in names)


@dataclass
class ItemScore:
    """One item's prediction, its parts and its scores (``None``: metric not computed)."""

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


@dataclass
class EvaluationResult:
    """What ``score`` prints and writes: overall and per-type metrics, items, configuration.

    ``n_counted``: items that entered the reason metrics' means. ``aligned_by_id``: the
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
                                      **summarize(asdict(item) for item in group)}
        return cls(n=len(items), metrics=summarize(asdict(item) for item in items), by_type=by_type, items=items,
                   config=config, n_counted=sum(item.counted for item in items), aligned_by_id=aligned_by_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_counted": self.n_counted,
            "rules": self.rules,
            "aligned_by_id": self.aligned_by_id,
            "official": self.official,
            "metrics": self.metrics,
            "by_type": self.by_type,
            "items": [asdict(item) for item in self.items],
            "config": self.config,
        }


class ContestScorer:
    """Holds the scorers of the chosen metrics (models loaded once) and scores many submissions.

    >>> scorer = ContestScorer(metrics=("em", "rouge1"))
    >>> scorer.score_texts(['"가"가 옳다. 이유이다.'], ['"가"가 옳다. 이유이다.'])[0]["rouge1"]
    1.0
    """

    def __init__(
        self,
        metrics: Sequence[str] = METRICS,
        *,
        bertscore_model: str | None = None,
        bertscore_layers: int | None = None,
        bleurt_model: str | None = None,
        device: str | None = None,
        batch_size: int | None = None,
        scorers: dict[str, Any] | None = None,
    ) -> None:
        """Load the scorers of ``metrics``; ``scorers`` passes ready ones (``rouge1``, ``bertscore``,
        ``bleurt``) to share a loaded model, e.g. between reward functions."""
        self.metrics = parse_metrics(metrics)
        given = scorers or {}
        self.rouge1 = self.bertscore = self.bleurt = None
        if "rouge1" in self.metrics:
            from .metrics.rouge import Rouge1Scorer

            self.rouge1 = given.get("rouge1") or Rouge1Scorer()
        if "bertscore" in self.metrics:
            from .metrics.bertscore import BertScoreScorer

            self.bertscore = given.get("bertscore") or BertScoreScorer(
                bertscore_model, bertscore_layers, device, batch_size or 64
            )
        if "bleurt" in self.metrics:
            from .metrics.bleurt import BleurtScorer

            self.bleurt = given.get("bleurt") or BleurtScorer(bleurt_model, device, batch_size or 32)

    @property
    def config(self) -> dict[str, str]:
        """One configuration string per metric computed, each naming the scoring rules' version,
        plus the rules and the tool's version."""
        config = {"malpyeong_eval": version("malpyeong-eval"), "rules": SCORING_RULES}
        metric_configs = {}
        if "em" in self.metrics:
            metric_configs.update(exact_match=EM_CONFIG, exact_match_lenient=EM_LENIENT_CONFIG)
        for name in ("rouge1", "bertscore", "bleurt"):
            scorer = getattr(self, name)
            if scorer is not None:
                metric_configs[name] = scorer.config
        config.update({name: f"{text} rules={SCORING_RULES}" for name, text in metric_configs.items()})
        return config

    def score_texts(self, predictions: Sequence[str], golds: Sequence[str]) -> list[dict[str, float | None]]:
        """Per-item scores of full predicted answers against full gold answers.

        Each row says whether the item is ``counted`` (both reasons non-empty); the reason
        metrics are computed for every item, as diagnostics where it is not counted.
        """
        if len(predictions) != len(golds):
            raise ValueError("predictions and golds differ in length")
        reasons = [split_answer(text).reason for text in predictions]
        gold_reasons = [split_answer(text).reason for text in golds]
        rows: list[dict[str, float | None]] = [
            {"counted": is_counted(gold_reason, reason)} for gold_reason, reason in zip(gold_reasons, reasons)
        ]
        if "em" in self.metrics:
            for row, prediction, gold in zip(rows, predictions, golds):
                row["exact_match"] = exact_match(prediction, gold)
                row["exact_match_lenient"] = exact_match_lenient(prediction, gold)
        for name in ("rouge1", "bertscore", "bleurt"):
            scorer = getattr(self, name)
            if scorer is None:
                continue
            values = (
                scorer.score_batch(gold_reasons, reasons) if name == "rouge1" else scorer.score(gold_reasons, reasons)
            )
            for row, value in zip(rows, values):
                row[name] = value
        return rows

    def evaluate(self, gold: Sequence[Item], submission: Sequence[Item], *, aligned_by_id: bool = False) -> EvaluationResult:
        """Score submission items against gold items of the same ids, in the same order.

        ``aligned_by_id`` marks a submission that had to be reordered to the gold's order.
        """
        if [item.id for item in gold] != [item.id for item in submission]:
            raise ValueError("submission is not aligned with gold; use data.match_submission first")
        predictions = [item.answer or "" for item in submission]
        golds = [item.answer or "" for item in gold]
        rows = self.score_texts(predictions, golds)
        items = []
        for gold_item, prediction, row in zip(gold, predictions, rows):
            parsed = split_answer(prediction)
            items.append(
                ItemScore(
                    id=gold_item.id,
                    question_type=gold_item.question_type,
                    prediction=prediction,
                    answer_clause=parsed.clause,
                    reason=parsed.reason,
                    gold=gold_item.answer or "",
                    **row,
                )
            )
        return EvaluationResult.from_items(items, self.config, aligned_by_id=aligned_by_id)
