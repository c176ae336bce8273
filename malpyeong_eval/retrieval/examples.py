"""A retriever that learns from labelled questions: a linear classifier from a question to its rule.

Teams label training questions with the rule each is about (``output.article``). A new question
about the same rule tends to look like them — the same kind of difference between its
alternatives (a space before a dependent noun, a comma, a loanword's vowel), the same words — far
more than it looks like the rule's own text. :class:`ExamplesRetriever` learns that mapping: each
labelled question becomes TF-IDF features (character 1–3-grams of its sentence's variants, its
:mod:`difference tokens <.question>` weighted ×2, its Mecab morphemes), a linear support-vector
classifier (scikit-learn's ``LinearSVC``, one-vs-rest) is fitted on them with the rules as
classes, and a query's passages are the rules ranked by the classifier's decision value. Rules
with no labelled question cannot be predicted: they follow as filler (score 0, corpus order).

Measured against the alternatives the issue names (nearest labelled questions voting for their
rule, BM25 or TF-IDF similarity), the classifier found the rule more often on our labelled sample
(docs/rag.md, "Measured").

**No leakage.** A labelled question that is the query itself — the same id, or the same question
text (whitespace collapsed) — is never used for it. Queries that are among the examples are dealt
into :data:`CROSS_FIT_GROUPS` groups, and each group is answered by a classifier fitted without
the examples of that group's queries (cross-fitting: one model per group, not one per item).
:class:`CrossFitted` is that guard, shared by every part that learns from labelled questions
(this one and the norm-category part, :mod:`.category`); :meth:`CrossFitted.own_rows` says which
examples a query is.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

from .base import Hit, Query, morphemes
from .corpus import Corpus
from .question import read_question

__all__ = [
    "CROSS_FIT_GROUPS", "CrossFitted", "Example", "ExamplesRetriever", "TextFeatures", "one_blas_thread", "question_features",
]

CROSS_FIT_GROUPS = 3
DIFFERENCE_WEIGHT = 2.0
# liblinear's stopping tolerance: 1e-2 rather than scikit-learn's 1e-4 finds the same recall on our
# labelled sample (to the third decimal) in two thirds of the time
SVM_TOLERANCE = 1e-2
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Example:
    """A labelled question: its id, its text, the rule (or rules) it is about, and its question type."""

    id: str | None
    question: str
    label: str | tuple[str, ...]
    question_type: str | None = None


@lru_cache(maxsize=65536)
def question_features(question: str) -> tuple[str, str, str]:
    """The three texts a question is featurized from: its variants, its difference tokens, its morphemes."""
    view = read_question(question)
    text = " ".join(view.variants or (view.sentence,))
    return text, " ".join(view.difference) or "∅", " ".join(morphemes(text)) or "∅"


def _self_keys(example_id: str | None, question: str) -> list[str]:
    keys = [f"text:{_SPACE.sub(' ', question).strip()}"]
    if example_id is not None:
        keys.append(f"id:{example_id}")
    return keys


class TextFeatures:
    """Several texts of a question, each TF-IDF-weighted by its own vectorizer, scaled, side by side.

    ``columns``: (vectorizer, weight) per text; :meth:`fit_transform` learns the vocabularies and
    the idf from the texts alone (no label), :meth:`transform` applies them.
    """

    def __init__(self, columns: Sequence[tuple[Any, float]]) -> None:
        self.columns = list(columns)

    def _stack(self, rows: Sequence[tuple[str, ...]], fit: bool):
        from scipy.sparse import hstack

        parts = []
        for column, (vectorizer, weight) in enumerate(self.columns):
            texts = [row[column] for row in rows]
            parts.append(weight * (vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)))
        return hstack(parts).tocsr()

    def fit_transform(self, rows: Sequence[tuple[str, ...]]):
        return self._stack(rows, fit=True)

    def transform(self, rows: Sequence[tuple[str, ...]]):
        return self._stack(rows, fit=False)


def _question_columns() -> TextFeatures:
    """The vectorizers of :func:`question_features`: character 1–3-grams, difference tokens ×2, morphemes."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TextFeatures([
        (TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True), 1.0),
        (TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True), DIFFERENCE_WEIGHT),
        (TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True), 1.0),
    ])


class _Classifier:
    """A one-vs-rest linear SVM over feature rows, the passages' indexes as classes."""

    def __init__(self, matrix, classes: Sequence[int], *, c: float) -> None:
        from sklearn.svm import LinearSVC

        self.labels = sorted(set(classes))
        if len(self.labels) > 1:
            with warnings.catch_warnings():  # many rules with one question each is the normal case here
                warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
                self.model = LinearSVC(C=c, random_state=0, tol=SVM_TOLERANCE).fit(matrix, list(classes))
            self.labels = [int(label) for label in self.model.classes_]

    def rank(self, matrix) -> list[list[Hit]]:
        """Per query row, every class the model knows with its decision value (shifted to be positive), best first."""
        if len(self.labels) == 1:
            return [[(self.labels[0], 1.0)] for _ in range(matrix.shape[0])]
        import numpy as np

        decisions = self.model.decision_function(matrix)
        if decisions.ndim == 1:  # two classes: one column, positive for the second
            decisions = np.stack([-decisions, decisions], axis=1)
        ranked = []
        for row in decisions:
            order = np.argsort(-row, kind="stable")
            # decision values are signed; shift so the worst known class still scores above filler's 0
            floor = float(row.min()) - 1.0
            ranked.append([(self.labels[j], float(row[j]) - floor) for j in order])
        return ranked


Target = TypeVar("Target")


def one_blas_thread():
    """A context in which BLAS uses one thread: these models are small, and on a busy machine a
    thread per core costs more in synchronisation than it saves (a logistic regression of 250
    questions: 0.26 s with one thread, 2 s with the default, measured under load on 2 cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


class CrossFitted(Generic[Target]):
    """A part learned from labelled questions that never answers a query with a model that saw it.

    Subclasses say what a row's target is (:meth:`targets`), which texts of a question it learns
    from (:meth:`texts`, :meth:`text_features`), how a model is fitted on some rows' features
    (:meth:`fit`) and how it scores queries (:meth:`score`: per query, hits best first, the
    corpus's passages only). The text features (vocabularies, idf) are fitted once on all the
    examples' texts — no label enters them —, a model once per set of rows. :meth:`search` deals
    the queries that are examples into :data:`CROSS_FIT_GROUPS` groups and answers each group with
    a model fitted without that group's own rows; every other query gets the model fitted on all rows.
    """

    name = "learned"

    def __init__(self, corpus: Corpus, examples: Sequence[Example]) -> None:
        self.corpus = corpus
        self.rows: list[tuple[Example, Target]] = []  # one row per (example, target)
        for example in examples:
            self.rows += [(example, target) for target in self.targets(example)]
        self._rows_of: dict[str, set[int]] = {}  # "id:…" and "text:…" keys → rows
        for row, (example, _) in enumerate(self.rows):
            for key in _self_keys(example.id, example.question):
                self._rows_of.setdefault(key, set()).add(row)
        self.features = self.text_features()
        self._matrix = self.features.fit_transform([self.texts(example.question) for example, _ in self.rows]) if self.rows else None
        self._full = self._fit_without(set())
        # the cross-fitting models of the last search that had any, by the rows each left out: a learned
        # fusion's training asks the examples, and a search of the same items asks them again
        self._group_models: dict[frozenset[int], Any] = {}

    def targets(self, example: Example) -> list[Target]:
        """What the rows of ``example`` predict (none: the example is not used)."""
        raise NotImplementedError

    def texts(self, question: str) -> tuple[str, ...]:
        """The texts of a question the part learns from."""
        raise NotImplementedError

    def text_features(self) -> TextFeatures:
        """The (unfitted) vectorizers of :meth:`texts`."""
        raise NotImplementedError

    def fit(self, matrix, targets: list[Target]):
        """A model fitted on feature rows and their targets (never empty)."""
        raise NotImplementedError

    def score(self, model, matrix) -> list[list[Hit]]:
        """Per query row of features, the passages ``model`` scores, best first."""
        raise NotImplementedError

    def query_matrix(self, queries: Sequence[Query]):
        """The queries' features (a query that is an example: its row's, already computed)."""
        from scipy.sparse import vstack

        rows = [next((row for row in sorted(self.own_rows(query)) if self.rows[row][0].question == query.question), None)
                for query in queries]
        if self._matrix is None or all(row is None for row in rows):
            return self.features.transform([self.texts(query.question) for query in queries])
        if all(row is not None for row in rows):
            return self._matrix[rows]
        fresh_at = {i: n for n, i in enumerate(i for i, row in enumerate(rows) if row is None)}
        fresh = self.features.transform([self.texts(queries[i].question) for i in fresh_at])
        return vstack([fresh[fresh_at[i]] if row is None else self._matrix[row] for i, row in enumerate(rows)]).tocsr()

    def _fit_without(self, left_out: set[int] | frozenset[int]):
        kept = [row for row in range(len(self.rows)) if row not in left_out]
        if not kept or self._matrix is None:
            return None
        with one_blas_thread():
            return self.fit(self._matrix[kept], [self.rows[row][1] for row in kept])

    def own_rows(self, query: Query) -> set[int]:
        """The rows that are ``query`` itself: the same id or the same question text."""
        return set().union(*(self._rows_of.get(key, set()) for key in _self_keys(query.id, query.question)))

    def models_for(self, queries: Sequence[Query]) -> list[tuple[Any, list[int]]]:
        """(model, positions of the queries it answers): the full model for queries that are no
        example, one model per cross-fitting group for those that are (none where nothing is left)."""
        own = [self.own_rows(query) for query in queries]
        group_of = {i: position % CROSS_FIT_GROUPS for position, i in enumerate(i for i, rows in enumerate(own) if rows)}
        answered = [(self._full, [i for i in range(len(queries)) if i not in group_of])]
        fitted: dict[frozenset[int], Any] = {}
        for group in sorted(set(group_of.values())):
            members = [i for i, g in group_of.items() if g == group]
            left_out = frozenset().union(*(own[i] for i in members))
            fitted[left_out] = self._group_models[left_out] if left_out in self._group_models else self._fit_without(left_out)
            answered.append((fitted[left_out], members))
        if fitted:
            self._group_models = fitted
        return answered

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query, the query's own examples left out; passages the model does
        not score follow as filler (score 0, corpus order)."""
        k = min(k, len(self.corpus))
        results: list[list[Hit]] = [[] for _ in queries]
        for model, members in self.models_for(queries):
            ranked = self.score(model, self.query_matrix([queries[i] for i in members])) if model is not None and members else [
                [] for _ in members]
            for i, hits in zip(members, ranked, strict=True):
                known = {index for index, _ in hits}
                results[i] = [*hits, *((index, 0.0) for index in range(len(self.corpus)) if index not in known)][:k]
        return results


class ExamplesRetriever(CrossFitted[int]):
    """Rules ranked by a linear classifier fitted on labelled questions (see the module docstring)."""

    name = "examples"

    def __init__(self, corpus: Corpus, examples: Sequence[Example], *, c: float = 0.5) -> None:
        self.c = c
        super().__init__(corpus, examples)

    def targets(self, example: Example) -> list[int]:
        return list(self.corpus.passages_for(example.label))

    def texts(self, question: str) -> tuple[str, ...]:
        return question_features(question)

    def text_features(self) -> TextFeatures:
        return _question_columns()

    def fit(self, matrix, targets: list[int]) -> _Classifier:
        return _Classifier(matrix, targets, c=self.c)

    def score(self, model: _Classifier, matrix) -> list[list[Hit]]:
        return model.rank(matrix)
