"""Choosing the generator of ``--backend``: transformers or vLLM in this process
(:mod:`.generation`), or a served OpenAI-compatible endpoint (:mod:`.served`)."""

from __future__ import annotations

from typing import Any

from .errors import MalpyeongError
from .generation import EngineOptions, TransformersGenerator, VllmGenerator
from .served import OpenAIGenerator

BACKENDS = ("transformers", "vllm", "openai")


def make_generator(backend: str, model: str, *, adapter: str | None = None,
                   engine: EngineOptions = EngineOptions()) -> Any:
    """The generator of ``backend``: ``render(prompt, items)`` gives what each item's request
    carries (recorded as its prompt), ``generate(...)`` answers them."""
    if backend not in BACKENDS:
        raise MalpyeongError(f"unknown --backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if backend == "openai":
        return OpenAIGenerator(engine)
    return (TransformersGenerator if backend == "transformers" else VllmGenerator)(model, adapter=adapter, engine=engine)
