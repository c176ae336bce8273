"""The contest metrics as GRPO reward functions, following TRL's protocol.

Each reward is called as ``reward(completions, **kwargs) -> list[float | None]``
(kwargs: the dataset's columns, and TRL's ``log_metric`` and ``log_extra``); the gold answer is
the column ``answer`` (the full official answer string) unless ``gold_column`` says otherwise.
No metric is computed here: every value comes from ``malpyeong_eval``. A malformed completion
scores 0.0; an item without a gold string gets ``None``.

One way to build each reward:

- :func:`format_reward` and :func:`context_reward` are plain functions (they need no model);
- :class:`MetricReward` is one registry metric (``MetricReward("bertscore", options)``;
  :data:`exact_match_reward` and :data:`rouge1_reward` are two of them, ready made);
- :class:`ContestReward` is the item-level Final Score over chosen metrics.

Every reward scores a completion as ``malpyeong-eval run`` records it: ``clean_output`` strips
a leading ``답변:`` and surrounding whitespace first, so training and evaluation see one text.
Each reward computes only its own metric (a ``MetricReward("exact_match")`` does not compute
lenient EM; ``ContestReward`` only the metrics in Final it was given).

The reason metrics (ROUGE-1, BERTScore, BLEURT, and the reason part of the contest reward)
give 0.0 to a completion the organizers would not count: one without a reason after
``가 옳다`` / ``이 옳다`` (or whose gold has none). The organizers' mean skips such items
instead; a reward that skipped them would make leaving out the reason attractive.

Logging each completion's answer clause and reason to TRL's completions table is asked of one
reward, the first: :func:`PartsLogging` wraps it (the trainer does this), so the columns are
logged once per batch however many rewards run, with no state shared between rewards.

Rewards hold only their configuration (a :class:`~malpyeong_eval.metrics.options.ScorerOptions`):
importing this module and constructing a reward load nothing. A reward's scorers are taken on
its first call (or ``.load()``) from the core's per-process pool
(:mod:`malpyeong_eval.metrics.pool`), so rewards of one model identity share one loaded model,
with each other and with any ContestScorer of the process. A reward pickles without its loaded
scorers (TRL's async trainer, worker processes) and takes them from the pool again, or loads
them, where it is unpickled.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from malpyeong_eval.citation import choose, split_citation
from malpyeong_eval.evaluation import ContestScorer
from malpyeong_eval.metrics.aggregate import summarize
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import ALIASES, parse_metrics, spec, specs_of
from malpyeong_eval.parsing import FormatVerdict, check_format, split_answer
from malpyeong_eval.prompts import clean_output

from .completions import completion_text, gold_texts

MetricLogger = Callable[[str, float], None]
ExtraLogger = Callable[[str, list], None]
RewardFunction = Callable[..., "list[float | None]"]

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
EXTRA_COLUMNS = ("answer_clause", "reason")  # what PartsLogging logs per completion through ``log_extra``


def _cleaned(completions: Sequence[Any]) -> list[str | None]:
    """Each completion's text as ``run`` records it (``None``: malformed)."""
    texts = [completion_text(completion) for completion in completions]
    return [None if text is None else clean_output(text) for text in texts]


def _scored(name: str, completions: Sequence[Any], kwargs: Mapping[str, Any], gold_column: str | None,
            score: Callable[[list[str], list[str]], list[float]]) -> list[float | None]:
    """The reward of each completion: 0.0 malformed, ``None`` without a gold string, else ``score``'s
    value on the (gold, cleaned text) pairs; logs the malformed share through TRL's ``log_metric``."""
    texts = _cleaned(completions)
    golds = gold_texts(kwargs, gold_column, len(texts)) if gold_column else [""] * len(texts)
    rewards: list[float | None] = [0.0 if text is None else None for text in texts]
    todo = [i for i, (text, gold) in enumerate(zip(texts, golds, strict=True)) if text is not None and gold is not None]
    if todo:
        values = score([golds[i] or "" for i in todo], [texts[i] or "" for i in todo])
        for index, value in zip(todo, values, strict=True):
            rewards[index] = value
    log_metric: MetricLogger | None = kwargs.get("log_metric")
    if log_metric is not None and texts:
        log_metric(f"{name}/malformed", sum(text is None for text in texts) / len(texts))
    return rewards


def _format_credit(text: str) -> float:
    verdict = check_format(text)
    if verdict is FormatVerdict.NO_CLAUSE_END:
        return FORMAT_CREDIT[verdict] + PIECE_CREDIT * sum(bool(piece.search(text)) for piece in _PIECES)
    return FORMAT_CREDIT[verdict]


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 exactly when the organizers' split finds ``가 옳다``/``이 옳다`` and a non-empty reason;
    partial credit for near misses so GRPO has signal early.

    ``FORMAT_CREDIT`` by verdict: no reason 0.6, only a reader's ``가옳다``/``가\u00a0옳다`` 0.4;
    without either, 0.1 for each piece present (an opening quote, a quoted sentence, 옳다). How the
    clause is quoted is left to the Exact Match reward. Needs no gold.

    >>> format_reward(['"밥을 먹었다."가 옳다. 과거 시제이다.', '"밥을 먹었다."가 옳다.', '"밥을 먹었다."가옳다. 이유', '"밥을 먹었다." 설명', '설명만 있다.'])
    [1.0, 0.6, 0.4, 0.2, 0.0]
    """
    return _scored("format_reward", completions, kwargs, None, lambda golds, texts: [_format_credit(t) for t in texts])


class _ScoringReward:
    """What the two metric-based rewards share: a name, a gold column, their options, and a
    ContestScorer built on first use (never pickled)."""

    def __init__(self, name: str, names: Sequence[str], options: ScorerOptions, gold_column: str, clip: bool) -> None:
        self.__name__ = name
        self.names, self.options, self.gold_column, self.clip = tuple(names), options, gold_column, clip
        self._scorer: ContestScorer | None = None

    @property
    def scorer(self) -> ContestScorer:
        """The ContestScorer of exactly this reward's metrics (its scorers from the pool, loaded on first use)."""
        if self._scorer is None:
            self._scorer = ContestScorer.of(self.names, self.options)
        return self._scorer

    def load(self) -> _ScoringReward:
        """Load the reward's scorers now (e.g. to fail early on a missing model); returns the reward."""
        self.scorer.load()
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scorer"] = None  # loaded models stay out of the pickle
        return state

    def _clipped(self, value: float) -> float:
        return min(1.0, max(0.0, value)) if self.clip else value


class MetricReward(_ScoringReward):
    """One registry metric (``exact_match``, ``rouge1``, ``bertscore``, ``bleurt``, ...) per completion
    against its gold; named ``<metric>_reward``.

    ``options`` (:class:`ScorerOptions`): the model, layer, device and batch size of a model-based
    metric. ``clip`` keeps model-based scores in [0, 1] (BLEURT can leave it slightly). A reason
    metric gives 0.0 where the item is not counted (no reason in the completion or the gold).

    >>> MetricReward("exact_match")(['"우동이 불을 것 같다."가 옳다. 이유.'], answer=['"우동이 불을 것 같다."가 옳다. 다른 이유.'])
    [1.0]
    >>> rouge1_reward(['"가"가 옳다. 어간이 바뀐다.', '"가"가 옳다.'], answer=['"가"가 옳다. 어간이 바뀐다.'] * 2)
    [1.0, 0.0]
    """

    def __init__(self, metric: str, options: ScorerOptions = ScorerOptions(), *, gold_column: str = "answer",
                 clip: bool = True) -> None:
        metric_spec = spec(metric)
        super().__init__(f"{metric_spec.name}_reward", [metric_spec.name], options, gold_column, clip)
        self.metric, self.reason_part = metric_spec.name, metric_spec.part == "reason"

    @classmethod
    def of_alias(cls, alias: str, options: ScorerOptions = ScorerOptions()) -> MetricReward:
        """The reward of a ``--metrics`` name (``em``, ``rouge1``, ``bertscore``, ``bleurt``): its metric in
        Final (``em`` → strict Exact Match)."""
        (name,) = [metric_spec.name for metric_spec in specs_of(parse_metrics([alias])) if metric_spec.in_final]
        return cls(name, options)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return _scored(self.__name__, completions, kwargs, self.gold_column, self._score)

    def _score(self, golds: list[str], texts: list[str]) -> list[float]:
        rows = self.scorer.score_texts(golds, texts, counted_only=True)
        return [self._clipped(_value(row, self.metric)) if row["counted"] or not self.reason_part else 0.0
                for row in rows]


class ContestReward(_ScoringReward):
    """The item-level analogue of Final Score: ``em_weight·EM + (1 − em_weight)·(weighted mean of the reasons' metrics)``.

    Defaults (``em_weight=0.5``, equal weights) give exactly (EM + Descriptive Avg) / 2 per item,
    with the reason part 0.0 where the item is not counted (no reason): the organizers' mean would
    skip the item, a reward must not make skipping the reason pay.
    ``metrics`` (``--metrics`` names, default all) chooses the metrics; only their scorers are ever
    loaded (``("em", "rouge1")`` loads no model), run as ``options`` say. With TRL's ``log_metric``
    it logs the organizers' means of the batch (``contest/<metric>``) and the counted share.

    >>> contest = ContestReward(metrics=("em", "rouge1"))
    >>> contest(['"가"가 옳다. 어간이 바뀐다.'], answer=['"가"가 옳다. 어간이 바뀐다.'])
    [1.0]
    """

    def __init__(
        self,
        metrics: str | Sequence[str] = ALIASES,
        options: ScorerOptions = ScorerOptions(),
        *,
        em_weight: float = 0.5,
        weights: Mapping[str, float] | None = None,
        gold_column: str = "answer",
        clip: bool = True,
    ) -> None:
        chosen = [metric_spec for metric_spec in specs_of(parse_metrics(metrics)) if metric_spec.in_final]
        super().__init__("contest_reward", [metric_spec.name for metric_spec in chosen], options, gold_column, clip)
        self.clause = [metric_spec.name for metric_spec in chosen if metric_spec.part == "clause"]  # exact_match
        self.descriptive = [metric_spec.name for metric_spec in chosen if metric_spec.part == "reason"]
        unknown = set(weights or {}) - set(self.descriptive)
        if unknown:
            raise ValueError(f"weights for metrics not chosen: {sorted(unknown)}")
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.descriptive}
        self.em_weight = 1.0 if not self.descriptive else em_weight if self.clause else 0.0

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        log_metric: MetricLogger | None = kwargs.get("log_metric")
        return _scored(self.__name__, completions, kwargs, self.gold_column,
                       lambda golds, texts: self._score(golds, texts, log_metric))

    def _score(self, golds: list[str], texts: list[str], log_metric: MetricLogger | None) -> list[float]:
        rows = self.scorer.score_texts(golds, texts, counted_only=True)
        total = sum(self.weights.values())
        values = []
        for row in rows:
            clause = sum(_value(row, name) for name in self.clause) / len(self.clause) if self.clause else 0.0
            parts = {name: self._clipped(_value(row, name)) if row["counted"] else 0.0 for name in self.descriptive}
            descriptive = sum(self.weights[name] * parts[name] for name in parts) / total if total else 0.0
            values.append(self.em_weight * clause + (1 - self.em_weight) * descriptive)
        if log_metric is not None and rows:
            table = summarize(rows)  # the organizers' means: EM over all, the reason metrics over counted items
            log_metric("contest/counted", sum(bool(row["counted"]) for row in rows) / len(rows))
            for key in (*self.clause, *self.descriptive):
                # None only when no item is counted (reason metrics scored nowhere): the organizers' 0
                mean = table[key]
                log_metric(f"contest/{key}", 0.0 if mean is None else mean)
        return values


def _value(row: Mapping[str, float | None], key: str) -> float:
    """A metric's value in a row of ``score_texts``: computed wherever a reward reads it."""
    value = row[key]
    if value is None:
        raise ValueError(f"{key} was not computed for this completion")
    return value


def context_reward(completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
    """1.0 when the completion names the gold rule among the item's candidates (``근거: [N]``, or
    ``근거: <title>``), 0.0 when it names another, none, or a number out of range; ``None`` (TRL
    leaves it out) for an item without a gold rule or without candidates.

    Reads two dataset columns: ``candidates`` (the candidates' titles, in the prompt's order) and
    ``article`` (the gold rule), matched as retrieval recall matches
    (:func:`malpyeong_eval.citation.choose`). The completion is read raw (its citation line is what
    ``clean_output`` strips); the first citation line counts. A malformed completion scores 0.0
    (or ``None`` where the item is not measured); it never raises. With TRL's ``log_metric`` it
    logs ``context/cited``, the share of measured completions with a citation line.

    >>> context_reward(['근거: [2]\\n"가"가 옳다. 이유.', "근거: [1]\\n답", "답"], candidates=[["<가 제1항>", "<나 제2항>"]] * 3,
    ...                article=["나 제2항"] * 3)
    [1.0, 0.0, 0.0]
    """
    count = len(completions)
    candidates, articles = _column(kwargs, "candidates", count), _column(kwargs, "article", count)
    rewards: list[float | None] = []
    cited = measured = 0
    for completion, titles, article in zip(completions, candidates, articles, strict=True):
        titles = titles if isinstance(titles, list) and all(isinstance(t, str) for t in titles) else []
        text = completion_text(completion)
        reference = None if text is None else split_citation(text.strip()).reference
        choice = choose(reference, titles, article if isinstance(article, str) else None)
        if not choice.measured:
            rewards.append(None)
            continue
        measured += 1
        cited += reference is not None
        rewards.append(1.0 if choice.correct else 0.0)
    log_metric: MetricLogger | None = kwargs.get("log_metric")
    if log_metric is not None and measured:
        log_metric("context/cited", cited / measured)
    return rewards


def _column(kwargs: Mapping[str, Any], column: str, count: int) -> list[Any]:
    """A dataset column's values; a missing column, or one of another length, is a clear error."""
    values = kwargs.get(column)
    if values is None:
        raise KeyError(f"the context reward needs the dataset column {column!r}; columns given: {sorted(kwargs)}")
    values = list(values)
    if len(values) != count:
        raise ValueError(f"column {column!r} has {len(values)} values for {count} completions")
    return values


class PartsLogging:
    """``reward`` that also logs each completion's answer clause and reason (``answer_clause``,
    ``reason``; ``None`` for a malformed completion) through TRL's ``log_extra``, before scoring.

    The trainer wraps its first reward: TRL appends a column's values on every call, so exactly
    one reward may log them. Keeps the reward's ``__name__``; pickles with it.

    >>> seen = {}
    >>> PartsLogging(format_reward)(['"가"가 옳다. 이유.'], log_extra=seen.__setitem__)
    [1.0]
    >>> seen
    {'answer_clause': ['"가"가 옳다'], 'reason': ['이유.']}
    """

    def __init__(self, reward: RewardFunction) -> None:
        self.reward = reward
        self.__name__ = getattr(reward, "__name__", type(reward).__name__)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        log_extra: ExtraLogger | None = kwargs.get("log_extra")
        if log_extra is not None and completions:
            parts = [None if text is None else split_answer(text) for text in _cleaned(completions)]
            clause_column, reason_column = EXTRA_COLUMNS
            log_extra(clause_column, [None if part is None else part.clause for part in parts])
            log_extra(reason_column, [None if part is None else part.reason for part in parts])
        return self.reward(completions, **kwargs)


exact_match_reward = MetricReward("exact_match")
rouge1_reward = MetricReward("rouge1")
