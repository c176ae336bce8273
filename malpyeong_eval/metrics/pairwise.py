"""Every candidate against every other: the pair matrices minimum-Bayes-risk selection needs.

A set of N candidate reasons gives an N×N matrix ``M[i, j]`` = the metric of candidate ``i``
(prediction) against candidate ``j`` (reference), the self-pairs (the diagonal) left out as NaN.
Each reason metric's scorer has a ``pair_matrices`` that fills them the cheap way for that metric
(ROUGE-1: each text analysed once; BERTScore: each text embedded once; BLEURT: every ordered pair
cross-encoded, in the scorer's own batches); all of them lay the pairs out with :func:`pair_matrices`,
so that a pair's value is what the scorer's ``score([reference], [prediction])`` gives.

>>> pair_matrices([["a", "bb"], ["c"]], lambda refs, preds: [len(p) + len(r) / 10 for r, p in zip(refs, preds)])
[array([[nan, 1.2],
       [2.1, nan]]), array([[nan]])]
>>> pair_matrices([["a", "bb"]], lambda refs, preds: [len(p) + len(r) for r, p in zip(refs, preds)], symmetric=True)
[array([[nan,  3.],
       [ 3., nan]])]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations, permutations

import numpy as np

PairScores = Callable[[list[str], list[str]], list[float]]  # (references, predictions) -> one value per pair


def pair_matrices(text_sets: Sequence[Sequence[str]], score_pairs: PairScores, symmetric: bool = False) -> list[np.ndarray]:
    """For each set of texts, ``M[i, j]`` = ``score_pairs``' value of (reference ``texts[j]``,
    prediction ``texts[i]``) for every ``i != j``, NaN on the diagonal. The pairs of every set go to
    ``score_pairs`` in one call, so that a scorer batches across sets.

    ``symmetric``: the metric gives a pair the same value both ways (an F1: ROUGE-1, BERTScore), so
    each unordered pair is scored once (``i < j``) and mirrored; half the work, and two candidates
    that tie in exact arithmetic tie exactly, not by the rounding of two computations.
    """
    references: list[str] = []
    predictions: list[str] = []
    places: list[tuple[int, int, int]] = []
    for index, texts in enumerate(text_sets):
        for i, j in combinations(range(len(texts)), 2) if symmetric else permutations(range(len(texts)), 2):
            references.append(texts[j])
            predictions.append(texts[i])
            places.append((index, i, j))
    values = score_pairs(references, predictions) if places else []
    matrices = [np.full((len(texts), len(texts)), np.nan) for texts in text_sets]
    for (index, i, j), value in zip(places, values, strict=True):
        matrices[index][i, j] = value
        if symmetric:
            matrices[index][j, i] = value
    return matrices
