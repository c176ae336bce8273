"""ROUGE-1 on the reason, as the organizers compute it (malpyeong_eval/docs/scoring.md §3).

Their fork of py-rouge with konlpy's Mecab: join lines, keep the first 1000 words,
lowercase, replace every char outside ``[A-Za-z0-9가-힣]`` with a space, strip, split
into Mecab morphemes; F1 of the unigram multiset overlap. ``rouge_score`` with
:class:`MecabTokenizer` gives the same numbers bit for bit.

Speed: Mecab's output is read as one string (``-Owakati``) instead of one Python
object per morpheme, and each text's unigram counts are kept in a bounded LRU
cache, so a reference shared by many predictions (GRPO groups, every checkpoint on
one dev set) is analysed once. Scoring uses rouge-score's overlap rule and
F-measure on those cached counts (through :mod:`._vendor_api`, which keeps every dependency
detail this needs in one place; nothing here imports nltk, which rouge-score's ``rouge_scorer`` and
``tokenizers`` modules would). Mecab's analysis of each distinct text stays the
floor of the cost: about a third of what the plain algorithm spends per text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from importlib.metadata import version

import numpy as np

from ..batching import BatchSize
from ..cache import LRUCache
from ._vendor_api import mecab_wakati_tagger, unigram_fmeasure
from .pairwise import pair_matrices

MAX_WORDS = 1000
_NOT_KEPT = re.compile(r"[^A-Za-z0-9가-힣]")


def clean_text(text: str, max_words: int = MAX_WORDS) -> str:
    """Steps 1-2 of the organizers' preprocessing: the text Mecab sees."""
    words = " ".join(text.split("\n")).split()
    return _NOT_KEPT.sub(" ", " ".join(words[:max_words]).lower()).strip()


class MecabTokenizer:
    """A ``rouge_score`` tokenizer: the organizers' cleaning, then Mecab (mecab-ko-dic) morphemes.

    Pass it as ``RougeScorer(["rouge1"], tokenizer=MecabTokenizer())``: rouge-score calls only
    ``tokenize``. It does not subclass ``rouge_score.tokenizers.Tokenizer``, whose module imports
    nltk (about 3 s per process) for a Porter stemmer this never uses.

    >>> MecabTokenizer().tokenize("우동이 불을 것 같아!")
    ['우동', '이', '불', '을', '것', '같', '아']
    """

    def __init__(self, cache_size: int = 65536) -> None:
        self._tagger = mecab_wakati_tagger()
        self._cached_tokens: LRUCache[str, list[str]] = LRUCache(self.analyse, cache_size)

    def analyse(self, text: str) -> list[str]:
        """Morphemes of ``text`` after the organizers' cleaning (no cache)."""
        cleaned = clean_text(text)
        return self._tagger.parse(cleaned).split() if cleaned else []

    def tokenize(self, text: str) -> list[str]:
        return self._cached_tokens(text)


def rouge1_config() -> str:
    """ROUGE-1's configuration string (the algorithm, its word limit, the tokenizer's and rouge-score's versions)."""
    return (
        f"rouge1(organizers-py-rouge,max_words={MAX_WORDS},tokenizer=mecab-ko-dic "
        f"python-mecab-ko={version('python-mecab-ko')},rouge-score={version('rouge-score')})"
    )


class Rouge1Scorer:
    """ROUGE-1 F1 of predicted reasons against gold reasons, the organizers' way.

    >>> Rouge1Scorer().score(["어간이 바뀐다.", "어간이 바뀐다."], ["어간이 바뀐다.", "어간"])
    [1.0, 0.5]
    """

    def __init__(self, cache_size: int = 65536) -> None:
        self.tokenizer = MecabTokenizer(cache_size=0)
        # unigram counts keyed by token (rouge-score keys them by 1-tuples: same counts, less work)
        self._unigrams: LRUCache[str, Counter[str]] = LRUCache(lambda text: Counter(self.tokenizer.analyse(text)), cache_size)

    @property
    def config(self) -> str:
        """Names the exact configuration, recorded with every score."""
        return rouge1_config()

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """F1 of each predicted reason against its gold reason (``batch_size``: unused, no batches)."""
        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        return _f1(references, predictions, self._unigrams)

    def pair_matrices(self, text_sets: Sequence[Sequence[str]], batch_size: BatchSize = None) -> list[np.ndarray]:
        """Each set's matrix of every text against every other (:func:`.pairwise.pair_matrices`): each
        distinct text analysed by Mecab once (whatever the cache size), each unordered pair's F1 from
        those counts (F1 is symmetric, to the bit), so that ``M[i, j]`` is exactly ``score([texts[j]], [texts[i]])``.

        >>> Rouge1Scorer().pair_matrices([["어간이 바뀐다.", "어간"]])[0].tolist()
        [[nan, 0.5], [0.5, nan]]
        """
        counts = {text: self._unigrams(text) for texts in text_sets for text in texts}
        return pair_matrices(text_sets, lambda references, predictions: _f1(references, predictions, counts.__getitem__),
                             symmetric=True)


def _f1(references: Sequence[str], predictions: Sequence[str], counts: Callable[[str], Counter[str]]) -> list[float]:
    """ROUGE-1 F1 of each pair from the texts' unigram counts."""
    return [unigram_fmeasure(counts(reference), counts(prediction)) for reference, prediction in zip(references, predictions, strict=True)]
