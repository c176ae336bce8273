"""GPU check: generation, scoring and GRPO at the real models' shapes, random weights, one process.

Builds on the spot (no download) a Qwen3-1.7B-shaped policy, an mBERT-shaped BERT and a
BLEURT-20-shaped RemBERT, with random weights and small tokenizers trained on the packaged
sample (the models keep their real vocabulary sizes), then measures, each section on its own
with the GPU's peak-memory counter reset and the previous section's models freed:

- ``generation_batched``: ``malpyeong-eval run``'s machinery (``CheckpointRunner`` and its
  transformers generator: batched, left padding, length-sorted, bf16 on CUDA): items/s;
- ``generation_baseline``: the organizers' one-item-at-a-time loop
  (``benchmarks/baseline_generate.py``) on the same model, dtype and device: items/s;
- ``bertscore`` and ``bleurt``: the project's scorers on distinct (reference, prediction) reason
  pairs: pairs/s;
- ``grpo``: ``train``'s machinery (TRL's GRPOTrainer, a LoRA adapter, the ``format`` and
  ``contest`` rewards with BERTScore and BLEURT on the same device): s/step, and whether the
  peak fits a 24 GB card.

The policy's generation config has no end-of-sequence token, so every item spends its whole
token budget (a random model's outputs mean nothing; only their cost is measured). vLLM is not
measured here. A section whose packages are missing is reported as ``skipped`` with the reason;
one that fails is ``failed`` with its error, and the others still run (exit status 1).

    python benchmarks/gpu_check.py --output benchmarks/results/gpu_check.json   # a CUDA GPU, real shapes
    python benchmarks/gpu_check.py --tiny --output /tmp/gpu_check.json           # CPU, tiny shapes, < 1 min
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import gc
import importlib
import itertools
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every model is local; the lent machine has no network
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SECTIONS = ("generation_batched", "generation_baseline", "bertscore", "bleurt", "grpo")
# what each section imports (import names); a missing one makes the section ``skipped``
NEEDS = {
    "generation_batched": ("torch", "transformers", "tokenizers"),
    "generation_baseline": ("torch", "transformers", "tokenizers"),
    "bertscore": ("torch", "transformers", "tokenizers", "bert_score"),
    "bleurt": ("torch", "transformers", "tokenizers", "sentencepiece", "safetensors"),
    "grpo": ("torch", "transformers", "tokenizers", "trl", "datasets", "peft", "accelerate", "bert_score",
             "sentencepiece", "safetensors", "mecab"),
}
VERSIONS = ("torch", "transformers", "peft", "trl", "accelerate", "datasets", "bert-score", "tokenizers",
            "sentencepiece", "python-mecab-ko")
SHAPES: dict[str, dict[str, Any]] = {
    "real": {
        "policy": {"architecture": "Qwen3ForCausalLM (Qwen3-1.7B)", "hidden_size": 2048, "num_hidden_layers": 28,
                   "num_attention_heads": 16, "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 6144,
                   "vocab_size": 151936, "max_position_embeddings": 40960, "tie_word_embeddings": True},
        "bert": {"architecture": "BertModel (bert-base-multilingual-cased)", "hidden_size": 768, "num_hidden_layers": 12,
                 "num_attention_heads": 12, "intermediate_size": 3072, "vocab_size": 119547,
                 "max_position_embeddings": 512, "bertscore_layer": 9},
        "bleurt": {"architecture": "bleurt / RemBertForSequenceClassification (BLEURT-20)", "hidden_size": 1152,
                   "embedding_size": 256, "num_hidden_layers": 32, "num_attention_heads": 18, "intermediate_size": 4608,
                   "vocab_size": 119547, "max_position_embeddings": 512},
    },
    "tiny": {  # vocab_size None: the local tokenizer's size
        "policy": {"architecture": "Qwen3ForCausalLM (tiny)", "hidden_size": 64, "num_hidden_layers": 2,
                   "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 128,
                   "vocab_size": None, "max_position_embeddings": 4096, "tie_word_embeddings": True},
        "bert": {"architecture": "BertModel (tiny)", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "intermediate_size": 64, "vocab_size": None, "max_position_embeddings": 512, "bertscore_layer": 2},
        "bleurt": {"architecture": "bleurt / RemBertForSequenceClassification (tiny)", "hidden_size": 32,
                   "embedding_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
                   "vocab_size": None, "max_position_embeddings": 512},
    },
}
WORKLOADS = {  # the defaults of each shape set; flags override them
    "real": {"items": 127, "max_new_tokens": 256, "batch_size": 32, "baseline_items": 8, "pairs": 127,
             "grpo_steps": 4, "grpo_completion_length": 256, "grpo_batch_size": 4, "grpo_generations": 4,
             "grpo_accumulation": 2},
    "tiny": {"items": 8, "max_new_tokens": 16, "batch_size": 4, "baseline_items": 8, "pairs": 8,
             "grpo_steps": 2, "grpo_completion_length": 16, "grpo_batch_size": 4, "grpo_generations": 4,
             "grpo_accumulation": 1},
}
GIB = 2**30
CARD_GIB = 24
CUDA_CONTEXT_GIB = 1.0  # what the CUDA context and kernels take outside PyTorch's allocator (an allowance)
FITS_RULE = f"peak reserved by PyTorch's allocator + {CUDA_CONTEXT_GIB:g} GiB for the CUDA context <= {CARD_GIB} GiB"


class Skipped(Exception):
    """A section that cannot run here (a package is missing); its message is the reason."""


@dataclasses.dataclass
class Check:
    """Everything the sections share: options, device, the folders of the built models."""

    args: argparse.Namespace
    device: str
    shapes: dict[str, dict[str, Any]]
    folder: Path
    texts: list[str]
    without: frozenset[str]
    built: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    @property
    def cuda(self) -> bool:
        return self.device.startswith("cuda")

    @property
    def dtype(self):
        """The policy's dtype as ``run`` loads it: bf16 on a CUDA device that has it, else float32."""
        import torch

        return torch.bfloat16 if self.cuda and torch.cuda.is_bf16_supported() else torch.float32


# -- packages ------------------------------------------------------------------------------------------


@contextlib.contextmanager
def packages_disabled(names: frozenset[str]) -> Iterator[None]:
    """Make ``import NAME`` fail for each name (as if not installed); undone on exit."""
    saved = {name: sys.modules[name] for name in names if name in sys.modules}
    for name in names:
        sys.modules[name] = None  # type: ignore[assignment]  # the import system raises ImportError
    try:
        yield
    finally:
        for name in names:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                sys.modules.pop(name, None)


def require(check: Check, section: str) -> None:
    """Import what ``section`` needs; raise :class:`Skipped` naming the first that is missing."""
    for name in NEEDS[section]:
        if name in check.without:
            raise Skipped(f"needs {name}, disabled by --without {name}")
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise Skipped(f"needs {name}, which is not installed here ({str(exc).splitlines()[0][:120]})") from None


def package_versions(without: frozenset[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in VERSIONS:
        module = name.replace("-", "_").replace("python_mecab_ko", "mecab")
        try:
            found[name] = None if module in without else version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


# -- memory --------------------------------------------------------------------------------------------


def free_memory(check: Check) -> None:
    """Drop pooled scorers; on a GPU also collect unreachable models and give cached blocks back.

    On CPU no memory is measured, so the full collection (about 0.3 s each, a dozen a run) is left
    to Python's own collector."""
    try:
        from malpyeong_eval.metrics.pool import clear_scorers

        clear_scorers()
    except ImportError:
        pass
    if check.cuda:
        import torch

        gc.collect()
        torch.cuda.empty_cache()


@contextlib.contextmanager
def memory_measured(check: Check, record: dict[str, Any]) -> Iterator[None]:
    """Record the section's peak GPU memory (allocated and reserved, GiB) in ``record``; on CPU, null."""
    free_memory(check)
    if not check.cuda:
        yield
        record.update(peak_allocated_gib=None, peak_reserved_gib=None)
        return
    import torch

    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    record["allocated_before_gib"] = round(torch.cuda.memory_allocated() / GIB, 3)
    try:
        yield
    finally:
        torch.cuda.synchronize()
        record["peak_allocated_gib"] = round(torch.cuda.max_memory_allocated() / GIB, 3)
        record["peak_reserved_gib"] = round(torch.cuda.max_memory_reserved() / GIB, 3)


# -- models --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def default_dtype(dtype) -> Iterator[None]:
    import torch

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def build_policy(check: Check) -> Path:
    """The tiny Qwen2 chat model's tokenizer and template (``tiny_models``), with a Qwen3 of the chosen
    shape saved over its weights: random, built on the device in the dtype ``run`` loads it in."""
    if "policy" in check.built:
        return Path(check.built["policy"]["path"])
    import torch
    from transformers import AutoTokenizer, Qwen3Config, Qwen3ForCausalLM

    from malpyeong_eval.tiny_models import build_tiny_qwen2

    start = time.perf_counter()
    directory = check.folder / "policy"
    build_tiny_qwen2(directory, check.texts)
    for stale in directory.glob("*.safetensors"):
        stale.unlink()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    shape = {k: v for k, v in check.shapes["policy"].items() if k != "architecture"}
    shape["vocab_size"] = shape["vocab_size"] or len(tokenizer)
    config = Qwen3Config(**shape, pad_token_id=tokenizer.pad_token_id, bos_token_id=None, eos_token_id=None)
    torch.manual_seed(check.args.seed)
    with default_dtype(check.dtype), torch.device(check.device):
        model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = None  # no early stop: every item spends the whole budget
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(directory)
    del model
    free_memory(check)
    check.built["policy"] = {"path": str(directory), "parameters": parameters, "dtype": str(check.dtype),
                             "tokenizer_vocab": len(tokenizer), "build_s": round(time.perf_counter() - start, 2)}
    return directory


def build_bert(check: Check) -> Path:
    """``tiny_models``' WordPiece tokenizer with a BERT of the chosen shape (float32, as mBERT ships)."""
    if "bert" in check.built:
        return Path(check.built["bert"]["path"])
    import torch
    from transformers import BertConfig, BertModel

    from malpyeong_eval.tiny_models import build_tiny_bert

    start = time.perf_counter()
    directory = check.folder / "bert"
    build_tiny_bert(directory, check.texts)
    tokenizer_vocab = len((directory / "vocab.txt").read_text(encoding="utf-8").splitlines())
    shape = {k: v for k, v in check.shapes["bert"].items() if k not in ("architecture", "bertscore_layer")}
    shape["vocab_size"] = shape["vocab_size"] or tokenizer_vocab
    torch.manual_seed(check.args.seed)
    with default_dtype(torch.float32), torch.device(check.device):
        model = BertModel(BertConfig(**shape))
    parameters = sum(p.numel() for p in model.parameters())
    model.save_pretrained(directory)
    del model
    free_memory(check)
    check.built["bert"] = {"path": str(directory), "parameters": parameters, "dtype": "torch.float32",
                           "tokenizer_vocab": tokenizer_vocab, "build_s": round(time.perf_counter() - start, 2)}
    return directory


def build_bleurt(check: Check) -> Path:
    """``tiny_models``' BLEURT-layout folder (sentencepiece model) with weights of the chosen shape: a
    random ``RemBertForSequenceClassification`` saved under the checkpoint's ``bleurt.*`` names, which
    the project's loader maps back."""
    if "bleurt" in check.built:
        return Path(check.built["bleurt"]["path"])
    import sentencepiece
    import torch
    from safetensors.torch import save_file
    from transformers import RemBertForSequenceClassification

    from malpyeong_eval.tiny_models import TINY_BLEURT_CONFIG, build_tiny_bleurt
    from malpyeong_eval.metrics.bleurt import rembert_config_from_bleurt

    start = time.perf_counter()
    directory = check.folder / "bleurt"
    build_tiny_bleurt(directory, check.texts)
    tokenizer_vocab = sentencepiece.SentencePieceProcessor(model_file=str(directory / "spm.model")).get_piece_size()
    shape = {k: v for k, v in check.shapes["bleurt"].items() if k != "architecture"}
    shape["vocab_size"] = shape["vocab_size"] or tokenizer_vocab
    config = {**TINY_BLEURT_CONFIG, **shape}
    torch.manual_seed(check.args.seed)
    with default_dtype(torch.float32), torch.device(check.device):
        model = RemBertForSequenceClassification(rembert_config_from_bleurt(config))
    parameters = sum(p.numel() for p in model.parameters())
    state = {}
    for key, tensor in model.state_dict().items():
        key = key.replace("encoder.embedding_hidden_mapping_in.", "encoder.embedding_projection.")
        state[key.replace("rembert.", "bleurt.", 1)] = tensor.detach().contiguous().cpu()
    del model
    save_file(state, str(directory / "model.safetensors"))
    del state
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    free_memory(check)
    check.built["bleurt"] = {"path": str(directory), "parameters": parameters, "dtype": "torch.float32",
                             "tokenizer_vocab": tokenizer_vocab, "build_s": round(time.perf_counter() - start, 2)}
    return directory


# -- data ----------------------------------------------------------------------------------------------


def contest_items(count: int) -> list:
    """``count`` items: the packaged sample's, repeated as needed under new ids."""
    from malpyeong_eval.data import load_items, sample_path

    sample = load_items(sample_path("gold"))
    return [dataclasses.replace(sample[i % len(sample)], id=sample[i % len(sample)].id + (f"-{i // len(sample)}" if i >= len(sample) else ""))
            for i in range(count)]


def reason_pairs(count: int, tag: str = "") -> tuple[list[str], list[str]]:
    """``count`` distinct (gold reason, submitted reason) pairs from the packaged sample."""
    from malpyeong_eval.data import load_items, sample_path
    from malpyeong_eval.parsing import split_answer

    golds = [split_answer(item.answer).reason or item.answer for item in load_items(sample_path("gold"))]
    predictions = [split_answer(item.answer).reason or item.answer for item in load_items(sample_path("submission"))]
    references, candidates = [], []
    for i in range(count):
        mark = f"{tag} ({i // len(golds)})" if i >= len(golds) or tag else ""
        references.append(golds[i % len(golds)] + mark)
        candidates.append(predictions[i % len(predictions)] + mark)
    return references, candidates


def finite(values: list[float]) -> bool:
    return all(isinstance(v, float) and math.isfinite(v) for v in values)


# -- sections ------------------------------------------------------------------------------------------


def section_generation_batched(check: Check) -> dict[str, Any]:
    from transformers import AutoTokenizer, GenerationConfig

    from malpyeong_eval.checkpoints import resolve_targets
    from malpyeong_eval.generation import EngineOptions, GenerationSettings, render_prompts
    from malpyeong_eval.prompts import load_prompt
    from malpyeong_eval.runner import CheckpointRunner

    policy = build_policy(check)
    args = check.args
    items = contest_items(args.items)
    prompt = load_prompt()
    marks: list[tuple[float, int]] = []
    runner = CheckpointRunner(
        items, data=None, dataset_name="gpu-check", prompt=prompt,
        settings=GenerationSettings(max_new_tokens=args.max_new_tokens), batch_size=args.batch_size,
        runs_root=check.folder / "runs", engine=EngineOptions(device=check.device),
        progress=lambda name, done, total: marks.append((time.perf_counter(), done)),
    )
    (target,) = resolve_targets(str(policy))
    start = time.perf_counter()
    outcome = runner.run(target)
    seconds = marks[-1][0] - marks[0][0]  # from the model loaded and prompts rendered to the last batch
    generated = sum(isinstance(text, str) for text in outcome.predictions.values())
    stops_early = GenerationConfig.from_pretrained(policy).eos_token_id is not None
    tokenizer = AutoTokenizer.from_pretrained(policy)
    lengths = [len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in render_prompts(tokenizer, prompt, items)]
    return {
        "items": generated, "items_asked": args.items, "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size, "seconds": round(seconds, 3), "items_per_s": generated / seconds,
        "new_tokens_per_s": generated * args.max_new_tokens / seconds,
        "batch_seconds": [round(b[0] - a[0], 3) for a, b in itertools.pairwise(marks)],
        "load_s": round(marks[0][0] - start, 3), "mean_prompt_tokens": sum(lengths) / len(lengths),
        "dtype": str(check.dtype), "stops_at_eos": stops_early,
    }


def section_generation_baseline(check: Check) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from benchmarks.baseline_generate import generate_one_at_a_time

    policy = build_policy(check)
    args = check.args
    items = contest_items(args.items)[: args.baseline_items]
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(policy)
    model = AutoModelForCausalLM.from_pretrained(policy, dtype=check.dtype).to(check.device).eval()
    loaded = time.perf_counter()
    results = generate_one_at_a_time(model, tokenizer, items, args.max_new_tokens)
    seconds = time.perf_counter() - loaded
    del model
    return {
        "items": len(results), "items_asked": len(items), "max_new_tokens": args.max_new_tokens, "batch_size": 1,
        "seconds": round(seconds, 3), "items_per_s": len(results) / seconds,
        "new_tokens_per_s": len(results) * args.max_new_tokens / seconds, "load_s": round(loaded - start, 3),
        "dtype": str(check.dtype),
        "note": f"the first {len(items)} of the {args.items} items (--baseline-items); items/s is a rate per item",
    }


def _pairs_section(check: Check, make_scorer: Callable[[], Any], again: bool) -> dict[str, Any]:
    args = check.args
    start = time.perf_counter()
    scorer = make_scorer()
    loaded = time.perf_counter()
    scorer.score(*reason_pairs(4, tag=" warm-up"))  # CUDA kernels and allocator warmed on other texts
    references, predictions = reason_pairs(args.pairs)
    begin = time.perf_counter()
    values = scorer.score(references, predictions)
    seconds = time.perf_counter() - begin
    record = {"pairs": len(values), "pairs_asked": args.pairs, "distinct_pairs": len(set(zip(references, predictions, strict=True))),
              "seconds": round(seconds, 4), "pairs_per_s": len(values) / seconds, "load_s": round(loaded - start, 3),
              "batch_size": scorer.batch.default, "values_finite": finite(values), "config": scorer.config}
    if again:  # references now cached, predictions embedded again (a GRPO step's case)
        begin = time.perf_counter()
        scorer.score(references, predictions)
        record["pairs_per_s_references_cached"] = len(values) / (time.perf_counter() - begin)
        auto = scorer.score(references, predictions, "auto")  # --batch-size auto: the same scores, the size that fitted
        record["auto_batch_size"] = scorer.batch.fitted
        record["auto_equals_fixed"] = max((abs(a - b) for a, b in zip(auto, values, strict=True)), default=0.0) < 1e-5
    del scorer
    return record


def section_bertscore(check: Check) -> dict[str, Any]:
    from malpyeong_eval.metrics.bertscore import BertScoreScorer

    bert = build_bert(check)
    layer = check.shapes["bert"]["bertscore_layer"]
    record = _pairs_section(check, lambda: BertScoreScorer(str(bert), num_layers=layer, device=check.device), again=True)
    return {**record, "layer": layer}


def section_bleurt(check: Check) -> dict[str, Any]:
    from malpyeong_eval.metrics.bleurt import BleurtScorer

    bleurt = build_bleurt(check)
    return _pairs_section(check, lambda: BleurtScorer(str(bleurt), device=check.device), again=False)


def section_grpo(check: Check) -> dict[str, Any]:
    from malpyeong_eval.data import load_items, sample_path
    from rewards import ContestReward
    from train.config import load_settings, validate
    from train.trainer import train

    policy, bert, bleurt = build_policy(check), build_bert(check), build_bleurt(check)
    args = check.args
    layer = check.shapes["bert"]["bertscore_layer"]
    grpo = {"max_steps": args.grpo_steps, "max_completion_length": args.grpo_completion_length,
            "per_device_train_batch_size": args.grpo_batch_size, "num_generations": args.grpo_generations,
            "gradient_accumulation_steps": args.grpo_accumulation, "save_strategy": "no", "logging_steps": 1,
            "seed": args.seed}
    if check.cuda and "bfloat16" in str(check.dtype):
        grpo["bf16"] = True
    grpo["use_cpu"] = not check.cuda
    overrides = {"model": str(policy), "data": str(sample_path("gold")), "output_dir": str(check.folder / "grpo"),
                 "rewards": ["format", "contest"], "contest_metrics": "em,rouge1,bertscore,bleurt",
                 "bertscore_model": str(bert), "bertscore_layers": layer, "bleurt_model": str(bleurt),
                 "lora": {"r": args.lora_r, "alpha": 2 * args.lora_r}, "grpo": grpo}
    settings = load_settings(None, overrides, [])
    config = validate(settings)
    reward_device = "cpu" if config.use_cpu else None  # as train.trainer.build_rewards is given it
    generation_batch = config.per_device_train_batch_size * config.gradient_accumulation_steps  # completions per step
    golds = [item.answer for item in load_items(sample_path("gold"))]
    submitted = [item.answer for item in load_items(sample_path("submission"))]
    completions = [[{"role": "assistant", "content": submitted[(i * 7 + 3) % len(submitted)]}] for i in range(generation_batch)]
    answers = [golds[(i // config.num_generations) % len(golds)] for i in range(generation_batch)]
    marks: list[float] = []
    in_format: dict[str, Any] = {}

    def on_step(step: int) -> None:
        marks.append(time.perf_counter())
        if step == args.grpo_steps:  # while the trainer holds its memory: the rewards' models at work
            reward = ContestReward(settings.contest_metrics, settings.scorer.with_device(reward_device))
            logged: dict[str, float] = {}
            begin = time.perf_counter()
            values = reward(completions, answer=answers, log_metric=logged.__setitem__)
            in_format.update(seconds=round(time.perf_counter() - begin, 4), completions=len(values),
                             counted_fraction=logged.get("contest/counted"),
                             values_finite=finite([float(v) for v in values if v is not None]))

    start = time.perf_counter()
    result = train(settings, config, on_step=on_step)
    steps = [b - a for a, b in itertools.pairwise(marks)]
    logs = result.log_history
    counted = [row[key] for row in logs for key in row if key.endswith("contest/counted")]
    return {
        "steps": len(marks), "steps_asked": args.grpo_steps,
        "s_per_step": sum(steps) / len(steps) if steps else None,
        "step_seconds": [round(s, 3) for s in steps],
        "trl_step_time": [float(row["step_time"]) for row in logs if "step_time" in row],
        "first_step_s": round(marks[0] - start, 3) if marks else None,
        "first_step_note": "includes loading the policy, the LoRA adapter and the reward models",
        "completions_per_step": generation_batch, "num_generations": config.num_generations,
        "max_completion_length": config.max_completion_length, "lora_r": args.lora_r, "beta": config.beta,
        "bf16": bool(config.bf16), "rewards": settings.rewards, "contest_metrics": settings.contest_metrics,
        "counted_fraction": sum(counted) / len(counted) if counted else None,
        "counted_note": ("a random policy rarely writes '...가 옳다. reason': uncounted completions skip BERTScore "
                         "and BLEURT, so s_per_step holds little reward-model work; in_format_reward is that work"),
        "in_format_reward": {**in_format, "note": "the contest reward on one generation batch of in-format "
                                                  "completions, on the same device, inside the last step"},
        "loss_finite": all(math.isfinite(row["loss"]) for row in logs if "loss" in row),
    }


SECTION_FUNCTIONS: dict[str, Callable[[Check], dict[str, Any]]] = {
    "generation_batched": section_generation_batched,
    "generation_baseline": section_generation_baseline,
    "bertscore": section_bertscore,
    "bleurt": section_bleurt,
    "grpo": section_grpo,
}


def run_section(check: Check, name: str) -> dict[str, Any]:
    record: dict[str, Any] = {}
    try:
        require(check, name)
        with memory_measured(check, record):
            begin = time.perf_counter()
            record.update(SECTION_FUNCTIONS[name](check))
            record["wall_s"] = round(time.perf_counter() - begin, 2)
        record = {"status": "ok", **record}
    except Skipped as reason:
        return {"status": "skipped", "reason": str(reason)}
    except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others' numbers
        lines = traceback.format_exc().strip().splitlines()
        return {"status": "failed", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}",
                "traceback_tail": lines[-12:], **{k: v for k, v in record.items() if "gib" in k}}
    finally:
        free_memory(check)
    if name == "grpo" and check.cuda:
        record["fits_24gb"] = record["peak_reserved_gib"] + CUDA_CONTEXT_GIB <= CARD_GIB
        record["fits_24gb_rule"] = FITS_RULE
    elif name == "grpo":
        record["fits_24gb"] = None
    return record


# -- report --------------------------------------------------------------------------------------------

TABLE_METRICS = {
    "generation_batched": ("items", "items_per_s", "new_tokens_per_s", "batch_size"),
    "generation_baseline": ("items", "items_per_s", "new_tokens_per_s"),
    "bertscore": ("pairs", "pairs_per_s", "pairs_per_s_references_cached"),
    "bleurt": ("pairs", "pairs_per_s"),
    "grpo": ("steps", "s_per_step", "first_step_s", "counted_fraction", "fits_24gb"),
}


def table_rows(results: dict[str, Any]) -> list[tuple[str, str, str]]:
    def shown(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "null" if value is None else str(value)

    rows = []
    for name, record in results["sections"].items():
        if record["status"] != "ok":
            rows.append((name, record["status"], record.get("reason") or record.get("error", "")))
            continue
        for key in TABLE_METRICS[name]:
            if key in record:
                rows.append((name, key, shown(record[key])))
        if name == "grpo" and record.get("in_format_reward", {}).get("seconds") is not None:
            rows.append((name, "in_format_reward_s", shown(record["in_format_reward"]["seconds"])))
        rows.append((name, "peak_allocated_gib", shown(record.get("peak_allocated_gib"))))
    return rows


def print_table(results: dict[str, Any]) -> None:
    rows = table_rows(results)
    title = f"gpu_check on {results['device']['name']} ({results['shapes_name']} shapes)"
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for row in rows:
            print(f"{row[0]:<20} {row[1]:<32} {row[2]}")
    else:
        table = Table(title=title)
        for column in ("section", "metric", "value"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console(width=140).print(table)
    if results["device"]["kind"] != "cuda":
        print(results["memory_note"])


def device_description(device: str) -> dict[str, Any]:
    import torch

    if device.startswith("cuda"):
        properties = torch.cuda.get_device_properties(torch.device(device))
        return {"kind": "cuda", "device": device, "name": properties.name,
                "total_gib": round(properties.total_memory / GIB, 2), "cuda": torch.version.cuda}
    return {"kind": "cpu", "device": device, "name": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads()}


# -- command line --------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="--device cpu --shapes tiny (the test's run, under a minute)")
    parser.add_argument("--device", help="cuda, cuda:1, cpu (default: cuda; cpu with --tiny)")
    parser.add_argument("--shapes", choices=tuple(SHAPES), help="real (default) or tiny")
    parser.add_argument("--output", "-o", type=Path, help="write the results as JSON here")
    parser.add_argument("--only", help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    parser.add_argument("--without", action="append", default=[], metavar="PACKAGE",
                        help="treat this import name as not installed (repeatable), e.g. --without trl")
    for key, default in WORKLOADS["real"].items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=int, help=f"default {default} (tiny: {WORKLOADS['tiny'][key]})")
    parser.add_argument("--lora-r", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.shapes = args.shapes or ("tiny" if args.tiny else "real")
    args.device = args.device or ("cpu" if args.tiny else "cuda")
    for key, default in WORKLOADS[args.shapes].items():
        if getattr(args, key) is None:
            setattr(args, key, default)
    args.only = [name.strip() for name in (args.only or ",".join(SECTIONS)).split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section {unknown[0]!r}; choose from {', '.join(SECTIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the check; returns the exit status (1 when a section failed)."""
    args = parse_args(argv)
    without = frozenset(args.without)
    with packages_disabled(without):
        return _main(args, without, argv)


def _main(args: argparse.Namespace, without: frozenset[str], argv: list[str] | None) -> int:
    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(f"--device {args.device}: no CUDA device is visible here (run with --tiny for the CPU check)", file=sys.stderr)
        return 2
    from malpyeong_eval.data import load_items, sample_path

    texts = [item.answer for name in ("gold", "submission") for item in load_items(sample_path(name))]
    texts += [item.question for item in load_items(sample_path("gold"))]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        check = Check(args=args, device=args.device, shapes=SHAPES[args.shapes], folder=Path(folder), texts=texts,
                      without=without)
        sections = {name: run_section(check, name) for name in args.only}
    results = {
        "command": shlex.join([sys.executable, *(sys.argv if argv is None else [str(Path(__file__)), *argv])]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": device_description(args.device),
        "versions": {"python": platform.python_version(), **package_versions(without)},
        "without": sorted(without),
        "shapes_name": args.shapes,
        "shapes": SHAPES[args.shapes],
        "built": {name: {k: v for k, v in info.items() if k != "path"} for name, info in check.built.items()},
        "workload": {key: getattr(args, key) for key in WORKLOADS[args.shapes]} | {"lora_r": args.lora_r, "seed": args.seed},
        "memory_note": ("peak memory: torch.cuda.max_memory_allocated / max_memory_reserved per section, reset between "
                        "sections" if args.device.startswith("cuda") else
                        "peak memory is null: on CPU there is no torch.cuda.max_memory_allocated to read"),
        "vllm": "not measured: vLLM's wheels cannot travel to the lent machine",
        "sections": sections,
        "total_s": round(time.perf_counter() - started, 2),
    }
    print_table(results)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 1 if any(record["status"] == "failed" for record in sections.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
