"""The contest metrics as GRPO reward functions, following TRL's protocol.

Each reward is called as ``reward(completions, **kwargs) -> list[float | None]``
(kwargs: the dataset's columns, and TRL's ``log_metric`` and ``log_extra``); the gold answer is
the column ``answer`` (the full official answer string) unless ``gold_column`` says otherwise.
No metric is computed here: every value comes from ``malpyeong_eval``. A malformed completion
scores 0.0; an item without a gold string gets ``None``.

Every reward scores a completion as ``malpyeong-eval run`` records it: ``clean_output`` strips
a leading ``답변:`` and surrounding whitespace first, so training and evaluation see one text.

The reason metrics (ROUGE-1, BERTScore, BLEURT, and the reason part of the contest reward)
give 0.0 to a completion the organizers would not count: one without a reason after
``가 옳다`` / ``이 옳다`` (or whose gold has none). The organizers' mean skips such items
instead; a reward that skipped them would make leaving out the reason attractive.

:data:`context_reward` (:class:`ContextReward`) rewards choosing the gold context: it reads the
completion's ``근거: [N]`` line and the dataset columns ``candidates`` and ``article``.

The metric rewards are named from the metric registry (``<metric>_reward``:
``exact_match_reward``, ``rouge1_reward``, ``bertscore_reward``, ``bleurt_reward``);
:func:`metric_reward` builds the reward of a ``--metrics`` name.

Rewards hold only their configuration: importing this module and constructing a reward load
nothing. A reward's scorers are built on its first call (or ``.scorer`` / ``.load()``) and
come from the core's per-process pool (:mod:`malpyeong_eval.metrics.pool`), so rewards with the
same configuration share one loaded model, with each other and with any ContestScorer of the
process. A reward pickles without its loaded scorers (TRL's async trainer, worker processes) and
takes them from the pool again, or loads them, where it is unpickled.
"""

from __future__ import annotations

import re
import threading
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from malpyeong_eval.citation import choose, split_citation
from malpyeong_eval.evaluation import ContestScorer
from malpyeong_eval.metrics.aggregate import summarize
from malpyeong_eval.metrics.registry import ALIASES, check_options, parse_metrics, spec, specs_of
from malpyeong_eval.parsing import FormatVerdict, check_format, split_answer
from malpyeong_eval.prompts import clean_output

from .completions import completion_text, gold_texts

MetricLogger = Callable[[str, float], None]
ExtraLogger = Callable[[str, list], None]

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
EXTRA_COLUMNS = ("answer_clause", "reason")  # what rewards log per completion through ``log_extra``


class _PartsLog:
    """Logs each batch's answer clauses and reasons through ``log_extra`` once, whichever rewards run.

    TRL hands every reward function of one step the same ``completions`` list and the same
    ``log_extra``; the first reward called logs, the others find the batch already logged (TRL
    appends a column's values per call, so a second reward logging would double the column).
    Only the last batch is remembered: the completions list, and the logger weakly where it can be.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch: Any = None
        self._logger: tuple[Callable[[], Any], Any] | None = None

    @staticmethod
    def _identity(log_extra: Any) -> tuple[Callable[[], Any], Any]:
        # a bound method is made afresh on each attribute access: identify it by its object and function
        owner, func = getattr(log_extra, "__self__", None), getattr(log_extra, "__func__", None)
        if owner is None or isinstance(owner, types.ModuleType):  # a plain or builtin function
            subject, extra = log_extra, None
        else:
            subject, extra = owner, func if func is not None else getattr(log_extra, "__name__", None)
        try:
            return weakref.ref(subject), extra
        except TypeError:
            return (lambda: subject), extra

    def __call__(self, log_extra: ExtraLogger, completions: Any, texts: list[str | None]) -> None:
        ref, extra = self._identity(log_extra)
        with self._lock:
            if self._batch is completions and self._logger is not None:
                known_ref, known_extra = self._logger
                if known_ref() is ref() and known_extra == extra:
                    return
            self._batch, self._logger = completions, (ref, extra)
        parts = [None if text is None else split_answer(text) for text in texts]  # None: malformed
        clause_column, reason_column = EXTRA_COLUMNS
        log_extra(clause_column, [None if part is None else part.clause for part in parts])
        log_extra(reason_column, [None if part is None else part.reason for part in parts])


_log_parts = _PartsLog()


class Reward:
    """Base of the reward callables: completion parsing and clean-up, gold lookup, logging.

    Subclasses implement :meth:`score` on the golds and the valid (cleaned) texts. With TRL's
    ``log_extra``, the clause and reason of each completion go to the completions table as
    ``answer_clause`` and ``reason``, once per batch however many rewards run
    (``log_parts = False`` on a reward keeps it from logging them).
    """

    needs_gold = True
    log_parts = True

    def __init__(self, name: str, *, gold_column: str = "answer") -> None:
        self.__name__ = name
        self.gold_column = gold_column

    def score(self, golds: list[str], texts: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        """Rewards of valid texts against their golds (references first, as every scorer);
        ``log_metric`` (TRL's) takes sub-metrics."""
        raise NotImplementedError

    def load(self) -> Reward:
        """Load whatever the reward scores with now (e.g. to fail early on a missing model); returns it."""
        return self

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        texts = [completion_text(completion) for completion in completions]
        texts = [None if text is None else clean_output(text) for text in texts]  # as `run` records it
        golds = gold_texts(kwargs, self.gold_column, len(texts)) if self.needs_gold else [""] * len(texts)
        rewards: list[float | None] = [0.0 if text is None else None for text in texts]
        todo = [i for i, (text, gold) in enumerate(zip(texts, golds, strict=True)) if text is not None and gold is not None]
        log_metric: MetricLogger | None = kwargs.get("log_metric")
        log_extra: ExtraLogger | None = kwargs.get("log_extra")
        if todo:
            values = self.score([golds[i] or "" for i in todo], [texts[i] or "" for i in todo], log_metric)  # none is None
            for index, value in zip(todo, values, strict=True):
                rewards[index] = value
        if log_metric is not None and texts:
            log_metric(f"{self.__name__}/malformed", sum(text is None for text in texts) / len(texts))
        if log_extra is not None and self.log_parts and texts:
            _log_parts(log_extra, completions, texts)
        return rewards


class ScorerReward(Reward):
    """A reward scored through a :class:`ContestScorer` of ``metrics``, built lazily.

    The reward keeps its configuration (``metrics``, ContestScorer's ``scorer_options``); the
    ContestScorer is built on first use, takes its loaded scorers from the core's pool (shared with
    every reward and scorer of the same configuration), and is never pickled.
    """

    def __init__(self, name: str, metrics: str | Sequence[str], *, gold_column: str = "answer",
                 **scorer_options: Any) -> None:
        super().__init__(name, gold_column=gold_column)
        check_options(scorer_options)
        self.metrics = parse_metrics(metrics)
        self.scorer_options = dict(scorer_options)
        self._scorer: ContestScorer | None = None

    @property
    def scorer(self) -> ContestScorer:
        """The ContestScorer of this reward, its scorers taken from the pool (loaded on first use)."""
        if self._scorer is None:
            self._scorer = ContestScorer(self.metrics, **self.scorer_options)
        return self._scorer

    def load(self) -> ScorerReward:
        _ = self.scorer
        return self

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_scorer"] = None  # loaded models stay out of the pickle
        return state


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

    def score(self, golds: list[str], texts: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        return [self._credit(text) for text in texts]

    def _credit(self, text: str) -> float:
        verdict = check_format(text)
        if verdict is FormatVerdict.NO_CLAUSE_END:
            return self.credit[verdict] + PIECE_CREDIT * sum(bool(piece.search(text)) for piece in _PIECES)
        return self.credit[verdict]


class MetricReward(ScorerReward):
    """One registry metric (``exact_match``, ``rouge1``, ...) per completion against its gold, through
    :class:`ContestScorer`; named ``<metric>_reward`` unless ``name`` says otherwise.

    ``clip`` keeps model-based scores in [0, 1] (BLEURT can leave it slightly). A reason metric
    gives 0.0 where the item is not counted (no reason in the completion or the gold).
    ``scorer_options`` are ContestScorer's (``bertscore_model``, ``device``, ...).
    """

    def __init__(self, metric: str, name: str | None = None, *, gold_column: str = "answer", clip: bool = True,
                 **scorer_options: Any) -> None:
        metric_spec = spec(metric)
        super().__init__(name or f"{metric_spec.name}_reward", [metric_spec.alias], gold_column=gold_column,
                         **scorer_options)
        self.key = metric_spec.name
        self.reason_part = metric_spec.part == "reason"
        self.clip = clip

    def score(self, golds: list[str], texts: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        rows = self.scorer.score_texts(golds, texts, counted_only=True)
        values = [_score(row, self.key) if row["counted"] or not self.reason_part else 0.0 for row in rows]
        return [min(1.0, max(0.0, value)) for value in values] if self.clip else values


class ExactMatchReward(MetricReward):
    """1.0 when the answer clause equals the gold's (the contest's default rule).

    >>> exact_match_reward(['"우동이 불을 것 같다."가 옳다. 이유.'], answer=['"우동이 불을 것 같다."가 옳다. 다른 이유.'])
    [1.0]
    """

    def __init__(self, *, gold_column: str = "answer") -> None:
        super().__init__("exact_match", gold_column=gold_column)


class Rouge1Reward(MetricReward):
    """ROUGE-1 F1 of the reason against the gold reason (the organizers' Mecab algorithm); 0.0 without a reason.

    >>> rouge1_reward(['"가"가 옳다. 어간이 바뀐다.', '"가"가 옳다.'], answer=['"가"가 옳다. 어간이 바뀐다.'] * 2)
    [1.0, 0.0]
    """

    def __init__(self, *, gold_column: str = "answer") -> None:
        super().__init__("rouge1", gold_column=gold_column)


class BertScoreReward(MetricReward):
    """BERTScore F1 of the reason; one BERT per configuration (loaded on first call, shared with
    every reward of the same model, layer, device and batch size), reference embeddings cached."""

    def __init__(self, model: str | None = None, num_layers: int | None = None, device: str | None = None,
                 batch_size: int = 64, *, gold_column: str = "answer", clip: bool = True) -> None:
        super().__init__("bertscore", gold_column=gold_column, clip=clip, bertscore_model=model,
                         bertscore_layers=num_layers, device=device, batch_size=batch_size)


class BleurtReward(MetricReward):
    """BLEURT of the reason (candidate) against the gold reason; one checkpoint per configuration,
    loaded on first call and shared."""

    def __init__(self, model: str | None = None, device: str | None = None, batch_size: int = 32, *,
                 gold_column: str = "answer", clip: bool = True) -> None:
        super().__init__("bleurt", gold_column=gold_column, clip=clip, bleurt_model=model,
                         device=device, batch_size=batch_size)


class ContestReward(ScorerReward):
    """The item-level analogue of Final Score: ``em_weight·EM + (1 − em_weight)·(weighted mean of the reasons' metrics)``.

    Defaults (``em_weight=0.5``, equal weights) give exactly (EM + Descriptive Avg) / 2 per item,
    with the reason part 0.0 where the item is not counted (no reason): the organizers' mean would
    skip the item, a reward must not make skipping the reason pay.
    ``metrics`` (``--metrics`` names, default all) chooses the metrics; only their scorers are ever
    loaded (``("em", "rouge1")`` loads no model). ``scorer_options`` are ContestScorer's
    (``bertscore_model``, ``bertscore_layers``, ``bleurt_model``, ``device``, ``batch_size``); a
    model of the same configuration as another reward's is shared through the pool.

    >>> contest = ContestReward(metrics=("em", "rouge1"))
    >>> contest(['"가"가 옳다. 어간이 바뀐다.'], answer=['"가"가 옳다. 어간이 바뀐다.'])
    [1.0]
    """

    def __init__(
        self,
        metrics: str | Sequence[str] = ALIASES,
        *,
        em_weight: float = 0.5,
        weights: Mapping[str, float] | None = None,
        gold_column: str = "answer",
        clip: bool = True,
        **scorer_options: Any,
    ) -> None:
        super().__init__("contest_reward", metrics, gold_column=gold_column, **scorer_options)
        chosen = [metric_spec for metric_spec in specs_of(self.metrics) if metric_spec.in_final]
        self.clause = [metric_spec.name for metric_spec in chosen if metric_spec.part == "clause"]  # exact_match
        self.descriptive = [metric_spec.name for metric_spec in chosen if metric_spec.part == "reason"]
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.descriptive}
        unknown = set(weights or {}) - set(self.descriptive)
        if unknown:
            raise ValueError(f"weights for metrics not chosen: {sorted(unknown)}")
        self.em_weight = em_weight if self.clause else 0.0
        if not self.descriptive:
            self.em_weight = 1.0
        self.clip = clip

    def score(self, golds: list[str], texts: list[str], log_metric: MetricLogger | None = None) -> list[float]:
        rows = self.scorer.score_texts(golds, texts, counted_only=True)
        total = sum(self.weights.values())
        values = []
        for row in rows:
            clause = sum(_score(row, name) for name in self.clause) / len(self.clause) if self.clause else 0.0
            parts = {name: _score(row, name) if row["counted"] else 0.0 for name in self.descriptive}
            if self.clip:
                parts = {name: min(1.0, max(0.0, value)) for name, value in parts.items()}
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


def _score(row: dict[str, float | None], key: str) -> float:
    """A metric's value in a row of ``score_texts``: computed wherever a reward reads it."""
    value = row[key]
    if value is None:
        raise ValueError(f"{key} was not computed for this completion")
    return value


class ContextReward:
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

    def __init__(self, *, candidates_column: str = "candidates", article_column: str = "article") -> None:
        self.__name__ = "context_reward"
        self.candidates_column, self.article_column = candidates_column, article_column

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        count = len(completions)
        candidates = _column(kwargs, self.candidates_column, count)
        articles = _column(kwargs, self.article_column, count)
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
    """A dataset column's values (``None`` each where the column is missing or of another length)."""
    values = kwargs.get(column)
    if values is None:
        raise KeyError(f"the context reward needs the dataset column {column!r}; columns given: {sorted(kwargs)}")
    values = list(values)
    if len(values) != count:
        raise ValueError(f"column {column!r} has {len(values)} values for {count} completions")
    return values


def metric_reward(alias: str, **options: Any) -> MetricReward:
    """The reward of a ``--metrics`` name (``em``, ``rouge1``, ``bertscore``, ``bleurt``): its metric in
    Final, e.g. ``metric_reward("em")`` scores strict Exact Match like :data:`exact_match_reward`.

    ``options`` are ContestScorer's (``bertscore_model``, ``device``, ...) and ``gold_column``,
    ``clip``; rewards of one configuration share their loaded model through the pool.
    """
    (name,) = [metric_spec.name for metric_spec in specs_of(parse_metrics([alias])) if metric_spec.in_final]
    return MetricReward(name, **options)


format_reward = FormatReward()
context_reward = ContextReward()
exact_match_reward = ExactMatchReward()
rouge1_reward = Rouge1Reward()
