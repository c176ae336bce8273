"""``run``'s generation flags turned into settings: ``--preset``, ``--batch-size auto``, the engine
(``--vllm-args``, the served endpoint's ``--base-url`` and the rest)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from ..errors import MalpyeongError
from ..generation import PRESETS, EngineOptions, GenerationSettings, parse_engine_args
from ..metrics.options import parse_batch_size

BatchSizeText = Annotated[Optional[str], typer.Option("--batch-size", help="Generation batch size, or 'auto' (the largest that fits, halved on out-of-memory) \\[default 8].")]
PresetOption = Annotated[Optional[str], typer.Option("--preset", help=f"Named decoding, recorded as such: {', '.join(PRESETS)} (the organizers': temperature 0.7, top_p 0.8, repetition penalty 1.05, one item at a time).")]
VllmArgsOption = Annotated[Optional[str], typer.Option("--vllm-args", help="vLLM engine arguments, key=value,... (tensor_parallel_size=2,gpu_memory_utilization=0.5,max_model_len=4096,max_lora_rank=64); recorded with the run.")]
BaseUrlOption = Annotated[Optional[str], typer.Option("--base-url", help="--backend openai: the endpoint, e.g. http://127.0.0.1:8000/v1.")]
ApiKeyEnvOption = Annotated[Optional[str], typer.Option("--api-key-env", help="--backend openai: the variable holding the API key (default OPENAI_API_KEY, else none); never recorded.")]
ModelNameOption = Annotated[Optional[str], typer.Option("--model-name", help="--backend openai: the served model id (default: the one the endpoint lists).")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1, help="--backend openai: requests in flight.")]
RequestTimeoutOption = Annotated[float, typer.Option("--request-timeout", min=0.1, help="--backend openai: seconds per request before it is retried.")]
MaxRetriesOption = Annotated[int, typer.Option("--max-retries", min=0, help="--backend openai: retries (with backoff) of a 408/429/5xx answer, a timeout or a dropped connection.")]


def batch_size_value(text: str | None, default: int = 8) -> int | None:
    """``--batch-size``: a positive integer, or ``auto`` (None, generation's spelling of it)."""
    value = parse_batch_size(text)
    return default if value is None else None if value == "auto" else value


def decoding(preset: str | None, flags: dict[str, Any], batch_size: str | None) -> tuple[GenerationSettings, int | None]:
    """The decoding settings and generation batch size of the flags (``--preset`` fills its own, and
    refuses a flag that would change them)."""
    given = {key: value for key, value in flags.items() if value is not None and value is not False}
    if preset is None:
        sampled = bool(given.pop("do_sample", False)) or "temperature" in given or "top_p" in given
        return GenerationSettings(do_sample=sampled, **given), batch_size_value(batch_size)
    if preset not in PRESETS:
        raise MalpyeongError(f"unknown --preset {preset!r}; choose from {', '.join(PRESETS)}")
    values = dict(PRESETS[preset])
    clash = [key for key in given if key in values and key != "do_sample"] + (["batch_size"] if batch_size else [])
    if clash:
        raise MalpyeongError(f"--preset {preset} sets --{clash[0].replace('_', '-')}; give one or the other")
    preset_batch = values.pop("batch_size")
    return GenerationSettings(**{**given, **values}, preset=preset), preset_batch


def engine_options(backend: str, *, device: str | None, trust_remote_code: bool, vllm_args: str | None,
                   base_url: str | None, api_key_env: str | None, model_name: str | None, concurrency: int,
                   request_timeout: float, max_retries: int) -> EngineOptions:
    """The engine of ``backend``; the served endpoint is probed (model id, version) before any run."""
    served = {"--base-url": base_url, "--api-key-env": api_key_env, "--model-name": model_name}
    if backend != "openai" and any(value is not None for value in served.values()):
        flag = next(flag for flag, value in served.items() if value is not None)
        raise MalpyeongError(f"{flag} goes with --backend openai")
    if backend != "vllm" and vllm_args:
        raise MalpyeongError("--vllm-args goes with --backend vllm")
    engine = EngineOptions(device=device, trust_remote_code=trust_remote_code, vllm_args=parse_engine_args(vllm_args),
                           base_url=base_url, api_key_env=api_key_env, model_name=model_name,
                           concurrency=concurrency, request_timeout=request_timeout, max_retries=max_retries)
    if backend != "openai":
        return engine
    if not base_url:
        raise MalpyeongError("--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
    from ..served import probe_endpoint

    return probe_endpoint(engine)
