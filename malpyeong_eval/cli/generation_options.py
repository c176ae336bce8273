"""``run``'s generation flags: ``--preset``, ``--batch-size``, ``--samples``/``--select``, the engine (``--vllm-args``, the served
endpoint's ``--base-url`` and the rest); :func:`malpyeong_eval.cli.run.run_request` makes them values."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..generation import PRESETS

BatchSizeText = Annotated[Optional[str], typer.Option("--batch-size", help="Generation batch size, or 'auto' (the largest that fits, halved on out-of-memory) \\[default 8].")]
PresetOption = Annotated[Optional[str], typer.Option("--preset", help=f"Named decoding, recorded as such: {', '.join(PRESETS)} (the organizers': temperature 0.7, top_p 0.8, repetition penalty 1.05, one item at a time).")]
SamplesOption = Annotated[int, typer.Option("--samples", min=1, help="Candidate answers per item (2 or more: sampled, with --do-sample/--temperature or --preset; candidate k with seed SEED+k), one chosen by --select; each kept in generations.jsonl.")]
SelectOption = Annotated[Optional[str], typer.Option("--select", help="How the answer is chosen among --samples candidates: vote (the most frequent answer sentence), mbr:METRIC[,METRIC...] (the reason the others agree with most; rouge1, bertscore, bleurt), or vote+mbr:... (vote, then MBR among the winners).")]
VllmArgsOption = Annotated[Optional[str], typer.Option("--vllm-args", help="vLLM engine arguments, key=value,... (tensor_parallel_size=2,gpu_memory_utilization=0.5,max_model_len=4096,max_lora_rank=64); recorded with the run.")]
BaseUrlOption = Annotated[Optional[str], typer.Option("--base-url", help="--backend openai: the endpoint, e.g. http://127.0.0.1:8000/v1.")]
ApiKeyEnvOption = Annotated[Optional[str], typer.Option("--api-key-env", help="--backend openai: the variable holding the API key (default OPENAI_API_KEY, else none); never recorded.")]
ModelNameOption = Annotated[Optional[str], typer.Option("--model-name", help="--backend openai: the served model id (default: the one the endpoint lists).")]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1, help="--backend openai: requests in flight.")]
RequestTimeoutOption = Annotated[float, typer.Option("--request-timeout", min=0.1, help="--backend openai: seconds per request before it is retried.")]
MaxRetriesOption = Annotated[int, typer.Option("--max-retries", min=0, help="--backend openai: retries (with backoff) of a 408/429/5xx answer, a timeout or a dropped connection.")]
