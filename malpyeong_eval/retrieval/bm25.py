"""BM25 over Mecab morphemes (bm25s), the index built once per corpus and cached on disk.

The cache lives under ``platformdirs.user_cache_dir("malpyeong-eval")/bm25/`` (or
``$MALPYEONG_CACHE_DIR/bm25/``, or the ``cache_dir`` given), one folder per key: the corpus's
sha256, the morpheme analysis (tagger and dictionary versions), bm25s's version and the BM25
parameters. A changed corpus file has another hash, so its index is built afresh; an unchanged
one is loaded, not rebuilt (:attr:`BM25Retriever.built` says which happened).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .base import Hit, morphemes, tokenizer_version
from .corpus import Corpus

__all__ = ["BM25Retriever", "default_cache_dir"]


def default_cache_dir() -> Path:
    """Where indexes are cached: ``$MALPYEONG_CACHE_DIR`` or the per-user cache folder."""
    root = os.environ.get("MALPYEONG_CACHE_DIR")
    if root:
        return Path(root)
    import platformdirs

    return Path(platformdirs.user_cache_dir("malpyeong-eval"))


class BM25Retriever:
    """BM25 (bm25s, ``method`` variant, ``k1``, ``b``) over the morphemes of each passage's title and text."""

    name = "bm25-mecab"

    def __init__(
        self,
        corpus: Corpus,
        *,
        cache_dir: str | Path | None = None,
        k1: float = 1.5,
        b: float = 0.75,
        method: str = "lucene",
        use_cache: bool = True,
    ) -> None:
        import bm25s

        self.corpus = corpus
        self.params = {"k1": k1, "b": b, "method": method}
        key_source = json.dumps(
            {"corpus": corpus.sha256, "tokens": tokenizer_version(), "bm25s": bm25s.__version__, **self.params},
            sort_keys=True,
        )
        self.cache_key = hashlib.sha256(key_source.encode()).hexdigest()[:32]
        self.index_dir = Path(cache_dir or default_cache_dir()) / "bm25" / self.cache_key
        self.built = False
        self._model = self._load() if use_cache else None
        if self._model is None:
            self._model = self._build()
            self.built = True
            if use_cache:
                self._save(self._model)
        self._vocab = self._model.vocab_dict

    def _build(self):
        import bm25s

        model = bm25s.BM25(k1=self.params["k1"], b=self.params["b"], method=self.params["method"])
        model.index([morphemes(passage.render()) for passage in self.corpus.passages], show_progress=False)
        return model

    def _load(self):
        import bm25s

        if not (self.index_dir / "complete").exists():
            return None
        try:
            model = bm25s.BM25.load(str(self.index_dir), show_progress=False)
        except (OSError, ValueError, KeyError):  # a damaged cache entry is rebuilt
            return None
        # the index must belong to this corpus: one row per passage
        return model if int(model.scores["num_docs"]) == len(self.corpus) else None

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

    def search(self, queries: Sequence[str], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by BM25 score, best first (fewer when the corpus is smaller)."""
        k = min(k, len(self.corpus))
        results: list[list[Hit]] = []
        token_lists = [[token for token in morphemes(query) if token in self._vocab] for query in queries]
        known = [i for i, tokens in enumerate(token_lists) if tokens]
        by_query: dict[int, list[Hit]] = {}
        if known and k > 0:
            documents, scores = self._model.retrieve(
                [token_lists[i] for i in known], k=k, show_progress=False, return_as="tuple"
            )
            for row, i in enumerate(known):
                by_query[i] = [(int(d), float(s)) for d, s in zip(documents[row], scores[row])]
        for i in range(len(queries)):
            # a query with no known morpheme matches nothing: every passage scores 0, corpus order
            results.append(by_query.get(i, [(index, 0.0) for index in range(k)]))
        return results
