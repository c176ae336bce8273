"""The weights hash written out plainly, from the README's provenance section (not from the package):
"sha256 over every weight file" (``.safetensors``, ``.bin``, ``.pt``), each file's sha256 combined
in name order. Used by ``tests/test_provenance.py``."""

from __future__ import annotations

import hashlib
from pathlib import Path


def plain_weights_sha(folder: Path) -> str:
    """Each weight file's sha256, combined in name order (``name\\0hexdigest\\n`` per file)."""
    total = hashlib.sha256()
    for file in sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin", ".pt")):
        total.update(f"{file.name}\0{hashlib.sha256(file.read_bytes()).hexdigest()}\n".encode())
    return total.hexdigest()
