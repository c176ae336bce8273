"""Generating answers: transformers (batched, left padding, length-sorted), vLLM, or a served
OpenAI-compatible endpoint (:mod:`malpyeong_eval.served`).

Greedy decoding unless sampling is asked for. Prompts go through the tokenizer's
chat template with ``enable_thinking=False`` (templates that do not use it ignore it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .batching import BatchSize, run_halving
from .data import Item
from .errors import MalpyeongError, ModelLoadError
from .prompts import ContestPrompt

MAX_SEED = 2**63 - 1  # what torch, vLLM and a database integer all hold
BatchCallback = Callable[[list[int], list[str]], None]
AUTO_BATCH_START = 64  # --batch-size auto starts here (or at the item count) and halves on out-of-memory
PRESETS: dict[str, dict[str, Any]] = {
    # the organizers' baseline (scoring.md §5): sampling at 0.7 / 0.8, repetition penalty 1.05, one item at a time
    "baseline": {"do_sample": True, "temperature": 0.7, "top_p": 0.8, "repetition_penalty": 1.05, "batch_size": 1},
}
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM's max_lora_rank accepts


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; all of them go into a run's fingerprint and the leaderboard."""

    max_new_tokens: int = 1024
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    seed: int = 0
    preset: str | None = None  # a named decoding (PRESETS) these settings came from

    def __post_init__(self) -> None:
        """Refuse what no decoder means: the one check of decoding values, before any model loads."""
        def bad(flag: str, value: object, rule: str) -> MalpyeongError:
            return MalpyeongError(f"--{flag} {value!r}: must be {rule}")

        if isinstance(self.max_new_tokens, bool) or not 1 <= self.max_new_tokens <= 1_000_000:
            raise bad("max-new-tokens", self.max_new_tokens, "a whole number from 1")
        if self.temperature is not None and not (math.isfinite(self.temperature) and self.temperature > 0):
            raise bad("temperature", self.temperature, "a number above 0")
        if self.top_p is not None and not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise bad("top-p", self.top_p, "a number above 0 and at most 1")
        if self.repetition_penalty is not None and not (math.isfinite(self.repetition_penalty)
                                                        and self.repetition_penalty > 0):
            raise bad("repetition-penalty", self.repetition_penalty, "a number above 0 (1 is none)")
        if isinstance(self.seed, bool) or not 0 <= self.seed <= MAX_SEED:
            raise bad("seed", self.seed, f"a whole number from 0 to {MAX_SEED}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded; ``preset`` only when set, so settings without one keep their key."""
        values = asdict(self)
        if values["preset"] is None:
            del values["preset"]
        return values


DEFAULT_BATCH_SIZE = 8  # generation's batch size unless --batch-size says otherwise


@dataclass(frozen=True)
class Decoding:
    """How a run decodes: the :class:`GenerationSettings` and the generation batch size (``None``:
    auto, the largest that fits, halved on out-of-memory)."""

    settings: GenerationSettings = field(default_factory=GenerationSettings)
    batch_size: int | None = DEFAULT_BATCH_SIZE

    @classmethod
    def of(cls, preset: str | None = None, batch_size: BatchSize = None, **values: Any) -> Decoding:
        """The decoding of ``run``'s flags: ``values`` are :class:`GenerationSettings` fields (``None``
        and ``False``: not given), ``batch_size`` a positive integer, ``"auto"`` or ``None`` (the default).
        Without a ``preset``, a temperature or top-p implies sampling; a ``preset`` (:data:`PRESETS`)
        fills its own values and refuses a flag that would change them."""
        given = {key: value for key, value in values.items() if value is not None and value is not False}
        size = DEFAULT_BATCH_SIZE if batch_size is None else None if batch_size == "auto" else batch_size
        if preset is None:
            sampled = bool(given.pop("do_sample", False)) or "temperature" in given or "top_p" in given
            return cls(GenerationSettings(do_sample=sampled, **given), size)
        if preset not in PRESETS:
            raise MalpyeongError(f"unknown --preset {preset!r}; choose from {', '.join(PRESETS)}")
        preset_values = dict(PRESETS[preset])
        clash = [key for key in given if key in preset_values and key != "do_sample"] + (["batch_size"] if batch_size else [])
        if clash:
            raise MalpyeongError(f"--preset {preset} sets --{clash[0].replace('_', '-')}; give one or the other")
        preset_batch = preset_values.pop("batch_size")
        return cls(GenerationSettings(**{**given, **preset_values}, preset=preset), preset_batch)


def public_url(url: str) -> str:
    """``url`` without user, password, query or fragment: what may be printed and recorded."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass(frozen=True)
class EngineOptions:
    """Which backend generates (``backend``: transformers, vllm or openai) and how it is loaded or
    reached, beyond the checkpoint and the decoding: the one place of ``device`` and ``trust_remote_code``.

    ``vllm_args`` go to ``vllm.LLM``; ``base_url`` .. ``max_retries`` describe an OpenAI-compatible
    endpoint (``server_version`` as the server reports it, filled in by
    :func:`~malpyeong_eval.served.probe_endpoint`). The API key is read from ``api_key_env`` when
    a request is made and is never part of a record.
    """

    backend: str = "transformers"
    device: str | None = None
    trust_remote_code: bool = False
    vllm_args: tuple[tuple[str, Any], ...] = ()
    base_url: str | None = None
    api_key_env: str | None = None
    model_name: str | None = None
    server_version: str | None = None
    concurrency: int = 8
    request_timeout: float = 600.0
    max_retries: int = 5

    def record(self, backend: str | None = None) -> dict[str, Any]:
        """What a run records of the engine (and its fingerprint names): empty for a plain backend
        (``backend``: this engine's unless given)."""
        backend = backend or self.backend
        if backend == "openai":
            return {"endpoint": {"base_url": public_url(self.base_url or ""), "model": self.model_name,
                                 "server_version": self.server_version}}
        if backend == "vllm" and self.vllm_args:
            return {"vllm_args": dict(sorted(self.vllm_args))}
        return {}

    def key(self, backend: str | None = None) -> dict[str, Any]:
        """What of :meth:`record` names a run's generations: all but the endpoint's URL, so a run
        resumes (and is recognized) against the same model and server version on another address."""
        record = self.record(backend)
        if "endpoint" in record:
            record["endpoint"] = {k: v for k, v in record["endpoint"].items() if k != "base_url"}
        return record


def parse_engine_args(text: str | None, flag: str = "--vllm-args") -> tuple[tuple[str, Any], ...]:
    """``key=value,key=value`` as sorted pairs; values read as JSON where they parse (``2``, ``0.5``,
    ``true``), else kept as text."""
    import json

    pairs: dict[str, Any] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip().isidentifier():
            raise MalpyeongError(f"{flag}: {part.strip()!r} is not key=value (e.g. tensor_parallel_size=2)")
        try:
            pairs[key.strip()] = json.loads(value.strip())
        except ValueError:
            pairs[key.strip()] = value.strip()
    return tuple(sorted(pairs.items()))


def render_prompts(tokenizer, prompt: ContestPrompt, items: Sequence[Item]) -> list[str]:
    """Each item's conversation as text, ready to be continued by the assistant.

    The item's extra ``input`` fields go in as the ``[기타 정보]`` block
    (:meth:`~malpyeong_eval.prompts.ContestPrompt.item_messages`); an item without any renders
    as it always has.
    """
    if getattr(tokenizer, "chat_template", None):
        try:
            return [
                tokenizer.apply_chat_template(
                    prompt.item_messages(item), tokenize=False, add_generation_prompt=True, enable_thinking=False,
                )
                for item in items
            ]
        except Exception as exc:  # a template with a syntax error, or one that raises on these turns
            from .metrics.loading import one_line

            raise ModelLoadError(f"the chat template of {getattr(tokenizer, 'name_or_path', 'the model')!r} "
                                 f"cannot render the prompt: {one_line(exc)}") from None
    # a base model without a chat template: the turns as plain text
    return ["\n\n".join(message["content"] for message in prompt.item_messages(item)) + "\n\n답변: " for item in items]


def load_causal_lm(model: str, *, adapter: str | None = None, device: str | None = None,
                   trust_remote_code: bool = False,
                   flag: str = "the CHECKPOINT argument or --base-model") -> tuple[Any, Any, str]:
    """(model in eval mode on the device, tokenizer, device) of a causal LM, optionally with a PEFT adapter.

    bfloat16 on a CUDA device that supports it, else float32. A model that cannot be loaded is
    a :class:`ModelLoadError` naming it.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .metrics.loading import check_model, one_line, quiet_hub_logs, resolve_device

    device = resolve_device(device)
    check_model(model, "policy", flag)  # flag: what points elsewhere, named in the error
    try:
        with quiet_hub_logs():
            has_own_tokenizer = adapter is not None and (Path(adapter) / "tokenizer_config.json").exists()
            tokenizer = AutoTokenizer.from_pretrained(adapter if has_own_tokenizer else model,
                                                      trust_remote_code=trust_remote_code)
            dtype = torch.bfloat16 if device.startswith("cuda") and torch.cuda.is_bf16_supported() else torch.float32
            loaded: Any = AutoModelForCausalLM.from_pretrained(model, dtype=dtype, trust_remote_code=trust_remote_code)
            if adapter:
                from peft import PeftModel

                loaded = PeftModel.from_pretrained(loaded, adapter)
    except MalpyeongError:
        raise
    except Exception as exc:  # a damaged folder fails in any way: truncated weights, bad JSON, wrong shapes
        raise ModelLoadError(f"cannot load model {adapter or model!r}: {one_line(exc)}") from None
    loaded.to(device).eval()
    return loaded, tokenizer, device


class _ChatTemplated:
    """A generator that reads text rendered by its tokenizer's chat template."""

    tokenizer: Any

    def render(self, prompt: ContestPrompt, items: Sequence[Item]) -> list[str]:
        return render_prompts(self.tokenizer, prompt, items)


class TransformersGenerator(_ChatTemplated):
    """A causal LM (optionally with a PEFT adapter) generating in length-sorted, left-padded batches."""

    def __init__(self, model: str, *, adapter: str | None = None, engine: EngineOptions = EngineOptions()) -> None:
        self.model, self.tokenizer, self.device = load_causal_lm(
            model, adapter=adapter, device=engine.device, trust_remote_code=engine.trust_remote_code)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    def _token_ids(self, prompts: Sequence[str]) -> list[list[int]]:
        key = tuple(prompts)
        if getattr(self, "_tokenized", (None,))[0] != key:  # tokenized once for check_prompts and generate
            from .metrics.loading import quiet_hub_logs

            with quiet_hub_logs():  # no "longer than the maximum" notice: check_prompts says it in one line
                self._tokenized = (key, [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts])
        return self._tokenized[1]

    def check_prompts(self, prompts: Sequence[str], names: Sequence[str]) -> None:
        """Refuse, before generating anything, a prompt longer than the model's context."""
        context = getattr(self.model.config, "max_position_embeddings", None)
        for name, ids in zip(names, self._token_ids(prompts), strict=True):
            if context and len(ids) >= context:
                raise MalpyeongError(f"item {name}: its prompt is {len(ids)} tokens, more than the model's context "
                                     f"of {context}: shorten its extra input fields or the prompt file")

    def generate(self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int | None,
                 on_batch: BatchCallback) -> None:
        """Generate for every prompt; ``on_batch(indices, texts)`` after each batch (the texts as
        decoded: the runner cleans them, :func:`~malpyeong_eval.prompts.clean_output`).

        ``batch_size`` None is ``auto``: the largest that fits, from :data:`AUTO_BATCH_START` (or
        the prompt count) halved on out-of-memory (:func:`run_halving`); ``self.batch_size`` is
        the size that fitted.
        """
        import torch

        token_ids = self._token_ids(prompts)
        order = sorted(range(len(prompts)), key=lambda i: len(token_ids[i]), reverse=True)
        options: dict[str, Any] = {"max_new_tokens": settings.max_new_tokens, "do_sample": settings.do_sample,
                                   "pad_token_id": self.tokenizer.pad_token_id}
        if settings.do_sample:
            options.update({k: v for k, v in (("temperature", settings.temperature), ("top_p", settings.top_p)) if v is not None})
        else:
            options.update(temperature=None, top_p=None, top_k=None)
        if settings.repetition_penalty is not None:
            options["repetition_penalty"] = settings.repetition_penalty
        torch.manual_seed(settings.seed)

        def run_batch(indices: list[int]) -> None:
            encoded = self.tokenizer.pad({"input_ids": [token_ids[i] for i in indices]}, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                output = self.model.generate(**encoded, **options)
            texts = self.tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
            on_batch(indices, list(texts))

        if batch_size is None:
            self.batch_size = run_halving(order, max(1, min(AUTO_BATCH_START, len(order))), run_batch)
        else:
            self.batch_size = batch_size
            for start in range(0, len(order), batch_size):
                run_batch(order[start : start + batch_size])


def vllm_engine_args(engine: EngineOptions, adapter: str | None) -> dict[str, Any]:
    """``vllm.LLM``'s keyword arguments: ``--vllm-args``, and for an adapter ``enable_lora`` and a
    ``max_lora_rank`` that admits its rank (vLLM's default, 16, refuses larger ones) unless given.
    A broken ``adapter_config.json`` is one :class:`MalpyeongError` line, as when the adapter is resolved."""
    from .inputs import read_json

    args: dict[str, Any] = {"trust_remote_code": engine.trust_remote_code, "enable_lora": adapter is not None,
                            **dict(engine.vllm_args)}
    if adapter is not None and "max_lora_rank" not in args:
        config = read_json(Path(adapter) / "adapter_config.json", what="adapter config")
        rank = config.get("r") if isinstance(config, dict) else None
        if isinstance(rank, int) and not isinstance(rank, bool) and rank > 16:
            args["max_lora_rank"] = next((r for r in VLLM_LORA_RANKS if r >= rank), rank)
    return args


class VllmGenerator(_ChatTemplated):
    """vLLM generation (``pip install 'malpyeong-eval[vllm]'``, a CUDA GPU); LoRA adapters through LoRARequest."""

    def __init__(self, model: str, *, adapter: str | None = None, engine: EngineOptions = EngineOptions()) -> None:
        try:
            import vllm
        except ImportError:
            raise MalpyeongError("--backend vllm needs vLLM: pip install 'malpyeong-eval[vllm]' (on a CUDA machine)") from None
        import torch

        if not torch.cuda.is_available():
            raise MalpyeongError("--backend vllm needs a CUDA GPU, and none is visible; use --backend transformers")
        self._vllm = vllm
        self.adapter = adapter
        args = vllm_engine_args(engine, adapter)
        known = {field.name for field in fields(vllm.EngineArgs)}
        unknown = sorted(set(args) - known)
        if unknown:
            raise MalpyeongError(f"--vllm-args: vLLM {vllm.__version__} has no engine argument {unknown[0]!r}")
        try:
            self.llm = vllm.LLM(model=model, **args)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelLoadError(f"vLLM cannot load {adapter or model!r}: {str(exc).splitlines()[0][:200]}") from None
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int | None,
                 on_batch: BatchCallback) -> None:
        params = self._vllm.SamplingParams(
            max_tokens=settings.max_new_tokens, seed=settings.seed,
            temperature=(settings.temperature if settings.temperature is not None else 1.0) if settings.do_sample else 0.0,
            top_p=settings.top_p if settings.do_sample and settings.top_p is not None else 1.0,
            repetition_penalty=settings.repetition_penalty or 1.0,
        )
        lora = None
        if self.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.adapter)
        chunk = max(batch_size or 0, 256)  # vLLM schedules its own batches; chunks only pace the progress bar
        for start in range(0, len(prompts), chunk):
            indices = list(range(start, min(start + chunk, len(prompts))))
            outputs = self.llm.generate([prompts[i] for i in indices], params, lora_request=lora, use_tqdm=False)
            on_batch(indices, [output.outputs[0].text for output in outputs])
