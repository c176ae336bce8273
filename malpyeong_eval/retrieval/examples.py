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
the examples of that group's queries (cross-fitting: one model per group, not one per item);
:attr:`ExamplesRetriever.self_excluded` counts the queries that had their own examples left out.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from .base import Hit, Query, morphemes
from .corpus import Corpus
from .question import read_question

__all__ = ["CROSS_FIT_GROUPS", "Example", "ExamplesRetriever", "question_features"]

CROSS_FIT_GROUPS = 5
DIFFERENCE_WEIGHT = 2.0
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Example:
    """A labelled question: its id, its text and the rule (or rules) it is about."""

    id: str | None
    question: str
    label: str | tuple[str, ...]


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


class _Classifier:
    """TF-IDF features and a one-vs-rest linear SVM over (features, passage index) rows."""

    def __init__(self, features: Sequence[tuple[str, str, str]], classes: Sequence[int], *, c: float) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.svm import LinearSVC

        self.vectorizers = [
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
            TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True),
            TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True),
        ]
        self.weights = (1.0, DIFFERENCE_WEIGHT, 1.0)
        self.labels = sorted(set(classes))
        matrix = self._matrix(features, fit=True)
        if len(self.labels) > 1:
            with warnings.catch_warnings():  # many rules with one question each is the normal case here
                warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
                self.model = LinearSVC(C=c, random_state=0).fit(matrix, list(classes))
            self.labels = [int(label) for label in self.model.classes_]

    def _matrix(self, features: Sequence[tuple[str, str, str]], *, fit: bool = False):
        from scipy.sparse import hstack

        parts = []
        for column, (vectorizer, weight) in enumerate(zip(self.vectorizers, self.weights, strict=True)):
            texts = [row[column] for row in features]
            parts.append(weight * (vectorizer.fit_transform(texts) if fit else vectorizer.transform(texts)))
        return hstack(parts).tocsr()

    def rank(self, features: Sequence[tuple[str, str, str]]) -> list[list[Hit]]:
        """Per query, every class the model knows with its decision value (shifted to be positive), best first."""
        if len(self.labels) == 1:
            return [[(self.labels[0], 1.0)] for _ in features]
        import numpy as np

        decisions = self.model.decision_function(self._matrix(features))
        if decisions.ndim == 1:  # two classes: one column, positive for the second
            decisions = np.stack([-decisions, decisions], axis=1)
        ranked = []
        for row in decisions:
            order = np.argsort(-row, kind="stable")
            # decision values are signed; shift so the worst known class still scores above filler's 0
            floor = float(row.min()) - 1.0
            ranked.append([(self.labels[j], float(row[j]) - floor) for j in order])
        return ranked


class ExamplesRetriever:
    """Rules ranked by a linear classifier fitted on labelled questions (see the module docstring)."""

    name = "examples"

    def __init__(self, corpus: Corpus, examples: Sequence[Example], *, c: float = 0.5) -> None:
        self.corpus = corpus
        self.c = c
        self.rows: list[tuple[Example, int]] = []  # one row per (example, passage its label names)
        self.unmatched = 0  # examples whose label names no passage of the corpus
        for example in examples:
            matched = corpus.passages_for(example.label)
            self.unmatched += not matched
            self.rows += [(example, index) for index in matched]
        self._features = [question_features(example.question) for example, _ in self.rows]
        self._rows_of: dict[str, set[int]] = {}  # "id:…" and "text:…" keys → rows
        for row, (example, _) in enumerate(self.rows):
            for key in _self_keys(example.id, example.question):
                self._rows_of.setdefault(key, set()).add(row)
        self._full = self._fit(set())
        self.self_excluded = 0

    def _fit(self, left_out: set[int]) -> _Classifier | None:
        kept = [row for row in range(len(self.rows)) if row not in left_out]
        if not kept:
            return None
        return _Classifier([self._features[row] for row in kept], [self.rows[row][1] for row in kept], c=self.c)

    def own_rows(self, query: Query) -> set[int]:
        """The rows that are ``query`` itself: the same id or the same question text."""
        return set().union(*(self._rows_of.get(key, set()) for key in _self_keys(query.id, query.question)))

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by the classifier's decision value, the query's own examples left out."""
        k = min(k, len(self.corpus))
        own = [self.own_rows(query) for query in queries]
        # queries that are examples: dealt into groups, each answered by a model fitted without the group's own rows
        group_of = {}
        for position, i in enumerate(i for i, rows in enumerate(own) if rows):
            group_of[i] = position % CROSS_FIT_GROUPS
        self.self_excluded += len(group_of)
        models: dict[int | None, _Classifier | None] = {None: self._full}
        for group in set(group_of.values()):
            models[group] = self._fit(set().union(*(own[i] for i, g in group_of.items() if g == group)))
        features = [question_features(query.question) for query in queries]
        results: list[list[Hit]] = [[] for _ in queries]
        for answered_by, model in models.items():
            members = [i for i in range(len(queries)) if group_of.get(i) == answered_by]
            ranked = model.rank([features[i] for i in members]) if model is not None and members else [[] for _ in members]
            for i, hits in zip(members, ranked, strict=True):
                known = {index for index, _ in hits}
                results[i] = [*hits, *((index, 0.0) for index in range(len(self.corpus)) if index not in known)][:k]
        return results
