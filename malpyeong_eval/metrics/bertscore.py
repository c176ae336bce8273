"""BERTScore F1 on the reason, through ``bert_score`` as the organizers call it.

The organizers use ``evaluate.load("bertscore")`` with ``bert-base-multilingual-cased``:
layer 9 (bert_score's default for that model), no idf, no baseline rescaling.
``evaluate`` fetches its script from the Hub, so we call ``bert_score.BERTScorer``,
which is what that script calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..errors import ModelLoadError
from .models import check_hub_reachable, load_error, model_from_env, quiet_hub_logs, resolve_device

DEFAULT_MODEL = "bert-base-multilingual-cased"
MODEL_VARIABLE = "MALPYEONG_BERTSCORE_MODEL"


def default_layer(model: str) -> int | None:
    """bert_score's default layer for ``model`` (also for a local copy named like a known model)."""
    from bert_score.utils import model2layers

    return model2layers.get(model, model2layers.get(Path(model).name))


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

    ``bert_score`` removes duplicate texts, sorts them by length and embeds them in
    batches under ``torch.no_grad``.
    """

    def __init__(
        self,
        model: str | None = None,
        num_layers: int | None = None,
        device: str | None = None,
        batch_size: int = 64,
    ) -> None:
        self.model = model or model_from_env(DEFAULT_MODEL, MODEL_VARIABLE)
        self.num_layers = num_layers if num_layers is not None else default_layer(self.model)
        if self.num_layers is None:
            raise ModelLoadError(
                f"BERTScore model {self.model!r} is unknown to bert_score: give its layer with --bertscore-layers"
            )
        self.device = resolve_device(device)
        self.batch_size = batch_size
        from bert_score import BERTScorer

        try:
            check_hub_reachable(self.model)
            with quiet_hub_logs():
                self._scorer = BERTScorer(
                    model_type=self.model, num_layers=self.num_layers, device=self.device, batch_size=batch_size
                )
        except (OSError, ValueError, EnvironmentError, AssertionError) as exc:
            raise load_error("BERTScore", self.model, "--bertscore-model", MODEL_VARIABLE, exc) from None

        _encode_empty_text_as_special_tokens(self._scorer._tokenizer)

    @property
    def config(self) -> str:
        """bert_score's own hash of the configuration (model, layer, idf, rescaling, versions)."""
        return f"bertscore({self._scorer.hash})"

    def score(self, references: Sequence[str], predictions: Sequence[str]) -> list[float]:
        """BERTScore F1 of each prediction against its reference."""
        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        if not references:
            return []
        _, _, f1 = self._scorer.score(list(predictions), list(references), batch_size=self.batch_size)
        return [float(value) for value in f1.tolist()]
