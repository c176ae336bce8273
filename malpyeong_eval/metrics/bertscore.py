"""BERTScore F1 on the reason, through ``bert_score`` as the organizers call it.

The organizers use ``evaluate.load("bertscore")`` with ``bert-base-multilingual-cased``:
layer 9 (bert_score's default for that model), no idf, no baseline rescaling.
``evaluate`` fetches its script from the Hub, so we load the model with
``bert_score.BERTScorer`` and compute each score with bert_score's own
``get_bert_embedding`` and ``greedy_cos_idf``, as its ``bert_cos_score_idf`` does (those
and the scorer's loaded tokenizer and model are private: :mod:`._vendor_api` wraps them).
What differs is reuse: each text's embedding is kept in a bounded LRU cache across
calls, so a reference shared by many completions (GRPO groups, every checkpoint on
one dev set) is embedded once; texts are embedded in batches sorted by token length.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..cache import LRUCache
from ..errors import ModelLoadError
from ..batching import BatchSize, BatchSizer
from ._vendor_api import bert_embeddings, bert_score_layers, bert_scorer_parts, bertscore_hash, encoded_length, greedy_f1
from .pairwise import pair_matrices
from .progress import report
from .loading import check_model, load_error, model_from_env, quiet_hub_logs, resolve_device

DEFAULT_MODEL = "bert-base-multilingual-cased"
MODEL_VARIABLE = "MALPYEONG_BERTSCORE_MODEL"
DEFAULT_BATCH_SIZE = 64


def default_layer(model: str) -> int | None:
    """bert_score's default layer for ``model`` (also for a local copy named like a known model)."""
    layers = bert_score_layers()
    return layers.get(model, layers.get(Path(model).name))


def model_and_layer(model: str | None, num_layers: int | None) -> tuple[str, int]:
    """The BERTScore model (``MALPYEONG_BERTSCORE_MODEL``, else mBERT) and its layer (bert_score's
    default for it unless given); a model bert_score does not know needs its layer given."""
    model = model or model_from_env(DEFAULT_MODEL, MODEL_VARIABLE)
    layer = num_layers if num_layers is not None else default_layer(model)
    if layer is None:
        raise ModelLoadError(f"BERTScore model {model!r} is unknown to bert_score: give its layer with --bertscore-layers")
    return model, layer


def bertscore_config(model: str, num_layers: int) -> str:
    """BERTScore's configuration string, computed without loading the model: bert_score's own hash
    (model, layer, no idf, no rescaling, bert_score's and transformers' versions), as
    ``BERTScorer.hash`` gives it for the scorer built here."""
    return f"bertscore({bertscore_hash(model, num_layers)})"


def _encode_empty_text_as_special_tokens(tokenizer) -> None:
    """bert_score encodes an empty text with ``build_inputs_with_special_tokens([])``, which
    transformers 5 tokenizers no longer have; give it back its transformers-4 result
    (``[CLS] [SEP]``), so an empty reason scores 0 as it did for the organizers."""
    if not hasattr(tokenizer, "build_inputs_with_special_tokens"):
        special_only = tokenizer.encode("", add_special_tokens=True)

        def build_inputs_with_special_tokens(ids: list[int], pair: list[int] | None = None) -> list[int]:
            if ids or pair:
                raise NotImplementedError("only an empty text is encoded this way")
            return list(special_only)

        tokenizer.build_inputs_with_special_tokens = build_inputs_with_special_tokens


class BertScoreScorer:
    """Keeps one BERT loaded and scores many (reference, prediction) pairs, batched.

    ``cache_size`` references keep their embeddings between calls (0 turns the cache off);
    predictions are embedded once per call and not kept (in GRPO they rarely come back).
    """

    def __init__(
        self,
        model: str | None = None,
        num_layers: int | None = None,
        device: str | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        cache_size: int = 2048,
    ) -> None:
        """``batch_size``: the default of each :meth:`score` call that gives none."""
        self.model, self.num_layers = model_and_layer(model, num_layers)
        self.device = resolve_device(device)
        self.batch = BatchSizer(default=batch_size)
        from bert_score import BERTScorer

        check_model(self.model, "BERTScore", "--bertscore-model", MODEL_VARIABLE, tokenizer=True)
        try:
            with quiet_hub_logs():
                # its batch size is never used: scoring runs bert_score's functions in our own batches
                self._scorer = BERTScorer(model_type=self.model, num_layers=self.num_layers, device=self.device)
        except Exception as exc:  # any failure to read or fit the model: one line
            raise load_error("BERTScore", self.model, "--bertscore-model", MODEL_VARIABLE, exc) from None
        tokenizer, bert_model = bert_scorer_parts(self._scorer)
        self._tokenizer, self._model = tokenizer, bert_model
        _encode_empty_text_as_special_tokens(tokenizer)
        positions = getattr(bert_model.config, "max_position_embeddings", None)
        if positions and not tokenizer.model_max_length <= positions:  # unset (huge) limits would overflow
            tokenizer.model_max_length = positions
        self._idf: defaultdict[int, float] = defaultdict(lambda: 1.0)  # no idf: every token 1, [SEP] and [CLS] 0, as bert_score
        self._idf[tokenizer.sep_token_id] = 0
        self._idf[tokenizer.cls_token_id] = 0
        self._embeddings: LRUCache[str, tuple[Any, Any]] = LRUCache(size=cache_size)

    @property
    def config(self) -> str:
        """bert_score's own hash of the configuration (:func:`bertscore_config`)."""
        return bertscore_config(self.model, self.num_layers)

    def _embed(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize) -> dict[str, tuple]:
        """(embedding, idf) of each distinct text, unpadded: references from the cache when they are
        there, the rest embedded in length-sorted batches; new references are cached."""
        found: dict[str, Any] = {text: self._embeddings.get(text) for text in dict.fromkeys([*references, *predictions])}
        keep = set(references)
        missing = [text for text, value in found.items() if value is None]
        missing.sort(key=lambda text: encoded_length(self._tokenizer, text), reverse=True)
        embedded = 0

        def embed(indices: list[int]) -> None:
            nonlocal embedded
            batch = [missing[i] for i in indices]
            embeddings, masks, idf = bert_embeddings(batch, self._model, self._tokenizer, self._idf, self.device)
            embeddings, masks, idf = embeddings.cpu(), masks.cpu(), idf.cpu()
            for row, text in enumerate(batch):
                length = int(masks[row].sum())
                # copies, so that a cached text does not keep its whole batch alive
                found[text] = (embeddings[row, :length].clone(), idf[row, :length].clone())
                if text in keep:
                    self._embeddings.put(text, found[text])
            embedded += len(batch)
            report("BERTScore (texts embedded)", embedded, len(missing))

        self.batch.run(len(missing), batch_size, embed)
        return found

    def _padded(self, texts: Sequence[str], stats: dict[str, tuple]):
        import torch
        from torch.nn.utils.rnn import pad_sequence

        embeddings = [stats[text][0].to(self.device) for text in texts]
        idf = [stats[text][1].to(self.device) for text in texts]
        lengths = torch.tensor([e.size(0) for e in embeddings])
        mask = (torch.arange(int(lengths.max())).expand(len(texts), -1) < lengths.unsqueeze(1)).to(self.device)
        return pad_sequence(embeddings, batch_first=True, padding_value=2.0), mask, pad_sequence(idf, batch_first=True)

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """BERTScore F1 of each prediction against its reference, in batches of ``batch_size`` (``None``:
        the scorer's default; ``auto``: the largest that fits)."""
        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        return self._compare(references, predictions, self._embed(references, predictions, batch_size), batch_size)

    def pair_matrices(self, text_sets: Sequence[Sequence[str]], batch_size: BatchSize = None) -> list[np.ndarray]:
        """Each set's matrix of every text against every other (:func:`.pairwise.pair_matrices`): each
        distinct text of all the sets embedded once (uncached: sampled candidates rarely come back),
        then each unordered pair of every set matched once, in batches (F1 is symmetric: precision
        and recall swap), so that ``M[i, j]`` is ``score([texts[j]], [texts[i]])`` up to float rounding."""
        stats = self._embed([], [text for texts in text_sets for text in texts], batch_size)
        return pair_matrices(text_sets, lambda references, predictions: self._compare(references, predictions, stats, batch_size),
                             symmetric=True)

    def _compare(self, references: Sequence[str], predictions: Sequence[str], stats: dict[str, tuple],
                 batch_size: BatchSize) -> list[float]:
        """F1 of each pair from the texts' embeddings ``stats`` (:meth:`_embed`), in batches."""
        import torch

        scores: list[float] = [0.0] * len(references)

        def compare(indices: list[int]) -> None:
            f1 = greedy_f1(self._padded([references[i] for i in indices], stats),
                           self._padded([predictions[i] for i in indices], stats))
            for i, value in zip(indices, f1.cpu().tolist(), strict=True):
                scores[i] = float(value)

        with torch.inference_mode():
            self.batch.run(len(references), batch_size, compare)
        return scores
