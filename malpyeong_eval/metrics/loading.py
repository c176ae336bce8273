"""Loading the model-based scorers: device choice, Hub reachability, quiet loading, clear load errors."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MalpyeongError, ModelLoadError


def resolve_device(device: str | None = None) -> str:
    """``device`` as given (checked), else ``cuda`` when available, else ``cpu``."""
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        raise MalpyeongError(f"--device {device!r} is not a device (cpu, cuda, cuda:1, mps ...)") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise MalpyeongError(f"--device {device!r}: no CUDA device is visible here; use --device cpu")
    return device


def model_from_env(default: str, variable: str) -> str:
    """The model named by ``variable`` in the environment, else ``default``."""
    return os.environ.get(variable) or default


@contextmanager
def quiet_hub_logs() -> Iterator[None]:
    """Keep the Hub's retry warnings and transformers' notices off the terminal while loading."""
    import huggingface_hub.utils.logging as hub_logging
    import transformers.utils.logging as transformers_logging

    hub_level, transformers_level = hub_logging.get_verbosity(), transformers_logging.get_verbosity()
    bars = transformers_logging.is_progress_bar_enabled()
    hub_logging.set_verbosity_error()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        hub_logging.set_verbosity(hub_level)
        transformers_logging.set_verbosity(transformers_level)
        if bars:
            transformers_logging.enable_progress_bar()


def check_hub_reachable(model: str, timeout: float = 3.0) -> None:
    """Fail fast (instead of the Hub client's long retries) when ``model`` is neither local,
    nor cached, nor reachable."""
    if Path(model).exists() or os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return
    from huggingface_hub import constants, try_to_load_from_cache

    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
    except OSError as exc:
        raise OSError(f"not a local directory, not in the Hub cache, and {host} is unreachable ({exc})") from None


def load_error(what: str, model: str, flag: str, variable: str, exc: BaseException) -> ModelLoadError:
    """One line naming the model that failed and how to point elsewhere."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = "local directory" if Path(model).exists() else "model id (no network or not on the Hub?)"
    return ModelLoadError(
        f"cannot load {what} model {model!r} as a {where}: {reason[:200]}; "
        f"set {flag} or {variable} to a local model directory"
    )
