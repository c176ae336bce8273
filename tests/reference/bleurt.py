"""BLEURT by hand: a forward pass over the raw ``bleurt.*`` tensors of a BLEURT-20-layout checkpoint.

Derived from the spec text (malpyeong_eval/docs/scoring.md §3 "BLEURT": the raw regression head's
output for reference = gold reason, candidate = predicted reason, BLEURT's own sentencepiece pair
encoding) and the published BLEURT-20 layout, not from ``malpyeong_eval``: no transformers classes,
no renaming, no package code. A test of ``malpyeong_eval.metrics.bleurt`` against it proves
fidelity; it is used by ``tests/test_bleurt.py`` and ``tests/reference/scoring.py``.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import sentencepiece
import torch
import torch.nn.functional as F
from safetensors.torch import load_file


@functools.lru_cache(maxsize=4)
def _checkpoint(directory: str) -> tuple[dict, dict, sentencepiece.SentencePieceProcessor]:
    """The raw tensors, the config and the sentencepiece model of one folder, read once."""
    folder = Path(directory)
    weights = load_file(str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    return weights, config, sentencepiece.SentencePieceProcessor(model_file=str(folder / "spm.model"))


def direct_bleurt(directory: str, reference: str, candidate: str) -> float:
    """BLEURT(reference, candidate) by hand from the raw ``bleurt.*`` tensors of ``directory``."""
    w, config, sp = _checkpoint(str(directory))
    ref, cand = sp.encode(reference), sp.encode(candidate)
    ids = torch.tensor([sp.piece_to_id("[CLS]"), *ref, sp.piece_to_id("[SEP]"), *cand, sp.piece_to_id("[SEP]")])
    types = torch.tensor([0] * (len(ref) + 2) + [1] * (len(cand) + 1))
    e = "bleurt.embeddings."
    x = w[e + "word_embeddings.weight"][ids] + w[e + "token_type_embeddings.weight"][types]
    x = x + w[e + "position_embeddings.weight"][: len(ids)]
    x = F.layer_norm(x, x.shape[-1:], w[e + "LayerNorm.weight"], w[e + "LayerNorm.bias"], 1e-12)
    x = x @ w["bleurt.encoder.embedding_projection.weight"].T + w["bleurt.encoder.embedding_projection.bias"]
    heads = config["num_attention_heads"]
    size = config["hidden_size"] // heads

    def linear(name, h):
        return h @ w[name + ".weight"].T + w[name + ".bias"]

    with torch.no_grad():
        for i in range(config["num_hidden_layers"]):
            p = f"bleurt.encoder.layer.{i}."
            q, k, v = (linear(p + f"attention.self.{n}", x).view(-1, heads, size).transpose(0, 1) for n in ("query", "key", "value"))
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(size), dim=-1)
            context = (attention @ v).transpose(0, 1).reshape(len(ids), -1)
            ln = p + "attention.output.LayerNorm"
            x = F.layer_norm(x + linear(p + "attention.output.dense", context), x.shape[-1:], w[ln + ".weight"], w[ln + ".bias"], 1e-12)
            inner = F.gelu(linear(p + "intermediate.dense", x))
            ln = p + "output.LayerNorm"
            x = F.layer_norm(x + linear(p + "output.dense", inner), x.shape[-1:], w[ln + ".weight"], w[ln + ".bias"], 1e-12)
        pooled = torch.tanh(linear("bleurt.pooler.dense", x[0]))
        return float(linear("classifier", pooled)[0])
