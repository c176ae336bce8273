"""The one reader of every file a user hands in (data, submissions, corpora, prompts, labels, configs).

A path is checked before it is opened: missing, a directory, or not a regular file (a FIFO
with no writer, ``/dev/zero``, a socket) is refused at once, and a file over
:data:`MAX_INPUT_BYTES` is refused without reading it all. Text is UTF-8 (a BOM dropped).
Every parsed value goes through :func:`check_value` once: nested at most :data:`MAX_DEPTH`
levels, and no lone surrogate (``\\ud800``-``\\udfff``) in any string or key. JSONL is split on
``\\n`` (``\\r\\n``) only, never inside a string at U+2028, U+2029 or U+0085.

Every problem is one line naming the file, raised as the caller's error class.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

from .errors import MalpyeongError, SubmissionError

MAX_INPUT_BYTES = 512 * 1024 * 1024
MAX_DEPTH = 100
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

__all__ = ["LONE_SURROGATE", "MAX_DEPTH", "MAX_INPUT_BYTES", "check_value", "decode_utf8", "jsonl_lines", "loads",
           "read_bytes", "read_json", "read_text"]


def read_bytes(path: str | Path, *, what: str = "file", expected: str = "a JSON or JSONL file",
               error: type[MalpyeongError] = SubmissionError, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a user's regular file, or one line naming the problem."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(info.st_mode):
        raise error(f"{path}: is a directory, expected {expected}")
    if not stat.S_ISREG(info.st_mode):
        raise error(f"{path}: not a regular file (a pipe, device or socket), expected {expected}")
    if info.st_size > max_bytes:
        raise error(f"{path}: {info.st_size:,} bytes, more than the {max_bytes:,} a {what} may hold")
    try:
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | os.O_NONBLOCK)) as handle:
            raw = handle.read(max_bytes + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or type(exc).__name__})") from None
    if len(raw) > max_bytes:  # grew while read
        raise error(f"{path}: more than the {max_bytes:,} bytes a {what} may hold")
    return raw


def decode_utf8(path: str | Path, raw: bytes, *, error: type[MalpyeongError] = SubmissionError) -> str:
    """``raw`` as UTF-8 text (a BOM dropped), or one line naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            raise error(f"{path}: file ends in the middle of a UTF-8 character (truncated file?)") from None
        raise error(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def read_text(path: str | Path, *, what: str = "file", expected: str = "a JSON or JSONL file",
              error: type[MalpyeongError] = SubmissionError) -> str:
    """A user's file as UTF-8 text (see :func:`read_bytes`)."""
    return decode_utf8(path, read_bytes(path, what=what, expected=expected, error=error), error=error)


def _location(keys: list[Any]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in keys).lstrip(".")


def check_value(where: str, value: Any, *, error: type[MalpyeongError] = SubmissionError,
                max_depth: int = MAX_DEPTH) -> Any:
    """``value`` (parsed JSON or YAML) unchanged, or one line: nested deeper than ``max_depth``, or a lone
    surrogate in a string or key. Iterative: any depth is checked without recursion."""
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    while stack:
        current, keys = stack.pop()
        if isinstance(current, str):
            if LONE_SURROGATE.search(current):
                at = f" {_location(keys)!r}" if keys else ""
                raise error(f"{where}:{at} holds a lone surrogate (\\ud800-\\udfff), not text")
            continue
        if isinstance(current, (dict, list)):
            if len(keys) >= max_depth:
                raise error(f"{where}: nested deeper than {max_depth} levels")
            entries = current.items() if isinstance(current, dict) else enumerate(current)
            for key, entry in entries:
                if isinstance(key, str) and LONE_SURROGATE.search(key):
                    raise error(f"{where}: a key under {_location(keys) or 'the top level'!r} holds a lone surrogate, not text")
                stack.append((entry, [*keys, key]))
    return value


def jsonl_lines(text: str) -> list[str]:
    """``text`` split at ``\\n`` (a trailing ``\\r`` dropped) only: U+2028, U+2029, U+0085 and other
    characters ``str.splitlines`` breaks at are valid inside a JSON string."""
    return [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]


def loads(where: str, text: str, *, error: type[MalpyeongError] = SubmissionError) -> Any:
    """``json.loads`` that lets :class:`json.JSONDecodeError` through (callers word it) and turns absurd
    nesting or an integer past Python's digit limit into one line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (RecursionError, ValueError) as exc:
        raise error(f"{where}: cannot be read as JSON ({type(exc).__name__}: {str(exc)[:80]})") from None


def read_json(path: str | Path, *, what: str = "JSON file", error: type[MalpyeongError] = MalpyeongError) -> Any:
    """A user's JSON file, parsed and checked (:func:`check_value`)."""
    text = read_text(path, what=what, expected=f"a {what}", error=error)
    try:
        value = loads(str(path), text, error=error)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from None
    return check_value(str(path), value, error=error)
