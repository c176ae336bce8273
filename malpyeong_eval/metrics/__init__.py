"""The contest metrics: Exact Match on the answer clause; ROUGE-1, BERTScore, BLEURT on the reason.

``rouge``, ``bertscore`` and ``bleurt`` are imported on first use: they pull in
nltk, torch and transformers, which commands like ``leaderboard`` never need.
"""

from .aggregate import descriptive_avg, final_score, summarize
from .exact_match import exact_match, exact_match_lenient

__all__ = ["descriptive_avg", "exact_match", "exact_match_lenient", "final_score", "summarize"]
