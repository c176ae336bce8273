"""Loading the model-based scorers: device choice, Hub reachability, quiet loading, clear load errors."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import MalpyeongError, ModelLoadError


_ACCELERATORS = ("cuda", "mps", "xpu")  # the device types torch can run these models on, besides cpu


def _available(torch, kind: str) -> bool:
    backend = getattr(torch.backends, kind, None) if kind == "mps" else getattr(torch, kind, None)
    return bool(backend is not None and backend.is_available())


def resolve_device(device: str | None = None) -> str:
    """``device`` as given, checked against what this torch can use (cpu, an available cuda, mps or
    xpu, an index that exists), else ``cuda`` when available, else ``cpu``."""
    import torch

    if not device:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError):
        raise MalpyeongError(f"--device {device!r} is not a device (cpu, cuda, cuda:1 ...)") from None
    if parsed.type == "cpu":
        return device
    if parsed.type not in _ACCELERATORS:
        raise MalpyeongError(f"--device {device!r}: malpyeong-eval runs on cpu, cuda, mps or xpu, not {parsed.type}")
    if not _available(torch, parsed.type):
        raise MalpyeongError(f"--device {device!r}: no {parsed.type} device is visible here; use --device cpu")
    count = getattr(torch, parsed.type).device_count() if parsed.type != "mps" else 1
    if parsed.index is not None and parsed.index >= count:
        raise MalpyeongError(f"--device {device!r}: only {count} {parsed.type} device(s) visible (0 to {count - 1})")
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


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
                   "vocab.json", "spm.model")


def _looks_like_path(model: str) -> bool:
    return model.startswith(("/", "./", "../", "~")) or model in (".", "..") or model.count("/") > 1 or "\\" in model


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")


def check_model(model: str, what: str, flag: str, variable: str | None = None, *, tokenizer: bool = False) -> None:
    """Before anything loads, one line for a model that cannot be one: a path that does not exist, a file
    given as a model folder, a folder without ``config.json``, one without its tokenizer files where the
    scorer needs them (``tokenizer``: else transformers builds an ``[UNK]``-only one and scores silently
    wrong), or, offline, a Hub id that is not in the cache; then the Hub's reachability."""
    flag = f"{flag} or {variable}" if variable else flag
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ModelLoadError(f"cannot load {what} model {model!r}: it is a file, not a model directory ({flag})")
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"cannot load {what} model {model!r}: the directory has no config.json, not a model ({flag})")
        if tokenizer and not any((path / name).is_file() for name in TOKENIZER_FILES):
            raise ModelLoadError(f"cannot load {what} model {model!r}: no tokenizer files ({', '.join(TOKENIZER_FILES[:3])} ...): "
                                 "copy the model's tokenizer into the directory")
        return
    if _looks_like_path(model):
        raise ModelLoadError(f"cannot load {what} model {model!r}: no such directory ({flag})")
    if _offline():
        from huggingface_hub import try_to_load_from_cache

        try:
            cached = try_to_load_from_cache(model, "config.json")
        except ValueError:  # not a valid repo id either
            cached = None
        if not isinstance(cached, str):
            raise ModelLoadError(f"cannot load {what} model {model!r}: not a local directory, and not in the Hub cache "
                                 f"(HF_HUB_OFFLINE is set) ({flag})")
        return
    try:
        check_hub_reachable(model)
    except OSError as exc:
        raise ModelLoadError(f"cannot load {what} model {model!r}: {exc} ({flag})") from None


def load_error(what: str, model: str, flag: str, variable: str, exc: BaseException) -> ModelLoadError:
    """One line naming the model that failed and how to point elsewhere."""
    reason = one_line(exc)
    where = "local directory" if Path(model).exists() else "model id (no network or not on the Hub?)"
    return ModelLoadError(
        f"cannot load {what} model {model!r} as a {where}: {reason}; "
        f"set {flag} or {variable} to a local model directory"
    )


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as one short line: its first line, else its type."""
    text = str(exc).strip()
    first = text.splitlines()[0].strip() if text else ""
    return (f"{type(exc).__name__}: {first}" if first else type(exc).__name__)[:limit]
