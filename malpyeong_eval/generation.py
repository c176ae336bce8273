"""Generating answers: transformers (batched, left padding, length-sorted) or vLLM.

Greedy decoding unless sampling is asked for. Prompts go through the tokenizer's
chat template with ``enable_thinking=False`` (templates that do not use it ignore it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .data import Item
from .errors import MalpyeongError, ModelLoadError
from .prompts import ContestPrompt

BACKENDS = ("transformers", "vllm")
MAX_SEED = 2**63 - 1  # what torch, vLLM and a database integer all hold
BatchCallback = Callable[[list[int], list[str]], None]


@dataclass(frozen=True)
class GenerationSettings:
    """Decoding settings; all of them go into a run's fingerprint and the leaderboard."""

    max_new_tokens: int = 1024
    do_sample: bool = False
    temperature: float | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    seed: int = 0

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
        return asdict(self)


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


class TransformersGenerator:
    """A causal LM (optionally with a PEFT adapter) generating in length-sorted, left-padded batches."""

    def __init__(self, model: str, *, adapter: str | None = None, device: str | None = None,
                 trust_remote_code: bool = False) -> None:
        self.model, self.tokenizer, self.device = load_causal_lm(
            model, adapter=adapter, device=device, trust_remote_code=trust_remote_code)
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

    def generate(self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int,
                 on_batch: BatchCallback) -> None:
        """Generate for every prompt; ``on_batch(indices, texts)`` after each batch (the texts as
        decoded: the runner cleans them, :func:`~malpyeong_eval.prompts.clean_output`)."""
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
        for start in range(0, len(order), batch_size):
            indices = order[start : start + batch_size]
            encoded = self.tokenizer.pad({"input_ids": [token_ids[i] for i in indices]}, return_tensors="pt").to(self.device)
            with torch.inference_mode():
                output = self.model.generate(**encoded, **options)
            texts = self.tokenizer.batch_decode(output[:, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
            on_batch(indices, list(texts))


class VllmGenerator:
    """vLLM generation (``pip install 'malpyeong-eval[vllm]'``, a CUDA GPU); LoRA adapters through LoRARequest."""

    def __init__(self, model: str, *, adapter: str | None = None, device: str | None = None,
                 trust_remote_code: bool = False) -> None:
        try:
            import vllm
        except ImportError:
            raise MalpyeongError("--backend vllm needs vLLM: pip install 'malpyeong-eval[vllm]' (on a CUDA machine)") from None
        import torch

        if not torch.cuda.is_available():
            raise MalpyeongError("--backend vllm needs a CUDA GPU, and none is visible; use --backend transformers")
        self._vllm = vllm
        self.adapter = adapter
        self.llm = vllm.LLM(model=model, enable_lora=adapter is not None, trust_remote_code=trust_remote_code)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int,
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
        chunk = max(batch_size, 256)  # vLLM schedules its own batches; chunks only pace the progress bar
        for start in range(0, len(prompts), chunk):
            indices = list(range(start, min(start + chunk, len(prompts))))
            outputs = self.llm.generate([prompts[i] for i in indices], params, lora_request=lora, use_tqdm=False)
            on_batch(indices, [output.outputs[0].text for output in outputs])


def make_generator(backend: str, model: str, **options: Any):
    """The generator of ``backend`` (``transformers`` or ``vllm``)."""
    if backend not in BACKENDS:
        raise MalpyeongError(f"unknown --backend {backend!r}; choose from {', '.join(BACKENDS)}")
    return (TransformersGenerator if backend == "transformers" else VllmGenerator)(model, **options)
