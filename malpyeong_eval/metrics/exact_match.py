"""Exact Match on the answer clause, the organizers' rule (malpyeong_eval/docs/scoring.md §3).

Both clauses (split by :func:`~malpyeong_eval.parsing.split_answer`) lose every ``"``
and ``'`` and are stripped; the gold clause may list ``#``-separated alternatives, each
stripped; the item scores 1 when the prediction equals any of them. Nothing else: no
whitespace collapsing, no NBSP or curly-quote mapping, no Unicode normalization.

The lenient variant is a diagnostic of what that rule punishes (curly quotes, spacing,
NBSP, ``가옳다``, a ``답변:`` prefix or markdown around the quoted sentence, gold
alternatives written ``"A" 혹은 "B"``); it is reported apart and never enters Final Score.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..batching import BatchSize
from ..parsing import (
    clause_alternatives,
    normalize_clause,
    normalize_clause_lenient,
    quoted_sentences,
    split_answer,
    split_answer_loosely,
)

CONFIG = "exact_match(delete-quotes+strip,gold-#-alternatives)"
CONFIG_LENIENT = ("exact_match_lenient(strict-or:straight-quotes+nbsp+collapse-whitespace+quote-spacing,"
                  "loose-clause-end,any-quoted-gold-alternative)")


def exact_match(reference: str, prediction: str) -> float:
    """1.0 when the answer clause of ``prediction`` equals one alternative of the clause of the gold
    answer ``reference``.

    >>> exact_match('"우동이 불을 것 같다."가 옳다. 다른 이유.', "'우동이 불을 것 같다.'가 옳다. 이유.")
    1.0
    >>> exact_match('"우동이 불을 것 같다."가 옳다. 다른 이유.', '“우동이 불을 것 같다.”가 옳다. 이유.')
    0.0
    """
    predicted = normalize_clause(split_answer(prediction).clause)
    return float(predicted in clause_alternatives(split_answer(reference).clause))


def exact_match_lenient(reference: str, prediction: str) -> float:
    """1.0 when the clauses match by the strict rule, or after lenient normalization (reader's
    clause end, straight quotes, whitespace), or when every sentence the prediction's clause
    quotes is one the gold clause quotes. Never below :func:`exact_match`.
    """
    if exact_match(reference, prediction):
        return 1.0
    predicted, expected = split_answer_loosely(prediction), split_answer_loosely(reference)
    if not predicted.has_clause_end:
        return 0.0
    alternatives = {normalize_clause_lenient(alternative) for alternative in expected.clause.split("#")}
    if normalize_clause_lenient(predicted.clause) in alternatives:
        return 1.0
    chosen = quoted_sentences(predicted.clause)
    return float(bool(chosen) and set(chosen) <= set(quoted_sentences(expected.clause)))


def _check_lengths(references: Sequence[str], predictions: Sequence[str]) -> None:
    if len(references) != len(predictions):
        raise ValueError("references and predictions differ in length")


class ExactMatchScorer:
    """The registry's scorer of :func:`exact_match`, on full answers (it splits them itself).

    >>> ExactMatchScorer().score(['"가"가 옳다. 이유.'], ["'가'가 옳다. 다른 이유."])
    [1.0]
    """

    config = CONFIG

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """Exact Match of each predicted answer against its gold answer."""
        _check_lengths(references, predictions)
        return [exact_match(reference, prediction) for reference, prediction in zip(references, predictions, strict=True)]


class ExactMatchLenientScorer:
    """The registry's scorer of :func:`exact_match_lenient`, on full answers (it splits them its own way)."""

    config = CONFIG_LENIENT

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """Lenient Exact Match of each predicted answer against its gold answer."""
        _check_lengths(references, predictions)
        return [exact_match_lenient(reference, prediction) for reference, prediction in zip(references, predictions, strict=True)]
