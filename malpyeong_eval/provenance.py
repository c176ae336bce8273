"""What produced a run, as lm-evaluation-harness records it: library versions, the model's
revision and weights hash, the chat template's hash, git commits, device and dtype, timing.

Weights hash (``weights.method``): every weight file (``*.safetensors``, ``*.bin``, ``*.pt``)
up to 256 MiB is hashed in full (``sha256``), which covers LoRA adapters and the tests' tiny
models. A larger file is hashed by its size, its safetensors header (names, dtypes, shapes) and
16 blocks of 64 KiB spread evenly over it (``sha256-sampled``): a fine-tuned checkpoint changes
every block, so two checkpoints of one model differ, while a 16 GB model costs about 1 MiB of
reading. The index file (``*.index.json``) is hashed in full. A model named by Hub id and found in
the Hugging Face cache records the cache's resolved revision (the snapshot's commit sha).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from .secrets import mask_words

LIBRARIES = ("malpyeong-eval", "torch", "transformers", "trl", "peft", "vllm", "accelerate", "datasets",
             "bert-score", "rouge-score", "python-mecab-ko", "python-mecab-ko-dic", "sentencepiece", "safetensors",
             "tokenizers", "sqlalchemy", "trackio", "wandb")
WEIGHT_PATTERNS = ("*.safetensors", "*.bin", "*.pt")
FULL_HASH_LIMIT = 256 * 2**20
SAMPLES, SAMPLE_BYTES = 16, 64 * 2**10
GIT_TIMEOUT = 5.0
_SNAPSHOT = re.compile(r"models--(?P<repo>[^/\\]+)[/\\]snapshots[/\\](?P<sha>[0-9a-f]{40})")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a run depends on (``None``: not installed), and Python's."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_state(folder: str | Path) -> dict[str, Any] | None:
    """``{"commit", "dirty", "root"}`` of the git repository holding ``folder``; ``None`` when it is none
    (or git is missing or slow)."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        return None

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT,
                                  env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None, "root": git("rev-parse", "--show-toplevel")}


def _file_digest(path: Path) -> tuple[str, str]:
    """(method, sha256) of one weight file; see the module's docstring."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        if size <= FULL_HASH_LIMIT:
            for block in iter(lambda: handle.read(2**20), b""):
                digest.update(block)
            return "sha256", digest.hexdigest()
        digest.update(str(size).encode())
        if path.suffix == ".safetensors":
            header_length = int.from_bytes(handle.read(8), "little")
            digest.update(handle.read(min(header_length, FULL_HASH_LIMIT)))
        for index in range(SAMPLES):
            handle.seek((size - SAMPLE_BYTES) * index // (SAMPLES - 1))
            digest.update(handle.read(SAMPLE_BYTES))
    return "sha256-sampled", digest.hexdigest()


def weights_hash(folder: str | Path) -> dict[str, Any] | None:
    """``{"sha256", "method", "files"}`` over a model folder's weight files; ``None`` without any."""
    path = Path(folder)
    if not path.is_dir():
        return None
    files = sorted({f for pattern in (*WEIGHT_PATTERNS, "*.index.json") for f in path.glob(pattern) if f.is_file()})
    if not files:
        return None
    total, methods = hashlib.sha256(), set()
    for file in files:
        method, digest = _file_digest(file)
        methods.add(method)
        total.update(f"{file.name}\0{digest}\n".encode())
    return {"sha256": total.hexdigest(), "method": "sha256-sampled" if "sha256-sampled" in methods else "sha256",
            "files": len(files)}


def hub_revision(folder: Path | None) -> str | None:
    """The Hub revision (commit sha) of a model's folder (:func:`local_folder`) when it is, or links
    into, a snapshot in the HF cache."""
    match = _SNAPSHOT.search(str(folder.resolve())) if folder else None
    return match["sha"] if match else None


def local_folder(model: str) -> Path | None:
    """The folder holding ``model``'s files: the path itself, or its snapshot in the HF cache."""
    if Path(model).expanduser().is_dir():
        return Path(model).expanduser()
    try:
        from huggingface_hub import try_to_load_from_cache

        config = try_to_load_from_cache(model, "config.json")
    except Exception:  # noqa: BLE001 - not a repo id, or no cache
        return None
    return Path(config).parent if isinstance(config, str) else None


def model_provenance(model: str, adapter: str | None = None) -> dict[str, Any]:
    """Source, Hub revision, weights hash and git state of a model (and of its LoRA adapter)."""
    folder = local_folder(model)
    record: dict[str, Any] = {
        "source": model, "revision": hub_revision(folder),
        "weights": weights_hash(folder) if folder else None,
        "git": git_state(folder) if folder else None,
    }
    if adapter:
        record["adapter"] = {"source": adapter, "weights": weights_hash(adapter), "git": git_state(adapter)}
    return record


def text_hash(text: str | None) -> str | None:
    """sha256 of a text (a chat template), ``None`` for none."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def device_description(device: str | None) -> dict[str, Any]:
    """The device a run used, with the accelerator's name where there is one."""
    name = device or "cpu"
    described: dict[str, Any] = {"device": name, "platform": platform.platform(), "cpu_count": os.cpu_count()}
    if name.startswith("cuda"):
        try:
            import torch

            described["gpu"] = torch.cuda.get_device_name(torch.device(name))
            described["cuda"] = torch.version.cuda
        except Exception:  # noqa: BLE001 - a device string torch cannot read: no name to add
            pass
    return described


def now() -> str:
    """The current UTC time, ISO 8601."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment(device: str | None = None) -> dict[str, Any]:
    """What every run records whatever made it: versions, the working tree's git state, the command (a URL's
    password masked), the device."""
    return {
        "libraries": library_versions(), "git": git_state(Path.cwd()), "device": device_description(device),
        "command": mask_words((Path(sys.argv[0]).name, *sys.argv[1:])),
    }


class Stopwatch:
    """When a run started (monotonic and as UTC text), for its provenance's timing."""

    def __init__(self) -> None:
        self.started, self.started_at = time.perf_counter(), now()

    def seconds(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.started

    def timing(self) -> dict[str, Any]:
        """``started_at``, ``finished_at`` (now) and ``wall_seconds``."""
        return {"started_at": self.started_at, "finished_at": now(), "wall_seconds": round(self.seconds(), 3)}


def run_provenance(device: str | None, stopwatch: Stopwatch, *, device_details: dict[str, Any] | None = None,
                   **details: Any) -> dict[str, Any]:
    """What produced a run, as ``run`` and ``score --record`` record it: the :func:`environment` on
    ``device`` (with ``device_details``, e.g. the dtype, added to its device entry), ``details`` (the
    model, the seed, generation timing...) and the run's timing, taken now."""
    env = environment(device)
    env["device"].update(device_details or {})
    return {**env, **details, **stopwatch.timing()}
