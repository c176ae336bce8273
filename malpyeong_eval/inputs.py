"""The one reader of every file a user hands in (data, submissions, corpora, prompts, labels, configs).

A path is checked before it is opened: missing, a directory, or not a regular file (a FIFO
with no writer, ``/dev/zero``, a socket) is refused at once, and a file over
:data:`MAX_INPUT_BYTES` is refused without reading it all. Text is UTF-8 (a BOM dropped).
Every parsed value goes through :func:`check_value` once: nested at most :data:`MAX_DEPTH`
levels, and no lone surrogate (``\\ud800``-``\\udfff``) in any string or key. JSONL is split on
``\\n`` (``\\r\\n``) only, never inside a string at U+2028, U+2029 or U+0085.

Container formats are bounded before they are read: a ``.docx`` (:func:`check_docx`) by the sizes its
zip declares (whole and against its packed size) and by refusing any DTD (a Word document has none; a
DTD is how entity bombs arrive); YAML (:func:`load_yaml`) by the number of nodes it would hold with every
alias expanded, counted on the parsed graph before anything is built (the caller bounds the text's size:
PyYAML parses some 150 KB a second).

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
MAX_DOCX_UNPACKED_BYTES = 64 * 1024 * 1024  # a rules document of some MB of text unpacks to a few tens of MB of XML
MAX_DOCX_RATIO = 100  # unpacked / packed; Word's XML packs about 5 to 15 times
MAX_DOCX_MEMBERS = 10_000
MAX_YAML_NODES = 100_000  # with aliases expanded; a training config holds a few hundred
_DTD_MARKS = (b"<!DOCTYPE", b"<!ENTITY")
LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")

__all__ = ["LONE_SURROGATE", "MAX_DEPTH", "MAX_INPUT_BYTES", "check_docx", "check_value", "decode_utf8", "jsonl_lines",
           "load_yaml", "loads", "read_bytes", "read_json", "read_text"]


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


def check_docx(path: str | Path, raw: bytes, *, error: type[MalpyeongError] = SubmissionError) -> None:
    """Refuse, before python-docx reads it, a ``.docx`` (``raw``, a zip) that unpacks past
    :data:`MAX_DOCX_UNPACKED_BYTES` or :data:`MAX_DOCX_RATIO` times its packed size, holds more than
    :data:`MAX_DOCX_MEMBERS` members, or declares a DTD (``<!DOCTYPE``, ``<!ENTITY``) in any XML part.
    The sizes are those the zip declares, which :mod:`zipfile` never reads past."""
    import io
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
            if len(members) > MAX_DOCX_MEMBERS:
                raise error(f"{path}: {len(members):,} parts in the .docx, more than the {MAX_DOCX_MEMBERS:,} allowed")
            unpacked = sum(member.file_size for member in members)
            if unpacked > MAX_DOCX_UNPACKED_BYTES:
                raise error(f"{path}: the .docx unpacks to {unpacked:,} bytes, more than the {MAX_DOCX_UNPACKED_BYTES:,} allowed")
            packed = sum(member.compress_size for member in members)
            if unpacked > MAX_DOCX_RATIO * max(packed, 1024):
                raise error(f"{path}: the .docx unpacks to {unpacked / max(packed, 1):,.0f} times its size, more than "
                            f"the {MAX_DOCX_RATIO} allowed (a zip bomb?)")
            for member in members:
                if member.filename.endswith((".xml", ".rels")) and _declares_dtd(archive, member):
                    raise error(f"{path}: {member.filename} in the .docx declares a DTD (entities), which Word never writes")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as exc:
        raise error(f"{path}: not a readable .docx ({type(exc).__name__}: {str(exc)[:80]})") from None


def _declares_dtd(archive, member) -> bool:
    """Whether a zip member's bytes hold ``<!DOCTYPE`` or ``<!ENTITY`` (read in pieces, never whole)."""
    overlap = max(len(mark) for mark in _DTD_MARKS) - 1
    tail = b""
    with archive.open(member) as stream:
        while piece := stream.read(1 << 20):
            window = tail + piece
            if any(mark in window for mark in _DTD_MARKS):
                return True
            tail = window[-overlap:]
    return False


def load_yaml(where: str, text: str, *, error: type[MalpyeongError] = MalpyeongError, what: str = "YAML",
              max_nodes: int = MAX_YAML_NODES) -> Any:
    """``text`` parsed as YAML with the safe loader (no Python tags), checked (:func:`check_value`), or one
    line: not YAML, a tag the safe loader refuses, more than ``max_nodes`` nodes once every alias is
    expanded (an alias bomb), a structure that holds itself, or nesting too deep to build."""
    import yaml

    _check_flow_depth(where, text, error, what)
    loader = yaml.SafeLoader(text)  # PyYAML's own parser: libyaml's refuses a \ud800 escape before check_value can name it
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expanded_size(where, node, max_nodes, error)
        value = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise error(f"{where}: cannot read the {what} ({_yaml_problem(exc)})") from None
    except RecursionError:
        raise error(f"{where}: cannot read the {what} (nested too deep)") from None
    finally:
        loader.dispose()
    return check_value(where, value, error=error)


_FLOW_BRACKETS = re.compile(r"[\[\]{}]")


def _check_flow_depth(where: str, text: str, error: type[MalpyeongError], what: str) -> None:
    """Refuse ``[``/``{`` nested past :data:`MAX_DEPTH` before PyYAML reads them (its scanner takes time
    quadratic in the depth: 5,000 levels, 5 s). Brackets inside quotes count too: a false refusal needs
    a hundred unclosed ones in a row."""
    depth = 0
    for bracket in _FLOW_BRACKETS.finditer(text):
        depth = depth + 1 if bracket.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_DEPTH:
            raise error(f"{where}: cannot read the {what} (nested deeper than {MAX_DEPTH} levels)")


def _yaml_problem(exc: Exception) -> str:
    """A YAML error in a few words: its problem and where (line, column), never its multi-line snippet."""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(problem)


def _check_expanded_size(where: str, root: Any, max_nodes: int, error: type[MalpyeongError]) -> None:
    """Count the nodes of a composed YAML graph as the tree it would build (an alias counts its target's
    nodes again), each shared node counted once (so an alias bomb is counted, not walked); refuse past
    ``max_nodes`` or on a node that holds itself. Iterative: any depth."""
    import yaml

    def children(node: Any) -> list[Any]:
        if isinstance(node, yaml.MappingNode):
            return [part for pair in node.value for part in pair]
        return list(node.value) if isinstance(node, yaml.SequenceNode) else []

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children(node))
            if sizes[key] > max_nodes:
                raise error(f"{where}: more than {max_nodes:,} values once its aliases are expanded (an alias bomb?)")
        elif key in open_nodes:
            raise error(f"{where}: an alias refers to a node that holds it (a structure that holds itself)")
        elif key not in sizes:
            open_nodes.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children(node))
