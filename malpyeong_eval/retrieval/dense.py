"""Dense retrieval with a sentence-transformers model (the optional ``dense`` extra).

Passages (``"{title}\\n{text}"``) and queries are embedded with the model and normalised;
the score is their cosine similarity. Needs ``pip install 'malpyeong-eval[dense]'``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import MalpyeongError, ModelLoadError
from .base import Hit, Query
from .corpus import Corpus
from .question import read_question

__all__ = ["DEFAULT_DENSE_MODEL", "DenseRetriever"]

DEFAULT_DENSE_MODEL = "sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2"
INSTALL_HINT = "dense retrieval needs sentence-transformers: pip install 'malpyeong-eval[dense]'"


class DenseRetriever:
    """Cosine similarity of sentence-transformers embeddings; the passages are embedded once."""

    def __init__(self, corpus: Corpus, model: str = DEFAULT_DENSE_MODEL, *, device: str | None = None,
                 batch_size: int = 32) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MalpyeongError(INSTALL_HINT) from None
        self.corpus = corpus
        self.model_name = model
        self.name = f"dense:{model}"
        self.batch_size = batch_size
        from ..metrics.loading import check_model, one_line

        check_model(model, "dense", "--dense-model")
        try:
            self._model = SentenceTransformer(model, device=device)
        except Exception as exc:  # a damaged folder fails in any way
            raise ModelLoadError(f"dense model {model!r} cannot be loaded: {one_line(exc)}") from None
        self._passages = self._encode([passage.render() for passage in corpus.passages])

    def _encode(self, texts: list[str]):
        return self._model.encode(
            texts, batch_size=self.batch_size, convert_to_tensor=True, normalize_embeddings=True, show_progress_bar=False
        )

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        """Top-``k`` passages per query by cosine similarity, best first."""
        import torch

        k = min(k, len(self.corpus))
        if not queries or k == 0:
            return [[] for _ in queries]
        similarity = self._encode([read_question(query.question).query_text() for query in queries]) @ self._passages.T
        scores, indices = torch.topk(similarity.float(), k=k, dim=1)
        return [
            [(int(i), float(s)) for i, s in zip(row_indices.tolist(), row_scores.tolist(), strict=True)]
            for row_indices, row_scores in zip(indices, scores, strict=True)
        ]
