"""Exact Match on the answer clause (SCORING.md §3).

The organizers do not publish their normalization. The default rule compares the
clauses after NBSP→space, collapsing whitespace runs and stripping. The lenient
variant also accepts any one of the gold alternatives (``"A" 혹은 "B"가 옳다``), curly
quotes and spaces around quotes; it is reported apart and never enters Final Score.
"""

from __future__ import annotations

from ..parsing import normalize_clause, normalize_clause_lenient, quoted_sentences, split_answer

CONFIG = "exact_match(rule=nbsp+collapse-whitespace+strip)"
CONFIG_LENIENT = "exact_match_lenient(rule=default+straight-quotes+quote-spacing+any-gold-alternative)"


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the answer clauses of two full answers are equal under the default rule."""
    return float(normalize_clause(split_answer(prediction).clause) == normalize_clause(split_answer(gold).clause))


def exact_match_lenient(prediction: str, gold: str) -> float:
    """1.0 when the clauses match leniently, or every sentence the prediction's clause quotes
    is one of the gold alternatives (so text outside the quotes, like ``답변:``, is ignored).

    Whatever matches by the default rule matches here too; otherwise a prediction without
    ``가/이 옳다`` does not match.
    """
    if exact_match(prediction, gold):
        return 1.0
    predicted, expected = split_answer(prediction), split_answer(gold)
    if not predicted.has_clause_end:
        return 0.0
    if normalize_clause_lenient(predicted.clause) == normalize_clause_lenient(expected.clause):
        return 1.0
    chosen = quoted_sentences(predicted.clause)
    alternatives = set(quoted_sentences(expected.clause))
    return float(bool(chosen) and all(sentence in alternatives for sentence in chosen))
