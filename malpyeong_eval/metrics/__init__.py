"""The contest metrics: Exact Match on the answer clause; ROUGE-1, BERTScore, BLEURT on the reason.

:mod:`.registry` declares them (one spec each: name, ``--metrics`` alias, label, part, whether in
Final, scorer factory); :mod:`.options` is how the model-based ones run (one :class:`ScorerOptions` value); :mod:`.pool` shares their loaded scorers by model identity; :mod:`.aggregate`
turns per-item scores into the organizers' table. ``rouge``, ``bertscore`` and ``bleurt`` are
imported when a scorer is first built: they pull in Mecab, torch and transformers, which commands
like ``leaderboard`` never need.
"""

from .aggregate import descriptive_avg, final_score, summarize
from .exact_match import exact_match, exact_match_lenient
from .pool import clear_scorers, loaded_scorers, shared_scorer
from .options import ScorerOptions
from .registry import DEFAULT_METRICS_TEXT, METRIC_SPECS, SUMMARY_SPECS, MetricSpec, Scorer, SummarySpec, parse_metrics

__all__ = [
    "DEFAULT_METRICS_TEXT",
    "METRIC_SPECS",
    "SUMMARY_SPECS",
    "MetricSpec",
    "Scorer",
    "ScorerOptions",
    "SummarySpec",
    "clear_scorers",
    "descriptive_avg",
    "exact_match",
    "exact_match_lenient",
    "final_score",
    "loaded_scorers",
    "parse_metrics",
    "shared_scorer",
    "summarize",
]
