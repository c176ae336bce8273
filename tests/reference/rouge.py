"""A deliberately plain ROUGE-1: the five steps of malpyeong_eval/docs/scoring.md §3, written out as the organizers' py-rouge does them.

Derived from the spec text (malpyeong_eval/docs/scoring.md §3, "ROUGE-1" steps 1-5), not from
``malpyeong_eval``: it shares no code with the package's scorer, so a test against it proves
fidelity to the spec. Used as the reference in tests (``tests/test_rouge.py``,
``tests/test_registry.py``, ``tests/reference/scoring.py``) and benchmarks.
"""

from __future__ import annotations

import re
from collections import Counter

import mecab

_mecab = mecab.MeCab()


def plain_tokens(text: str) -> list[str]:
    # 1. join lines with spaces; keep the first 1000 whitespace-separated words
    text = " ".join(text.split("\n"))
    text = " ".join(text.split()[:1000])
    # 2. lowercase; every char outside [A-Za-z0-9가-힣] becomes a space; strip
    text = re.sub(r"[^A-Za-z0-9가-힣]", " ", text.lower()).strip()
    # 3. Mecab morphemes (one Python object per morpheme, like konlpy)
    return _mecab.morphs(text)


def plain_rouge1(reference: str, prediction: str) -> float:
    ref_tokens, pred_tokens = plain_tokens(reference), plain_tokens(prediction)
    # 4. multiset overlap of unigrams; P, R, F with 0 where P or R is 0
    overlap = sum((Counter(ref_tokens) & Counter(pred_tokens)).values())
    precision = overlap / len(pred_tokens) if pred_tokens else 0.0
    recall = overlap / len(ref_tokens) if ref_tokens else 0.0
    if precision == 0 or recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def plain_rouge1_mean(references: list[str], predictions: list[str]) -> float:
    # 5. mean of per-item F over all items
    scores = [plain_rouge1(r, p) for r, p in zip(references, predictions, strict=True)]
    return sum(scores) / len(scores)
