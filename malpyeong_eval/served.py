"""Generating through an OpenAI-compatible ``/v1/chat/completions`` endpoint (``--backend openai``).

A model served elsewhere — vLLM or SGLang over many GPUs, ``transformers serve``, a team's
container — answers the same conversations the local backends render, with
``chat_template_kwargs: {"enable_thinking": false}`` and, when set, ``repetition_penalty``
in the request body (vLLM, SGLang and ``transformers serve`` read them). Requests run
``concurrency`` at a time; the ``openai`` client retries 408/409/429/5xx answers, timeouts and
dropped connections ``max_retries`` times with exponential backoff (``pip install
'malpyeong-eval[openai]'``).
"""

from __future__ import annotations

import json
import os
import queue
import re
import threading
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .data import Item
from .errors import MalpyeongError
from .generation import BatchCallback, EngineOptions, GenerationSettings, public_url
from .prompts import ContestPrompt, clean_output

PROBE_TIMEOUT = 10.0  # seconds for the first look at the endpoint: a dead one fails at once
# The role headers of common chat templates (ChatML: Qwen; Llama 3; Gemma; Phi-3): the template's own markup,
# which a reply's content never begins with unless the server put it there. ``transformers serve`` 5.24-5.25
# prepends ``<|im_start|>assistant`` (cut to ``<|im_start|>assisa`` here) to Qwen-family replies.
ROLE_HEADER = re.compile(r"\A\s*((?:<\|im_start\|>|<\|start_header_id\|>|<start_of_turn>|<\|assistant\|>)\S*)")


def role_header(reply: str) -> str | None:
    """The chat template's role header ``reply`` begins with (``<|im_start|>assistant``), or ``None``."""
    found = ROLE_HEADER.match(reply)
    return found.group(1) if found else None


def role_header_fault(engine: EngineOptions, header: str) -> str:
    """The line that reports a server answering with the chat template's role header."""
    where = public_url(api_base(engine.base_url or ""))
    server = f", server {engine.server_version}" if engine.server_version else ""
    return (f"endpoint {where} (model {engine.model_name}{server}): its reply begins with the chat template's role header "
            f"{header!r}, a server fault, not the model's answer (transformers serve 5.24-5.25 adds it to Qwen-family "
            "replies); nothing is scored: serve the model with vLLM or SGLang")


def api_base(url: str) -> str:
    """The API base: ``http://host:port`` becomes ``http://host:port/v1``; a path given is kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MalpyeongError(f"--base-url {public_url(url)!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    path = parts.path.rstrip("/") or "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _api_key(engine: EngineOptions) -> str:
    if engine.api_key_env:
        key = os.environ.get(engine.api_key_env)
        if not key:
            raise MalpyeongError(f"--api-key-env {engine.api_key_env}: that variable is not set")
        return key
    return os.environ.get("OPENAI_API_KEY") or "EMPTY"  # local servers take any key


def _client(engine: EngineOptions, **overrides: Any) -> Any:
    try:
        import openai
    except ImportError:
        raise MalpyeongError("--backend openai needs the openai client: pip install 'malpyeong-eval[openai]'") from None
    options: dict[str, Any] = {"max_retries": engine.max_retries, "timeout": engine.request_timeout, **overrides}
    return openai.OpenAI(base_url=api_base(engine.base_url or ""), api_key=_api_key(engine), **options)


def _error_line(engine: EngineOptions, exc: Exception, retries: int) -> str:
    import openai

    where = public_url(api_base(engine.base_url or ""))
    after = f" after {retries} retries" if retries else ""
    if isinstance(exc, openai.APIStatusError):
        return f"endpoint {where}: HTTP {exc.status_code}{after}: {str(exc.message).splitlines()[0][:200]}"
    if isinstance(exc, openai.APITimeoutError):
        return f"endpoint {where}: no answer within {engine.request_timeout:g} s{after}"
    return f"endpoint {where}: cannot connect{after} ({exc.__class__.__name__}); is the server running?"


def server_version(base_url: str) -> str | None:
    """The version a server reports at ``/version`` (vLLM, SGLang), or None where it gives none."""
    parts = urlsplit(api_base(base_url))
    root = urlunsplit((parts.scheme, parts.netloc, "/version", "", ""))
    try:
        with urllib.request.urlopen(root, timeout=3) as response:  # noqa: S310 (http(s) only, checked above)
            version = json.loads(response.read().decode("utf-8")).get("version")
    except (OSError, ValueError, AttributeError):
        return None
    return str(version) if version else None


def probe_endpoint(engine: EngineOptions) -> EngineOptions:
    """``engine`` with the endpoint's model id (``--model-name``, or the one it lists) and server version.

    One request, no retries: an endpoint that does not answer is one line at once.
    """
    import openai

    client = _client(engine, max_retries=0, timeout=PROBE_TIMEOUT)
    try:
        served = [model.id for model in client.models.list()]
    except openai.NotFoundError:  # an endpoint that lists no models: trust --model-name
        served = []
    except openai.APIError as exc:
        raise MalpyeongError(_error_line(engine, exc, 0)) from None
    if engine.model_name is None:
        if len(served) != 1:
            listed = ", ".join(served) or "none listed"
            raise MalpyeongError(f"give --model-name: the endpoint serves {listed}")
        name = served[0]
    elif served and engine.model_name not in served:
        raise MalpyeongError(f"--model-name {engine.model_name!r}: the endpoint serves {', '.join(served)}")
    else:
        name = engine.model_name
    return replace(engine, model_name=name, server_version=server_version(engine.base_url or ""))


def request_options(settings: GenerationSettings) -> dict[str, Any]:
    """The chat completion parameters of these decoding settings (greedy: temperature 0)."""
    options: dict[str, Any] = {"max_tokens": settings.max_new_tokens, "seed": settings.seed,
                               "temperature": (settings.temperature if settings.temperature is not None else 1.0)
                               if settings.do_sample else 0.0}
    if settings.do_sample and settings.top_p is not None:
        options["top_p"] = settings.top_p
    extra: dict[str, Any] = {"chat_template_kwargs": {"enable_thinking": False}}
    if settings.repetition_penalty is not None:
        extra["repetition_penalty"] = settings.repetition_penalty
    options["extra_body"] = extra
    return options


class OpenAIGenerator:
    """Chat completions from a served model, ``engine.concurrency`` requests in flight."""

    tokenizer = None

    def __init__(self, engine: EngineOptions) -> None:
        if engine.model_name is None:
            engine = probe_endpoint(engine)
        self.engine = engine
        self.client = _client(engine)

    def render(self, prompt: ContestPrompt, items: Sequence[Item]) -> list[str]:
        """Each item's conversation as the JSON of its messages (what the request carries)."""
        return [json.dumps(prompt.item_messages(item), ensure_ascii=False) for item in items]

    def _answer(self, messages: list[dict[str, str]], options: dict[str, Any]) -> str:
        import openai

        try:
            response = self.client.chat.completions.create(model=self.engine.model_name, messages=messages, **options)
        except openai.APIError as exc:
            raise MalpyeongError(_error_line(self.engine, exc, self.engine.max_retries)) from None
        content = response.choices[0].message.content or ""
        header = role_header(content)
        if header is not None:  # the first such reply ends the run: one line, no answer scored
            raise MalpyeongError(role_header_fault(self.engine, header))
        return clean_output(content)

    def generate(self, prompts: Sequence[str], settings: GenerationSettings, batch_size: int | None,
                 on_batch: BatchCallback) -> None:
        """Answer every prompt; ``on_batch([index], [answer])`` as each answer arrives.

        The requests run in daemon threads, so that a failure or Ctrl-C ends the run at once
        instead of waiting for the requests in flight (their answers are dropped, and resumed).
        """
        options = request_options(settings)
        work: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(len(prompts)):
            work.put(index)
        answers: queue.SimpleQueue[tuple[int, str | None, Exception | None]] = queue.SimpleQueue()
        stop = threading.Event()

        def worker() -> None:
            while not stop.is_set():
                try:
                    index = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    answers.put((index, self._answer(json.loads(prompts[index]), options), None))
                except Exception as exc:  # handed to the main thread, which raises it
                    answers.put((index, None, exc))

        for _ in range(min(max(1, self.engine.concurrency), len(prompts))):
            threading.Thread(target=worker, daemon=True).start()
        try:
            for _ in range(len(prompts)):
                index, answer, error = _next_answer(answers)
                if error is not None:
                    raise error
                on_batch([index], [str(answer)])
        finally:
            stop.set()


def _next_answer(answers: queue.SimpleQueue[tuple[int, str | None, Exception | None]]) -> tuple[int, str | None, Exception | None]:
    """The next answer to arrive, waited for in short steps so that Ctrl-C is seen (a plain get() does not wake for it)."""
    while True:
        try:
            return answers.get(timeout=0.2)
        except queue.Empty:
            continue
