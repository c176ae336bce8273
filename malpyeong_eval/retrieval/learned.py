"""A fusion learned from labelled questions: a softmax over the corpus's passages (a conditional logit).

Reciprocal rank fusion throws away what the parts know: how sure each is, and that a part good at
one kind of question (the examples classifier on 선택형) is poor at another. :class:`LearnedFusion`
scores a passage *p* for a question *q* as ``w · x(q, p)`` and learns ``w`` from the labelled
examples by maximising the probability ``softmax_p(w · x(q, p))`` puts on *q*'s gold passages
(L2-penalised, L-BFGS; scipy). The features of (q, p), each standardised over the training rows:

- for every part but ``category``: its score of *p*, standardised within *q* (a z-score over the
  passages), and the reciprocal of *p*'s rank in that part (0 where the part did not find it);
- for ``category``: the probability of *p*'s category and its logarithm;
- each of those again, multiplied by "*q* is 교정형", so that every weight may differ by question type.

**No item scores itself.** The learned parts' scores of the training questions come from
:meth:`.examples.CrossFitted.search`: each question is scored by a model fitted without it (its
cross-fitting group left out), so a weight never learns how well a part does on questions it has
already seen. At search time the parts are the ones fitted on every example (a query that is
itself an example still gets its group's model). Inside ``--cross-validate`` the whole fusion —
parts and weights — is fitted on the other folds' examples only.
"""

from __future__ import annotations

from collections.abc import Sequence

from .base import Hit, Query, Retriever
from .corpus import Corpus
from .examples import Example, one_blas_thread
from .question import read_question

__all__ = ["LearnedFusion", "is_correction"]

CORRECTION = "교정형"


def is_correction(query: Query) -> bool:
    """Whether ``query`` is a 교정형 question: its type where given, else a question without ``{A/B}``."""
    if query.question_type in ("선택형", CORRECTION):
        return query.question_type == CORRECTION
    return not read_question(query.question).groups


def _score_matrix(part: Retriever, queries: Sequence[Query], size: int):
    """Every passage's score by ``part`` for each query (0 where the part did not return it)."""
    import numpy as np

    scores = np.zeros((len(queries), size))
    for row, hits in enumerate(part.search(queries, size)):
        for index, score in hits:
            scores[row, index] = score
    return scores


def _rank_features(scores):
    """(z-score within the query, reciprocal rank where the score is positive) of a score matrix."""
    import numpy as np

    spread = scores.std(axis=1, keepdims=True)
    z = (scores - scores.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0)
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :].repeat(len(scores), axis=0), axis=1)
    return [z, np.where(scores > 0, 1.0 / ranks, 0.0)]


def _probability_features(probabilities):
    import numpy as np

    return [probabilities, np.log(probabilities + 1e-4)]


def _fit_conditional_logit(features, relevant, c: float):
    """Weights maximising the L2-penalised log-probability of the relevant passages under a softmax
    over each question's passages. ``features``: (questions, passages, features); ``relevant``: bool."""
    import numpy as np
    from scipy.optimize import minimize

    flat = features.reshape(-1, features.shape[2])

    def loss(weights):
        scores = features @ weights
        scores -= scores.max(axis=1, keepdims=True)
        every = np.exp(scores)
        gold = np.where(relevant, every, 0.0)
        every_sum, gold_sum = every.sum(axis=1, keepdims=True), np.maximum(gold.sum(axis=1, keepdims=True), 1e-300)
        value = float((np.log(every_sum) - np.log(gold_sum)).sum()) + 0.5 * weights @ weights / c
        pull = every / every_sum - gold / gold_sum
        return value, pull.reshape(-1) @ flat + weights / c

    return minimize(loss, np.zeros(features.shape[2]), jac=True, method="L-BFGS-B").x


class LearnedFusion:
    """``parts`` fused by weights learned from ``examples`` (see the module docstring)."""

    def __init__(self, parts: Sequence[Retriever], corpus: Corpus, examples: Sequence[Example], *, c: float = 1.0) -> None:
        import numpy as np

        self.parts = list(parts)
        self.corpus = corpus
        self.name = "learned(" + "+".join(part.name for part in self.parts) + ")"
        gold = [corpus.passages_for(example.label) for example in examples]
        used = [i for i, found in enumerate(gold) if found]
        queries = [Query(examples[i].question, examples[i].id, examples[i].question_type) for i in used]
        raw = self._raw_features(queries)
        self.mean = raw.reshape(-1, raw.shape[2]).mean(axis=0) if used else np.zeros(raw.shape[2])
        spread = raw.reshape(-1, raw.shape[2]).std(axis=0) if used else np.ones(raw.shape[2])
        self.scale = np.where(spread > 0, spread, 1.0)
        relevant = np.zeros((len(used), len(corpus)), dtype=bool)
        for row, i in enumerate(used):
            relevant[row, list(gold[i])] = True
        with one_blas_thread():
            self.weights = _fit_conditional_logit((raw - self.mean) / self.scale, relevant, c) if used else np.zeros(raw.shape[2])

    def _raw_features(self, queries: Sequence[Query]):
        """(queries, passages, features) before standardisation."""
        import numpy as np

        columns = []
        for part in self.parts:
            scores = _score_matrix(part, queries, len(self.corpus))
            columns += _probability_features(scores) if part.name == "category" else _rank_features(scores)
        base = np.stack(columns, axis=2) if columns else np.zeros((len(queries), len(self.corpus), 0))
        correction = np.array([is_correction(query) for query in queries], dtype=float)[:, None, None]
        return np.concatenate([base, base * correction], axis=2)

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by the learned score, best first (ties: corpus order)."""
        import numpy as np

        k = min(k, len(self.corpus))
        if not queries:
            return []
        scores = ((self._raw_features(queries) - self.mean) / self.scale) @ self.weights
        results = []
        for row in scores:
            order = np.argsort(-row, kind="stable")[:k]
            results.append([(int(index), float(row[index])) for index in order])
        return results
