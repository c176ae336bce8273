"""BM25 (bm25s) over a corpus's passages, with Mecab morphemes or character n-grams, the index built
once per corpus and cached on disk.

A query is read with :func:`.question.read_question`: the sentence's variants and the names of the
marks its alternatives differ by, never the instruction around them.

The cache lives under ``platformdirs.user_cache_dir("malpyeong-eval")/bm25/`` (or
``$MALPYEONG_CACHE_DIR/bm25/``, or the ``cache_dir`` given), one folder per key: the corpus's
sha256, the tokenizer (and for Mecab the tagger's and dictionary's versions), bm25s's version and the BM25
parameters. A changed corpus file has another hash, so its index is built afresh; an unchanged
one is loaded, not rebuilt (:attr:`BM25Retriever.built` says which happened).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .base import TOKENIZERS, Hit, Query, tokenizer_version
from .corpus import Corpus
from .question import read_question

__all__ = ["BM25Index", "BM25Retriever", "default_cache_dir"]

_log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """Where indexes are cached: ``$MALPYEONG_CACHE_DIR`` or the per-user cache folder."""
    root = os.environ.get("MALPYEONG_CACHE_DIR")
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir("malpyeong-eval"))


class BM25Index:
    """BM25 over token lists (bm25s): ``search(token_lists, k)`` → per query, ``(row, score)`` best first.

    A query with no token the index knows matches nothing: it gets no hits.
    """

    def __init__(self, model) -> None:
        self.model = model
        self.vocab = model.vocab_dict
        self.size = int(model.scores["num_docs"])

    @classmethod
    def build(cls, token_lists: list[list[str]], *, k1: float = 1.5, b: float = 0.75, method: str = "lucene") -> BM25Index:
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, method=method)
        # bm25s refuses an empty document list and a document without tokens: give those one unseen token
        model.index([tokens or ["\x00"] for tokens in token_lists] or [["\x00"]], show_progress=False)
        return cls(model)

    def search(self, token_lists: Sequence[list[str]], k: int) -> list[list[Hit]]:
        k = min(k, self.size)
        known = [[token for token in tokens if token in self.vocab] for tokens in token_lists]
        asked = [i for i, tokens in enumerate(known) if tokens]
        found: dict[int, list[Hit]] = {}
        if asked and k > 0:
            documents, scores = self.model.retrieve([known[i] for i in asked], k=k, show_progress=False, return_as="tuple")
            for row, i in enumerate(asked):
                found[i] = [(int(d), float(s)) for d, s in zip(documents[row], scores[row], strict=True) if s > 0]
        return [found.get(i, []) for i in range(len(token_lists))]


class BM25Retriever:
    """BM25 (bm25s, ``method`` variant, ``k1``, ``b``) over the tokens of each passage's title and text.

    ``tokenizer``: ``mecab`` (morphemes; the retriever is named ``bm25-mecab``) or ``char``
    (character n-grams, ``bm25-char``). A query that shares no token with the corpus gets every
    passage at score 0, in corpus order.
    """

    def __init__(
        self,
        corpus: Corpus,
        *,
        tokenizer: str = "mecab",
        cache_dir: str | Path | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        use_cache: bool = True,
    ) -> None:
        import bm25s

        self.corpus = corpus
        self.tokenize = TOKENIZERS[tokenizer]
        self.name = f"bm25-{tokenizer}"
        self.params = {"k1": k1, "b": b, "method": method}
        key_source = json.dumps(
            {"corpus": corpus.sha256, "tokens": tokenizer_version(tokenizer), "bm25s": bm25s.__version__, **self.params},
            sort_keys=True,
        )
        self.cache_key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
        self.index_dir = Path(cache_dir or default_cache_dir()) / "bm25" / self.cache_key
        self.built = False
        model = self._load() if use_cache else None
        if model is None:
            index = BM25Index.build([self.tokenize(passage.render()) for passage in corpus.passages], k1=k1, b=b, method=method)
            self.built = True
            if use_cache:
                self._save(index.model)
        else:
            index = BM25Index(model)
        self.index = index

    def _load(self):
        """The cached index, or ``None`` (then built): none cached, or an entry that fails to load (a
        zero-length or hand-edited file: numpy's ``EOFError`` included, which the command line would
        otherwise take for a Ctrl-C), which is said on the ``malpyeong_eval`` logger and rebuilt."""
        import bm25s

        if not (self.index_dir / "complete").exists():
            return None
        try:
            model = bm25s.BM25.load(str(self.index_dir), show_progress=False)
            rows = int(model.scores["num_docs"])
        except Exception as exc:  # a cache entry is an optimisation: whatever is wrong with it, build it again
            _log.warning("note: the cached BM25 index %s could not be read (%s: %s); rebuilding it",
                         self.index_dir, type(exc).__name__, str(exc).splitlines()[0][:100] if str(exc) else "")
            return None
        if rows != len(self.corpus):  # the index must belong to this corpus: one row per passage
            _log.warning("note: the cached BM25 index %s holds %d passages, not the corpus's %d; rebuilding it",
                         self.index_dir, rows, len(self.corpus))
            return None
        return model

    def _save(self, model) -> None:
        self.index_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=self.index_dir.parent))
        try:
            model.save(str(staging), show_progress=False)
            (staging / "complete").write_text(self.corpus.name + "\n", encoding="utf-8")
            if self.index_dir.exists():
                shutil.rmtree(self.index_dir, ignore_errors=True)
            os.replace(staging, self.index_dir)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # the cache is an optimisation: go on without it

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by BM25 score, best first (fewer when the corpus is smaller)."""
        return self.search_texts([read_question(query.question).query_text() for query in queries], k)

    def search_texts(self, texts: Sequence[str], k: int) -> list[list[Hit]]:
        """The same for free texts, matched as they are (no question reading): e.g. a gold answer's reason."""
        k = min(k, len(self.corpus))
        token_lists = [self.tokenize(text) for text in texts]
        results = []
        for hits in self.index.search(token_lists, k):
            seen = {index for index, _ in hits}
            # passages the query shares nothing with follow at score 0, in corpus order
            results.append([*hits, *((index, 0.0) for index in range(len(self.corpus)) if index not in seen)][:k])
        return results
