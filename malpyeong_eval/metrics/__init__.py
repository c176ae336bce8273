"""The contest metrics: Exact Match on the answer clause; ROUGE-1, BERTScore, BLEURT on the reason."""

from .aggregate import descriptive_avg, final_score, summarize
from .exact_match import exact_match, exact_match_lenient
from .rouge import MecabTokenizer, Rouge1Scorer

__all__ = [
    "MecabTokenizer",
    "Rouge1Scorer",
    "descriptive_avg",
    "exact_match",
    "exact_match_lenient",
    "final_score",
    "summarize",
]
