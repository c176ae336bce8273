"""The norm category of a question — the part of its rule's heading before `` - `` (``한글 맞춤법, 표준어
규정``, ``문장 부호``, ``띄어쓰기``, ``외래어 표기법``) — predicted as probabilities.

Much of the category is written in the question itself: an ``{A/B}`` whose options differ by a
space only is about spacing, by a punctuation mark only about punctuation, a Latin-origin word
(Latin letters, or a syllable such as ``쥬``/``쵸`` that only a loanword's spelling has) about
loanwords; and the instruction around the sentence is worded differently for some categories
(``띄어쓰기가 올바른 것을``, ``문장 부호가 ... 맞지 않는 부분을``). :func:`evidence` names that
evidence as tokens; :class:`CategoryRetriever` learns from labelled questions how it and the
question's own features (:func:`.examples.question_features`) map to the category: a logistic
regression per category, one against the rest (scikit-learn's ``LogisticRegression``, liblinear;
the probabilities normalised), over TF-IDF features of the evidence, the instruction's words and the
question's features.

As a retriever part (``--retriever ...,category``) a passage scores the probability of its
category, so that it ranks whole categories; its real use is as a feature of the learned fusion
(:mod:`.learned`), where a probability, not a hard filter, lets a misrouted question still find
its rule. The guard against leakage is :class:`.examples.CrossFitted`'s, as for the examples part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from .base import Hit, Query
from .corpus import Corpus
from .examples import CrossFitted, Example, TextFeatures, question_features
from .metrics import category_of
from .question import _QUOTES, PUNCTUATION_NAMES, QuestionView, _is_punctuation, read_question

__all__ = ["CategoryRetriever", "category_of", "evidence", "looks_loanword"]

_LATIN = re.compile(r"[A-Za-z]")
# 'ㅈ, ㅊ' with a y-glide: never in a native word's spelling, common in a loanword misspelt (쥬스, 쵸콜릿)
_PALATAL_GLIDE = frozenset("쟈쟤져졔죠쥬챠챼쳐쳬쵸츄쨔쪄쬬쮸")
# syllables far more frequent in loanwords than in native words
_LOAN_SYLLABLES = frozenset("케테페쿠투푸퓨뷰듀튜샤쇼슈셔셰숍샵켓킷릿렛텔컴콘캐패섀쉬쉽챔팸캠밸랜엑텍")
EVIDENCE_WEIGHT = 2.0


def looks_loanword(word: str) -> bool:
    """Whether ``word`` is written like a loanword: Latin letters, a 'ㅈ, ㅊ' with a y-glide, or
    two syllables of the loanword set.

    >>> [looks_loanword(word) for word in ("쥬스를", "메시지", "케이크", "커피(coffee)", "붇기")]
    [True, False, False, True, False]
    """
    if _LATIN.search(word) or any(char in _PALATAL_GLIDE for char in word):
        return True
    return sum(char in _LOAN_SYLLABLES for char in word) >= 2


def _without_marks(text: str) -> str:
    return "".join(char for char in text if char != " " and not _is_punctuation(char))


def _group_evidence(a: str, b: str) -> list[str]:
    """How two options of one ``{A/B}`` differ: by spaces only, by marks only, by jamo, or by words."""
    tokens = []
    if a.replace(" ", "") == b.replace(" ", ""):
        tokens.append("ev:space-only")
    elif _without_marks(a) == _without_marks(b):
        tokens.append("ev:punct-only")
    elif len(a) == len(b):
        tokens.append("ev:same-length")
    else:
        tokens.append("ev:words")
    if looks_loanword(a) or looks_loanword(b):
        tokens.append("ev:loanword")
    return tokens


def _sentence_evidence(sentence: str) -> list[str]:
    """What the sentence itself shows: the marks inside it (not the final one), loanword-like words, digits."""
    body = sentence.rstrip(".?!\"'”’ ")
    tokens = [f"mark:{PUNCTUATION_NAMES.get(char, char)}" for char in body if _is_punctuation(char) and char not in "{}/"]
    if any(looks_loanword(word) for word in sentence.split()):
        tokens.append("ev:loanword-in-sentence")
    if any(char.isdigit() for char in sentence):
        tokens.append("ev:digits")
    return tokens


def instruction(question: str) -> str:
    """The question without its quoted sentence: the instruction's own words."""
    marks = [i for i, char in enumerate(question) if char in _QUOTES]
    if len(marks) < 2:
        return ""
    return (question[:marks[0]] + " " + question[marks[-1] + 1:]).strip()


@lru_cache(maxsize=65536)
def evidence(question: str) -> tuple[str, ...]:
    """The category evidence of ``question`` as tokens (see the module docstring).

    >>> evidence('"나는 그를 {본 지/본지} 오래되었다." 가운데 올바른 것을 선택하고, 그 이유를 설명하세요.')
    ('ev:space-only',)
    >>> evidence('"{쥬스/주스}를 마셨다."')
    ('ev:same-length', 'ev:loanword', 'ev:loanword-in-sentence')
    """
    view: QuestionView = read_question(question)
    tokens = [] if view.groups else ["ev:no-alternatives"]
    for group in view.groups:
        for a, b in pairwise(group):
            tokens += _group_evidence(a, b)
    tokens += _sentence_evidence(view.variants[0] if view.variants else view.sentence)
    return tuple(dict.fromkeys(tokens))


def category_features(question: str) -> tuple[str, str, str, str, str]:
    """The five texts a question's category is featurized from: evidence, instruction, and
    :func:`.examples.question_features`."""
    return (" ".join(evidence(question)), instruction(question) or "∅", *question_features(question))


def _category_columns() -> TextFeatures:
    """The vectorizers of :func:`category_features`: evidence ×2, the instruction's words and word
    pairs, then :func:`.examples.question_features`'s three."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    def tokens() -> TfidfVectorizer:
        return TfidfVectorizer(analyzer=str.split, lowercase=False, sublinear_tf=True)

    return TextFeatures([
        (tokens(), EVIDENCE_WEIGHT),
        (TfidfVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"\S+", sublinear_tf=True), 1.0),
        (TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True), 1.0),
        (tokens(), 1.0),
        (tokens(), 1.0),
    ])


class _CategoryClassifier:
    """A logistic regression per category, one against the rest (liblinear), probabilities normalised."""

    def __init__(self, matrix, categories: Sequence[str], *, c: float) -> None:
        self.classes = sorted(set(categories))
        if len(self.classes) > 1:
            from sklearn.linear_model import LogisticRegression
            from sklearn.multiclass import OneVsRestClassifier

            # one-vs-rest liblinear: as accurate here as the multinomial lbfgs and ten times faster
            self.model = OneVsRestClassifier(LogisticRegression(C=c, solver="liblinear")).fit(matrix, list(categories))
            self.classes = [str(label) for label in self.model.classes_]

    def probabilities(self, matrix) -> list[dict[str, float]]:
        if len(self.classes) == 1:
            return [{self.classes[0]: 1.0} for _ in range(matrix.shape[0])]
        return [dict(zip(self.classes, map(float, row), strict=True)) for row in self.model.predict_proba(matrix)]


class CategoryRetriever(CrossFitted[str]):
    """Passages scored by the probability of their category given the question (see the module docstring).

    A passage whose category no labelled question has is filler (score 0).
    """

    name = "category"

    def __init__(self, corpus: Corpus, examples: Sequence[Example], *, c: float = 4.0) -> None:
        self.c = c
        self.passage_categories = [category_of(passage.title) for passage in corpus.passages]
        super().__init__(corpus, examples)

    def targets(self, example: Example) -> list[str]:
        found = {self.passage_categories[index] for index in self.corpus.passages_for(example.label)}
        return sorted(category for category in found if category)

    def texts(self, question: str) -> tuple[str, ...]:
        return category_features(question)

    def text_features(self) -> TextFeatures:
        return _category_columns()

    def fit(self, matrix, targets: list[str]) -> _CategoryClassifier:
        return _CategoryClassifier(matrix, targets, c=self.c)

    def probabilities(self, queries: Sequence[Query]) -> list[dict[str, float]]:
        """Each query's category probabilities, from a model that did not learn from the query itself."""
        found: list[dict[str, float]] = [{} for _ in queries]
        for model, members in self.models_for(queries):
            if model is None or not members:
                continue
            for i, probabilities in zip(members, model.probabilities(self.query_matrix([queries[i] for i in members])),
                                        strict=True):
                found[i] = probabilities
        return found

    def score(self, model: _CategoryClassifier, matrix) -> list[list[Hit]]:
        ranked = []
        for probabilities in model.probabilities(matrix):
            scored = [(index, probabilities.get(category, 0.0)) for index, category in enumerate(self.passage_categories)]
            ranked.append(sorted((hit for hit in scored if hit[1] > 0), key=lambda hit: -hit[1]))
        return ranked
