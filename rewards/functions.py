"""The contest metrics as GRPO reward functions, following TRL's protocol.

Each reward is called as ``reward(completions, **kwargs) -> list[float | None]``
(kwargs: the dataset's columns, and TRL's ``log_metric``); the gold answer is the
column ``answer`` (the full official answer string) unless ``gold_column`` says
otherwise. No metric is computed here: every value comes from ``malpyeong_eval``.
A malformed completion scores 0.0; an item without a gold string gets ``None``.

The reason metrics (ROUGE-1, BERTScore, BLEURT, and the reason part of the contest reward)
give 0.0 to a completion the organizers would not count: one without a reason after
``가 옳다`` / ``이 옳다`` (or whose gold has none). The organizers' mean skips such items
instead; a reward that skipped them would make leaving out the reason attractive.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from malpyeong_eval.evaluation import ContestScorer
from malpyeong_eval.metrics.aggregate import DESCRIPTIVE
from malpyeong_eval.parsing import FormatVerdict, check_format

from .completions import completion_text, gold_texts

MetricLogger = Callable[[str, float], None]

FORMAT_CREDIT = {
    FormatVerdict.OK: 1.0,  # the organizers' split finds 가/이 옳다 and a non-empty reason
    FormatVerdict.NO_REASON: 0.6,  # "문장"가 옳다.   (nothing after it: the reason metrics would skip it)
    FormatVerdict.LOOSE_CLAUSE_END: 0.4,  # only 가옳다 / 가\u00a0옳다: the organizers find no clause end
    FormatVerdict.NO_CLAUSE_END: 0.0,  # no 가/이 옳다: only the pieces below earn credit
    FormatVerdict.EMPTY: 0.0,
}
# Without any clause end, each piece of the format that is there earns this much (at most 0.3 together).
PIECE_CREDIT = 0.1
_PIECES = (
    re.compile(r'^\s*"'),  # opens with a quote
    re.compile(r'"[^"\n]+"'),  # holds a quoted sentence
    re.compile(r"옳다"),  # says 옳다
)


class Reward:
    """Base of the reward callables: completion parsing, gold lookup, logging.

    Subclasses implement :meth:`score` on valid texts and their golds.
    """

    needs_gold = True

    def __init__(self, name: str, *, gold_column: str = "answer") -> None:
        self.__name__ = name
        self.gold_column = gold_column

    def score(self, texts: list[str], golds: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        """Rewards of valid texts against their golds; ``log_metric`` (TRL's) takes sub-metrics."""
        raise NotImplementedError

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        texts = [completion_text(completion) for completion in completions]
        golds = gold_texts(kwargs, self.gold_column, len(texts)) if self.needs_gold else [""] * len(texts)
        rewards: list[float | None] = [0.0 if text is None else None for text in texts]
        todo = [i for i, (text, gold) in enumerate(zip(texts, golds)) if text is not None and gold is not None]
        log_metric: MetricLogger | None = kwargs.get("log_metric")
        if todo:
            values = self.score([texts[i] for i in todo], [golds[i] for i in todo], log_metric)
            for index, value in zip(todo, values):
                rewards[index] = value
        if log_metric is not None and texts:
            log_metric(f"{self.__name__}/malformed", sum(text is None for text in texts) / len(texts))
        return rewards


class FormatReward(Reward):
    """1.0 exactly when the organizers' split finds ``가 옳다``/``이 옳다`` and a non-empty reason;
    partial credit for near misses so GRPO has signal early.

    ``FORMAT_CREDIT`` by verdict: no reason 0.6, only a reader's ``가옳다``/``가\u00a0옳다`` 0.4;
    without either, 0.1 for each piece present (an opening quote, a quoted sentence, 옳다). How the
    clause is quoted is left to the Exact Match reward.

    >>> format_reward(['"밥을 먹었다."가 옳다. 과거 시제이다.', '"밥을 먹었다."가 옳다.', '"밥을 먹었다."가옳다. 이유', '"밥을 먹었다." 설명', '설명만 있다.'])
    [1.0, 0.6, 0.4, 0.2, 0.0]
    """

    needs_gold = False

    def __init__(self, credit: Mapping[FormatVerdict, float] | None = None) -> None:
        super().__init__("format_reward")
        self.credit = dict(credit or FORMAT_CREDIT)

    def score(self, texts: list[str], golds: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        return [self._credit(text) for text in texts]

    def _credit(self, text: str) -> float:
        verdict = check_format(text)
        if verdict is FormatVerdict.NO_CLAUSE_END:
            return self.credit[verdict] + PIECE_CREDIT * sum(bool(piece.search(text)) for piece in _PIECES)
        return self.credit[verdict]


class MetricReward(Reward):
    """One contest metric per completion against its gold, through :class:`ContestScorer`.

    ``clip`` keeps model-based scores in [0, 1] (BLEURT can leave it slightly). A reason metric
    gives 0.0 where the item is not counted (no reason in the completion or the gold).
    """

    def __init__(self, metric: str, name: str, *, gold_column: str = "answer", clip: bool = True, **scorer: Any) -> None:
        super().__init__(name, gold_column=gold_column)
        self.key = {"em": "exact_match"}.get(metric, metric)
        self.clip = clip
        self.scorer = ContestScorer([metric], **scorer)

    def score(self, texts: list[str], golds: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        rows = self.scorer.score_texts(texts, golds)
        values = [row[self.key] if row["counted"] or self.key not in DESCRIPTIVE else 0.0 for row in rows]
        return [min(1.0, max(0.0, value)) for value in values] if self.clip else values


class ExactMatchReward(MetricReward):
    """1.0 when the answer clause equals the gold's (the contest's default rule).

    >>> exact_match_reward(['"우동이 불을 것 같다."가 옳다. 이유.'], answer=['"우동이 불을 것 같다."가 옳다. 다른 이유.'])
    [1.0]
    """

    def __init__(self, *, gold_column: str = "answer") -> None:
        super().__init__("em", "exact_match_reward", gold_column=gold_column)


class Rouge1Reward(MetricReward):
    """ROUGE-1 F1 of the reason against the gold reason (the organizers' Mecab algorithm); 0.0 without a reason.

    >>> rouge1_reward(['"가"가 옳다. 어간이 바뀐다.', '"가"가 옳다.'], answer=['"가"가 옳다. 어간이 바뀐다.'] * 2)
    [1.0, 0.0]
    """

    def __init__(self, *, gold_column: str = "answer") -> None:
        super().__init__("rouge1", "rouge1_reward", gold_column=gold_column)


class BertScoreReward(MetricReward):
    """BERTScore F1 of the reason; keeps one BERT loaded and reference embeddings cached across steps."""

    def __init__(self, model: str | None = None, num_layers: int | None = None, device: str | None = None,
                 batch_size: int = 64, *, gold_column: str = "answer", clip: bool = True) -> None:
        super().__init__("bertscore", "bertscore_reward", gold_column=gold_column, clip=clip, bertscore_model=model,
                         bertscore_layers=num_layers, device=device, batch_size=batch_size)


class BleurtReward(MetricReward):
    """BLEURT of the reason (candidate) against the gold reason; one checkpoint kept loaded."""

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 32, *,
                 gold_column: str = "answer", clip: bool = True) -> None:
        super().__init__("bleurt", "bleurt_reward", gold_column=gold_column, clip=clip, bleurt_model=model,
                         device=device, batch_size=batch_size)


class ContestReward(Reward):
    """The item-level analogue of Final Score: ``em_weight·EM + (1 − em_weight)·(weighted mean of the reasons' metrics)``.

    Defaults (``em_weight=0.5``, equal weights) give exactly (EM + Descriptive Avg) / 2 per item,
    with the reason part 0.0 where the item is not counted (no reason): the organizers' mean would
    skip the item, a reward must not make skipping the reason pay.
    ``metrics`` chooses the descriptive metrics; pass loaded scorers in ``scorers`` to share
    them with other rewards (e.g. ``{"bertscore": bertscore_reward.scorer.bertscore}``).

    >>> contest = ContestReward(metrics=("em", "rouge1"))
    >>> contest(['"가"가 옳다. 어간이 바뀐다.'], answer=['"가"가 옳다. 어간이 바뀐다.'])
    [1.0]
    """

    def __init__(
        self,
        metrics: Sequence[str] = ("em", "rouge1", "bertscore", "bleurt"),
        *,
        em_weight: float = 0.5,
        weights: Mapping[str, float] | None = None,
        gold_column: str = "answer",
        clip: bool = True,
        scorers: Mapping[str, Any] | None = None,
        **scorer_options: Any,
    ) -> None:
        super().__init__("contest_reward", gold_column=gold_column)
        self.scorer = ContestScorer(metrics, scorers=dict(scorers or {}), **scorer_options)
        self.descriptive = [name for name in DESCRIPTIVE if name in self.scorer.metrics]
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.descriptive}
        unknown = set(weights or {}) - set(self.descriptive)
        if unknown:
            raise ValueError(f"weights for metrics not chosen: {sorted(unknown)}")
        self.em_weight = em_weight if "em" in self.scorer.metrics else 0.0
        if not self.descriptive:
            self.em_weight = 1.0
        self.clip = clip

    def score(self, texts: list[str], golds: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        rows = self.scorer.score_texts(texts, golds)
        total = sum(self.weights.values())
        values = []
        for row in rows:
            parts = {name: row[name] if row["counted"] else 0.0 for name in self.descriptive}
            if self.clip:
                parts = {name: min(1.0, max(0.0, value)) for name, value in parts.items()}
            descriptive = sum(self.weights[name] * parts[name] for name in parts) / total if total else 0.0
            values.append(self.em_weight * (row.get("exact_match") or 0.0) + (1 - self.em_weight) * descriptive)
        if log_metric is not None and rows:
            counted = [row for row in rows if row["counted"]]
            log_metric("contest/counted", len(counted) / len(rows))
            if "exact_match" in rows[0]:
                log_metric("contest/exact_match", sum(row["exact_match"] for row in rows) / len(rows))
            for key in self.descriptive:  # as the organizers average: over counted items
                log_metric(f"contest/{key}", sum(row[key] for row in counted) / len(counted) if counted else 0.0)
        return values


format_reward = FormatReward()
exact_match_reward = ExactMatchReward()
rouge1_reward = Rouge1Reward()
