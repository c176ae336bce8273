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
Loaded scorers are shared by model identity through :func:`malpyeong_eval.metrics.pool.shared_scorer`;
a configuration string is computed without loading anything (:meth:`MetricSpec.config`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from ..batching import BatchSize
from ..errors import MalpyeongError
from .options import ScorerOptions

Part = Literal["clause", "reason", "context"]


@runtime_checkable
class Scorer(Protocol):
    """What every metric's scorer is: a configuration string, and a batch of scores.

    ``score(references, predictions, batch_size)``: one float per pair, references (gold) first;
    ``batch_size`` (:data:`~malpyeong_eval.batching.BatchSize`) is a runtime knob of the model-based
    scorers, ignored by the others. A clause metric's scorer gets full answers (it splits them
    itself); a reason metric's gets reasons.
    """

    @property
    def config(self) -> str:
        """Names the exact configuration; recorded with every score."""
        ...

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """The metric of each prediction against its reference."""
        ...


@runtime_checkable
class PairwiseScorer(Scorer, Protocol):
    """A reason metric's scorer that also scores every text of a set against every other, the cheap
    way for its metric (ROUGE-1, BERTScore, BLEURT): minimum-Bayes-risk selection's utilities.

    ``pair_matrices(text_sets, batch_size)``: for each set of N texts an N×N array whose ``[i, j]``
    is ``score([texts[j]], [texts[i]])``, NaN on the diagonal (:mod:`.pairwise`).
    """

    def pair_matrices(self, text_sets: Sequence[Sequence[str]], batch_size: BatchSize = None) -> list[Any]:
        """Each set's matrix of every text (prediction) against every other (reference)."""
        ...


def _no_settings(options: ScorerOptions) -> dict[str, Any]:
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
    - ``describe``: the configuration string of these settings, computed without building the
      scorer (a scorer's ``config`` is the same string);
    - ``factory``: builds the scorer of these settings;
    - ``settings``: the model identity a :class:`ScorerOptions` gives this metric (model, layer,
      device; defaults filled in), so that equal identities share one loaded scorer; the batch
      size is never part of it. ``load_settings`` adds what only loading needs (the normalized
      device), so that describing a configuration imports no framework.
    """

    name: str
    alias: str
    label: str
    part: Part
    in_final: bool
    describe: Callable[[Mapping[str, Any]], str]
    factory: Callable[[Mapping[str, Any]], Scorer]
    settings: Callable[[ScorerOptions], dict[str, Any]] = _no_settings
    load_settings: Callable[[ScorerOptions], dict[str, Any]] = _no_settings

    @property
    def takes_options(self) -> bool:
        """Whether the scorer is configured by options (a model, a device): the model-based metrics."""
        return self.settings is not _no_settings

    def config(self, options: ScorerOptions = ScorerOptions()) -> str:
        """The configuration string a scorer of these options has, without building it."""
        return self.describe(self.settings(options))

    def identity(self, options: ScorerOptions = ScorerOptions()) -> tuple[tuple[str, Any], ...]:
        """What names the loaded scorer of these options: the settings and the device it loads on."""
        return tuple(sorted({**self.settings(options), **self.load_settings(options)}.items()))

    def build(self, options: ScorerOptions = ScorerOptions()) -> Scorer:
        """A new scorer for these options (unshared; :func:`~.pool.shared_scorer` shares them)."""
        return self.factory(dict(self.identity(options)))


@dataclass(frozen=True)
class SummarySpec:
    """A column derived from the per-item metrics' means (see :mod:`.aggregate`)."""

    name: str
    label: str


# -- the factories (each imports its scorer module only when called) ------------------------------------


def _exact_match(settings: Mapping[str, Any]) -> Scorer:
    from .exact_match import ExactMatchScorer

    return ExactMatchScorer()


def _exact_match_config(settings: Mapping[str, Any]) -> str:
    from .exact_match import CONFIG

    return CONFIG


def _exact_match_lenient(settings: Mapping[str, Any]) -> Scorer:
    from .exact_match import ExactMatchLenientScorer

    return ExactMatchLenientScorer()


def _exact_match_lenient_config(settings: Mapping[str, Any]) -> str:
    from .exact_match import CONFIG_LENIENT

    return CONFIG_LENIENT


def _rouge1(settings: Mapping[str, Any]) -> Scorer:
    from .rouge import Rouge1Scorer

    return Rouge1Scorer()


def _rouge1_config(settings: Mapping[str, Any]) -> str:
    from .rouge import rouge1_config

    return rouge1_config()


def _selection(settings: Mapping[str, Any]) -> Scorer:
    return SelectionScorer()


def _selection_config(settings: Mapping[str, Any]) -> str:
    return SelectionScorer.config


class SelectionScorer:
    """Selection accuracy's scorer: 1.0 where the named candidate's title is the gold rule, matched as
    retrieval recall matches (:func:`malpyeong_eval.retrieval.metrics.is_relevant`); ``""``: none named.

    >>> SelectionScorer().score(["한글 맞춤법 제18항"], ["<한글 맞춤법 제18항>"])
    [1.0]
    """

    config = "context_selection(cited-candidate-is-gold-rule,recall-title-match)"

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """Whether each named title (``predictions``) is its gold rule (``references``)."""
        from ..retrieval.metrics import is_relevant

        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        return [float(bool(title) and is_relevant(title, rule)) for rule, title in zip(references, predictions, strict=True)]


def _device(options: ScorerOptions) -> dict[str, Any]:
    from .options import normalize_device

    return {"device": normalize_device(options.device)}


def _bertscore_settings(options: ScorerOptions) -> dict[str, Any]:
    from .bertscore import model_and_layer

    model, layer = model_and_layer(options.bertscore_model, options.bertscore_layers)
    return {"model": model, "num_layers": layer}


def _bertscore_config(settings: Mapping[str, Any]) -> str:
    from .bertscore import MODEL_VARIABLE, bertscore_config
    from .loading import check_model

    check_model(settings["model"], "BERTScore", "--bertscore-model", MODEL_VARIABLE, tokenizer=True)  # before any run
    return bertscore_config(settings["model"], settings["num_layers"])


def _bertscore(settings: Mapping[str, Any]) -> Scorer:
    from .bertscore import BertScoreScorer

    return BertScoreScorer(**settings)


def _bleurt_settings(options: ScorerOptions) -> dict[str, Any]:
    from .bleurt import bleurt_model

    return {"model": bleurt_model(options.bleurt_model)}


def _bleurt_config(settings: Mapping[str, Any]) -> str:
    from .bleurt import bleurt_config

    return bleurt_config(settings["model"])


def _bleurt(settings: Mapping[str, Any]) -> Scorer:
    from .bleurt import BleurtScorer

    return BleurtScorer(**settings)


# -- the registry -----------------------------------------------------------------------------------------

METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec("exact_match", "em", "EM", "clause", True, _exact_match_config, _exact_match),
    MetricSpec("exact_match_lenient", "em", "EM (lenient)", "clause", False, _exact_match_lenient_config,
               _exact_match_lenient),
    MetricSpec("rouge1", "rouge1", "ROUGE-1", "reason", True, _rouge1_config, _rouge1),
    MetricSpec("bertscore", "bertscore", "BERTScore", "reason", True, _bertscore_config, _bertscore,
               _bertscore_settings, _device),
    MetricSpec("bleurt", "bleurt", "BLEURT", "reason", True, _bleurt_config, _bleurt, _bleurt_settings, _device),
    MetricSpec("context_selection", "context", "Selection", "context", False, _selection_config, _selection),
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


def _check_registry() -> None:
    names = [*METRIC_NAMES, *SUMMARY_NAMES]
    if len(set(names)) != len(names):
        raise AssertionError(f"metric names repeat: {names}")
    if len(FINAL_CLAUSE_METRICS) != 1 or not DESCRIPTIVE:
        raise AssertionError("Final Score needs exactly one clause metric and at least one reason metric in Final")


_check_registry()
