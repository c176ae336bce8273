"""The metric registry: each contest metric declared once, everything that lists metrics derived from it.

One :class:`MetricSpec` per per-item metric (:data:`METRIC_SPECS`, in table order) and one
:class:`SummarySpec` per derived column (:data:`SUMMARY_SPECS`). From them come the aggregation's
constants (:mod:`.aggregate`), ``--metrics`` and its default (:data:`DEFAULT_METRICS_TEXT`,
:func:`parse_metrics`), the scorers :class:`~malpyeong_eval.evaluation.ContestScorer` builds and the
configuration it records, :class:`~malpyeong_eval.evaluation.ItemScore`'s fields, the report's and
leaderboard's columns, export and plot columns, ``compare`` and ``rescore``'s metric lists, and the
reward functions' names.

Adding a metric means adding one :class:`MetricSpec` to :data:`METRIC_SPECS` (with its scorer
module: a class following :class:`Scorer`). The one other change is the database: an Alembic
migration adding its column to ``runs``, ``group_metrics`` and ``item_results``
(``leaderboard/migrations/versions/``) and the matching declared column in ``leaderboard/models.py``
(``ItemScoreColumns``); ``tests/test_leaderboard.py`` checks that a migrated database's metric
columns equal the registry's. A reason metric marked ``in_final`` enters Descriptive Avg (and so
Final Score); the organizers' Final has exactly EM, ROUGE-1, BERTScore and BLEURT.

A ``context`` metric (selection accuracy) judges the context a model named (``근거: [N]``,
:mod:`malpyeong_eval.citation`) against the item's gold rule: its scorer gets the gold rules and
the titles of the named candidates (``""``: none named). It is no ``--metrics`` choice: every run
whose items carry candidates and gold rules measures it where the model was asked to cite (or
cited), averaged over those items (the others ``None``); never part of Final.

Importing this module loads no scorer: each spec's factory imports its scorer module when called.
Loaded scorers are shared by configuration through :func:`malpyeong_eval.metrics.pool.shared_scorer`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..errors import MalpyeongError

Part = Literal["clause", "reason", "context"]

# The scorer options every entry point takes (``score``/``run``/``rescore`` flags, ContestScorer's
# keywords, the rewards' ``**scorer_options``); each spec reads the ones it needs.
SCORER_OPTIONS = ("bertscore_model", "bertscore_layers", "bleurt_model", "device", "batch_size")


@runtime_checkable
class Scorer(Protocol):
    """What every metric's scorer is: a configuration string, and a batch of scores.

    ``score(references, predictions)``: one float per pair, references (gold) first. A clause
    metric's scorer gets full answers (it splits them itself); a reason metric's gets reasons.
    """

    @property
    def config(self) -> str:
        """Names the exact configuration; recorded with every score."""
        ...

    def score(self, references: Sequence[str], predictions: Sequence[str]) -> list[float]:
        """The metric of each prediction against its reference."""
        ...


def _no_options(options: Mapping[str, Any]) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class MetricSpec:
    """One per-item metric.

    - ``name``: its key everywhere (score rows, JSON, database column, reward ``<name>_reward``);
    - ``alias``: its name in ``--metrics`` (several specs may share one: ``em`` gives both EMs);
    - ``label``: its column header;
    - ``part``: ``clause`` (scored on full answers, averaged over all items), ``reason`` (scored
      on the reasons, averaged over the counted items) or ``context`` (scored on the cited
      candidate's title against the gold rule, averaged over the items where it is measured);
    - ``in_final``: whether it enters Final Score (a reason metric through Descriptive Avg);
    - ``options``: the scorer's options from :data:`SCORER_OPTIONS`-style options, normalized
      (defaults filled in, device resolved), so that equal configurations share one scorer;
    - ``factory``: builds the scorer from those normalized options.
    """

    name: str
    alias: str
    label: str
    part: Part
    in_final: bool
    factory: Callable[[Mapping[str, Any]], Scorer]
    options: Callable[[Mapping[str, Any]], dict[str, Any]] = _no_options

    @property
    def takes_options(self) -> bool:
        """Whether the scorer is configured by options (a model, a device): the model-based metrics."""
        return self.options is not _no_options

    def build(self, options: Mapping[str, Any] | None = None) -> Scorer:
        """A new scorer for these options (unshared; :func:`~.pool.shared_scorer` shares them)."""
        return self.factory(self.options(options or {}))


@dataclass(frozen=True)
class SummarySpec:
    """A column derived from the per-item metrics' means (see :mod:`.aggregate`)."""

    name: str
    label: str


# -- the factories (each imports its scorer module only when called) ------------------------------------


def _exact_match(options: Mapping[str, Any]) -> Scorer:
    from .exact_match import ExactMatchScorer

    return ExactMatchScorer()


def _exact_match_lenient(options: Mapping[str, Any]) -> Scorer:
    from .exact_match import ExactMatchLenientScorer

    return ExactMatchLenientScorer()


def _rouge1(options: Mapping[str, Any]) -> Scorer:
    from .rouge import Rouge1Scorer

    return Rouge1Scorer()


def _selection(options: Mapping[str, Any]) -> Scorer:
    return SelectionScorer()


class SelectionScorer:
    """Selection accuracy's scorer: 1.0 where the named candidate's title is the gold rule, matched as
    retrieval recall matches (:func:`malpyeong_eval.retrieval.metrics.is_relevant`); ``""``: none named.

    >>> SelectionScorer().score(["한글 맞춤법 제18항"], ["<한글 맞춤법 제18항>"])
    [1.0]
    """

    config = "context_selection(cited-candidate-is-gold-rule,recall-title-match)"

    def score(self, references: Sequence[str], predictions: Sequence[str]) -> list[float]:
        """Whether each named title (``predictions``) is its gold rule (``references``)."""
        from ..retrieval.metrics import is_relevant

        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        return [float(bool(title) and is_relevant(title, rule)) for rule, title in zip(references, predictions, strict=True)]


def _bertscore_options(options: Mapping[str, Any]) -> dict[str, Any]:
    from .bertscore import DEFAULT_MODEL, MODEL_VARIABLE, default_layer
    from .loading import model_from_env, resolve_device

    model = options.get("bertscore_model") or model_from_env(DEFAULT_MODEL, MODEL_VARIABLE)
    layers = options.get("bertscore_layers")
    return {"model": model, "num_layers": default_layer(model) if layers is None else layers,
            "device": resolve_device(options.get("device")), "batch_size": options.get("batch_size") or 64}


def _bertscore(options: Mapping[str, Any]) -> Scorer:
    from .bertscore import BertScoreScorer

    return BertScoreScorer(**options)


def _bleurt_options(options: Mapping[str, Any]) -> dict[str, Any]:
    from .bleurt import DEFAULT_MODEL, MODEL_VARIABLE
    from .loading import model_from_env, resolve_device

    return {"model": options.get("bleurt_model") or model_from_env(DEFAULT_MODEL, MODEL_VARIABLE),
            "device": resolve_device(options.get("device")), "batch_size": options.get("batch_size") or 32}


def _bleurt(options: Mapping[str, Any]) -> Scorer:
    from .bleurt import BleurtScorer

    return BleurtScorer(**options)


# -- the registry -----------------------------------------------------------------------------------------

METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("exact_match", "em", "EM", "clause", True, _exact_match),
    MetricSpec("exact_match_lenient", "em", "EM (lenient)", "clause", False, _exact_match_lenient),
    MetricSpec("rouge1", "rouge1", "ROUGE-1", "reason", True, _rouge1),
    MetricSpec("bertscore", "bertscore", "BERTScore", "reason", True, _bertscore, _bertscore_options),
    MetricSpec("bleurt", "bleurt", "BLEURT", "reason", True, _bleurt, _bleurt_options),
    MetricSpec("context_selection", "context", "Selection", "context", False, _selection),
)
SUMMARY_SPECS: tuple[SummarySpec, ...] = (
    SummarySpec("descriptive_avg", "Desc. Avg"),  # mean of the reason metrics in Final
    SummarySpec("final_score", "Final"),  # mean of (the clause metric in Final, Descriptive Avg)
)

# -- derived names ---------------------------------------------------------------------------------------

METRIC_NAMES = tuple(s.name for s in METRIC_SPECS)  # per-item columns, in table order
# what --metrics takes, canonical order (context metrics are measured on every run, not chosen)
ALIASES = tuple(dict.fromkeys(s.alias for s in METRIC_SPECS if s.part != "context"))
DEFAULT_METRICS_TEXT = ",".join(ALIASES)  # --metrics' default: every metric ("em,rouge1,bertscore,bleurt")
CLAUSE_METRICS = tuple(s.name for s in METRIC_SPECS if s.part == "clause")  # mean over all items
REASON_METRICS = tuple(s.name for s in METRIC_SPECS if s.part == "reason")  # mean over counted items
CONTEXT_METRICS = tuple(s.name for s in METRIC_SPECS if s.part == "context")  # mean over the items measured
FINAL_CLAUSE_METRICS = tuple(s.name for s in METRIC_SPECS if s.part == "clause" and s.in_final)  # Final's EM
DESCRIPTIVE = tuple(s.name for s in METRIC_SPECS if s.part == "reason" and s.in_final)  # Descriptive Avg's parts
FINAL_METRICS = tuple(s.name for s in METRIC_SPECS if s.in_final)  # the per-item metrics Final is made of
SUMMARY_NAMES = tuple(summary.name for summary in SUMMARY_SPECS)
COLUMN_NAMES = (*METRIC_NAMES, *SUMMARY_NAMES)  # every metric column of a table, a run or a group
LABELS: dict[str, str] = {**{s.name: s.label for s in METRIC_SPECS}, **{s.name: s.label for s in SUMMARY_SPECS}}


def labelled(names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``(name, label)`` of each column name, e.g. for a table's headers."""
    return tuple((name, LABELS[name]) for name in names)


def spec(name: str) -> MetricSpec:
    """The spec of the metric ``name`` (a column key such as ``exact_match``)."""
    for candidate in METRIC_SPECS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no metric {name!r}; the metrics are {', '.join(METRIC_NAMES)}")


def names_of(alias: str) -> tuple[str, ...]:
    """The metric names ``--metrics`` ``alias`` computes (``em`` → both Exact Matches)."""
    return tuple(s.name for s in METRIC_SPECS if s.alias == alias)


def specs_of(aliases: Sequence[str]) -> tuple[MetricSpec, ...]:
    """The specs ``aliases`` compute, in registry order."""
    return tuple(s for s in METRIC_SPECS if s.alias in aliases)


def parse_metrics(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"em,rouge1"`` → ``("em", "rouge1")`` in canonical order; unknown names are refused.

    >>> parse_metrics("rouge1, EM")
    ('em', 'rouge1')
    """
    names = [name.strip().lower() for name in (text.split(",") if isinstance(text, str) else text) if name.strip()]
    unknown = [name for name in names if name not in ALIASES]
    if unknown or not names:
        problem = f"unknown metric {unknown[0]!r}" if unknown else "no metric given"
        raise MalpyeongError(f"{problem}; choose from {DEFAULT_METRICS_TEXT}")
    return tuple(name for name in ALIASES if name in names)


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse a scorer option no metric takes (as ContestScorer's constructor would)."""
    unknown = sorted(set(options) - set(SCORER_OPTIONS))
    if unknown:
        raise TypeError(f"unknown scorer option {unknown[0]!r}; choose from {', '.join(SCORER_OPTIONS)}")


def _check_registry() -> None:
    names = [*METRIC_NAMES, *SUMMARY_NAMES]
    if len(set(names)) != len(names):
        raise AssertionError(f"metric names repeat: {names}")
    if len(FINAL_CLAUSE_METRICS) != 1 or not DESCRIPTIVE:
        raise AssertionError("Final Score needs exactly one clause metric and at least one reason metric in Final")


_check_registry()
