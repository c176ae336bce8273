"""BLEURT on the reason, from PyTorch BLEURT-20 checkpoints, without TensorFlow.

The organizers use Google's TensorFlow BLEURT with BLEURT-20. Its PyTorch port
(``lucadiliello/BLEURT-20`` and the distilled ``-D12``, ``-D6``, ``-D3``) stores a
``bleurt`` model: config ``model_type: "bleurt"``, weights named ``bleurt.*`` and
``classifier.*``, a sentencepiece ``spm.model``. That network is RemBERT-shaped
(small embeddings projected to the hidden size, a tanh pooler, a one-unit head),
so the weights are loaded into transformers' ``RemBertForSequenceClassification``
by renaming keys. Inputs follow BLEURT's own encoder: sentencepiece pieces,
``[CLS] reference [SEP] candidate [SEP]`` with segment ids 0/1, the pair truncated
longest-first to ``max_seq_length``. The score is the head's output.

Open point: the activation is the checkpoint's ``hidden_act`` as transformers maps it
("gelu" is the exact erf form, as in the PyTorch port). Google's TF BERT code uses
the tanh approximation for "gelu"; whether the exported BLEURT-20 graph does could not
be checked offline. The two differ by less than 1e-3 per activation; a check of the
real checkpoint against published TF scores is still to do.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from ..batching import BatchSize, BatchSizer
from ..cache import LRUCache
from ..errors import ModelLoadError
from .pairwise import pair_matrices
from .progress import report
from .loading import check_model, load_error, model_from_env, quiet_hub_logs, resolve_device

DEFAULT_MODEL = "lucadiliello/BLEURT-20"
MODEL_VARIABLE = "MALPYEONG_BLEURT_MODEL"
DEFAULT_BATCH_SIZE = 32
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_KEY_RENAMES = (("bleurt.", "rembert."), ("encoder.embedding_projection.", "encoder.embedding_hidden_mapping_in."))


def _model_directory(model: str, files: tuple[str, ...] = ("config.json", "spm.model", *_WEIGHT_FILES)) -> Path:
    """The local directory of ``model``: itself, or the Hub snapshot holding ``files``."""
    path = Path(model)
    if path.is_dir():
        return path
    if path.exists() or model.startswith((".", "/", "~")):
        raise FileNotFoundError(f"{model} is not a model directory")
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(model, allow_patterns=list(files)))


def _read_config(directory: Path) -> dict[str, Any]:
    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    if not isinstance(config, dict) or config.get("model_type") != "bleurt":
        found = config.get("model_type") if isinstance(config, dict) else None
        raise ValueError(f"config.json has model_type {found!r}, expected 'bleurt'")
    return config


def _max_length(config: dict[str, Any]) -> int:
    return config.get("max_seq_length") or config.get("max_position_embeddings", 512)


def _activation(hidden_act: str) -> str:
    """The feed-forward activation as run here: the config's ``gelu`` is the exact (erf) GELU, as in
    the PyTorch port; whether TF BLEURT-20 uses the tanh approximation is open (malpyeong_eval/docs/scoring.md §3)."""
    return {"gelu": "gelu-exact-erf", "gelu_new": "gelu-tanh", "gelu_pytorch_tanh": "gelu-tanh"}.get(hidden_act, str(hidden_act))


def bleurt_model(model: str | None) -> str:
    """The BLEURT checkpoint: ``model``, else ``MALPYEONG_BLEURT_MODEL``, else BLEURT-20."""
    return model or model_from_env(DEFAULT_MODEL, MODEL_VARIABLE)


def bleurt_config(model: str) -> str:
    """BLEURT's configuration string, from the checkpoint's ``config.json`` only (no weights loaded):
    the checkpoint, its sequence length, the architecture and activation, torch's and transformers' versions."""
    check_model(model, "BLEURT", "--bleurt-model", MODEL_VARIABLE, tokenizer=True)
    try:
        with quiet_hub_logs():
            config = _read_config(_model_directory(model, ("config.json",)))
    except Exception as exc:  # any failure to find or read the checkpoint's config
        raise load_error("BLEURT", model, "--bleurt-model", MODEL_VARIABLE, exc) from None
    return _config_string(model, config)


def _config_string(model: str, config: dict[str, Any]) -> str:
    return (
        f"bleurt(model={model},max_length={_max_length(config)},arch=rembert,"
        f"activation={_activation(config.get('hidden_act', 'gelu'))},torch={version('torch')},"
        f"transformers={version('transformers')})"
    )


def _read_state_dict(directory: Path) -> dict[str, Any]:
    import torch
    from safetensors.torch import load_file

    if (directory / "model.safetensors").exists():
        return load_file(str(directory / "model.safetensors"))
    if (directory / "pytorch_model.bin").exists():
        return torch.load(directory / "pytorch_model.bin", map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no {' or '.join(_WEIGHT_FILES)} in {directory}")


def rembert_config_from_bleurt(config: dict[str, Any]):
    """The ``RemBertConfig`` with the shape of a ``bleurt`` config."""
    from transformers import RemBertConfig

    embedding_size = config.get("embedding_size") or config["hidden_size"]
    return RemBertConfig(  # type: ignore[call-arg]  # num_labels and the like: PretrainedConfig's **kwargs
        vocab_size=config["vocab_size"],
        hidden_size=config["hidden_size"],
        num_hidden_layers=config["num_hidden_layers"],
        num_attention_heads=config["num_attention_heads"],
        intermediate_size=config["intermediate_size"],
        hidden_act=config.get("hidden_act", "gelu"),
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        classifier_dropout_prob=0.0,
        max_position_embeddings=config.get("max_position_embeddings", 512),
        type_vocab_size=config.get("type_vocab_size", 2),
        layer_norm_eps=config.get("layer_norm_eps", 1e-12),
        input_embedding_size=embedding_size,
        output_embedding_size=embedding_size,
        pad_token_id=config.get("pad_token_id", 0),
        bos_token_id=None,
        eos_token_id=None,
        num_labels=1,
    )


def load_bleurt_model(directory: Path):
    """Build ``RemBertForSequenceClassification`` from a BLEURT-layout directory (strict key match)."""
    import torch
    from transformers import RemBertForSequenceClassification

    config = _read_config(directory)
    model = RemBertForSequenceClassification(rembert_config_from_bleurt(config))
    state = {}
    for key, tensor in _read_state_dict(directory).items():
        if key.endswith("position_ids"):
            continue
        for old, new in _KEY_RENAMES:
            key = key.replace(old, new)
        state[key] = tensor
    if not config.get("embedding_size") or config["embedding_size"] == config["hidden_size"]:
        projection = "rembert.encoder.embedding_hidden_mapping_in"
        state.setdefault(f"{projection}.weight", torch.eye(config["hidden_size"]))
        state.setdefault(f"{projection}.bias", torch.zeros(config["hidden_size"]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(f"weights do not fit a bleurt model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model.eval(), config


class BleurtTokenizer:
    """BLEURT's pair encoding over a sentencepiece model."""

    def __init__(self, spm_file: str | Path, max_length: int = 512) -> None:
        import sentencepiece

        self.processor = sentencepiece.SentencePieceProcessor(model_file=str(spm_file))
        self.max_length = max_length
        unk = self.processor.unk_id()
        self.cls_id, self.sep_id = self.processor.piece_to_id("[CLS]"), self.processor.piece_to_id("[SEP]")
        if unk in (self.cls_id, self.sep_id):
            raise ValueError(f"{spm_file} has no [CLS]/[SEP] pieces")

    def encode_pair(self, reference: str, candidate: str) -> tuple[list[int], list[int]]:
        """Input ids and segment ids of ``[CLS] reference [SEP] candidate [SEP]``."""
        ref, cand = self.processor.encode(reference), self.processor.encode(candidate)
        while len(ref) + len(cand) > self.max_length - 3:  # BLEURT's _truncate_seq_pair
            (ref if len(ref) > len(cand) else cand).pop()
        ids = [self.cls_id, *ref, self.sep_id, *cand, self.sep_id]
        return ids, [0] * (len(ref) + 2) + [1] * (len(cand) + 1)


class BleurtScorer:
    """Keeps one BLEURT checkpoint loaded; scores pairs in length-sorted batches.

    BLEURT reads reference and candidate together, so nothing per text can be reused;
    each distinct pair is scored once and kept (``cache_size`` pairs) for later calls.

    ``model`` is a local directory in the ``lucadiliello/BLEURT-20`` layout, or a Hub
    id where the network allows.
    """

    def __init__(
        self, model: str | None = None, device: str | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
        cache_size: int = 16384,
    ) -> None:
        """``batch_size``: the default of each :meth:`score` call that gives none."""
        self.model_name = bleurt_model(model)
        self.device = resolve_device(device)
        self.batch = BatchSizer(default=batch_size)
        check_model(self.model_name, "BLEURT", "--bleurt-model", MODEL_VARIABLE, tokenizer=True)
        try:
            with quiet_hub_logs():
                directory = _model_directory(self.model_name)
                self.model, checkpoint_config = load_bleurt_model(directory)
            self.tokenizer = BleurtTokenizer(directory / "spm.model", max_length=_max_length(checkpoint_config))
        except ModelLoadError:
            raise
        except Exception as exc:  # any failure to find, read or fit the checkpoint
            raise load_error("BLEURT", self.model_name, "--bleurt-model", MODEL_VARIABLE, exc) from None
        self.model.to(self.device)  # the device was checked by resolve_device
        self._config = _config_string(self.model_name, checkpoint_config)  # the config.json just read, not again
        self._pair_scores: LRUCache[tuple[str, str], float] = LRUCache(size=cache_size)

    @property
    def config(self) -> str:
        """Names the exact configuration, recorded with every score (:func:`bleurt_config`)."""
        return self._config

    def score(self, references: Sequence[str], predictions: Sequence[str], batch_size: BatchSize = None) -> list[float]:
        """BLEURT score of each prediction (candidate) against its reference, in batches of ``batch_size``
        (``None``: the scorer's default; ``auto``: the largest that fits)."""
        import torch

        if len(references) != len(predictions):
            raise ValueError("references and predictions differ in length")
        scores: dict[tuple[str, str], float] = {}
        pairs = []
        for pair in dict.fromkeys(zip(references, predictions, strict=True)):
            cached = self._pair_scores.get(pair)
            if cached is None:
                pairs.append(pair)
            else:
                scores[pair] = cached
        encoded = [self.tokenizer.encode_pair(ref, cand) for ref, cand in pairs]
        order = sorted(range(len(pairs)), key=lambda i: len(encoded[i][0]), reverse=True)
        done = 0

        def run(positions: list[int]) -> None:
            nonlocal done
            batch = [order[i] for i in positions]
            width = len(encoded[batch[0]][0])
            input_ids = torch.zeros((len(batch), width), dtype=torch.long)
            segments = torch.zeros_like(input_ids)
            mask = torch.zeros_like(input_ids)
            for row, index in enumerate(batch):
                ids, segment_ids = encoded[index]
                input_ids[row, : len(ids)] = torch.tensor(ids)
                segments[row, : len(ids)] = torch.tensor(segment_ids)
                mask[row, : len(ids)] = 1
            logits = self.model(
                input_ids=input_ids.to(self.device),
                token_type_ids=segments.to(self.device),
                attention_mask=mask.to(self.device),
            ).logits
            for row, index in enumerate(batch):
                scores[pairs[index]] = float(logits[row, 0])
                self._pair_scores.put(pairs[index], scores[pairs[index]])
            done += len(batch)
            report("BLEURT (pairs scored)", done, len(order))

        with torch.inference_mode():
            self.batch.run(len(order), batch_size, run)
        return [scores[pair] for pair in zip(references, predictions, strict=True)]

    def pair_matrices(self, text_sets: Sequence[Sequence[str]], batch_size: BatchSize = None) -> list[np.ndarray]:
        """Each set's matrix of every text against every other (:func:`.pairwise.pair_matrices`):
        BLEURT reads a pair together, so nothing per text is reused; every ordered pair of every set
        goes through :meth:`score` in one call (its length-sorted batches span the sets, a pair met
        twice is scored once), so ``M[i, j]`` is ``score([texts[j]], [texts[i]])``."""
        return pair_matrices(text_sets, lambda references, predictions: self.score(references, predictions, batch_size))
