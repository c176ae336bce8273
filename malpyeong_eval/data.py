"""Reading contest files (JSON list or JSONL) into typed items, with the organizers' checks.

Every problem raises :class:`SubmissionError` with one line naming the file and the
item, so that the command line can print it and exit with status 2.

Beyond ``question_type`` and ``question``, an item's ``input`` may hold any other fields
(a retriever's passages, a team's notes): every JSON value is accepted (string, number,
boolean, null, list, object) and kept as read; only a lone surrogate in one of their
strings is refused, as in the question. ``output.article``, when present, must be a
string; a top-level ``retrieval`` record, when present, an object.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import MalpyeongError, SubmissionError

UNKNOWN_TYPE = "(none)"
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


CORE_INPUTS = ("question_type", "question")  # the ``input`` fields every prompt places itself


@dataclass(frozen=True)
class Item:
    """One contest item. ``answer`` is ``None`` for a test item without output.

    ``extra_inputs``: every other field of ``input`` in file order (e.g. a retriever's
    ``references``), values as JSON gave them; the contest prompt renders them as the
    organizers' baseline does (``[기타 정보]``). ``article``: ``output.article`` (the gold
    rule a team labelled), when present. ``retrieval``: the item's top-level ``retrieval``
    record written by ``malpyeong-eval retrieve`` (retriever, corpus, K, field, passage ids
    and scores), when present. The three default to empty, so ``Item(id, type, question,
    answer)`` still builds an item of the plain contest format.
    """

    id: str
    question_type: str
    question: str
    answer: str | None
    extra_inputs: dict[str, Any] = field(default_factory=dict, hash=False)
    article: str | None = None
    retrieval: dict[str, Any] | None = field(default=None, hash=False)


def sample_path(name: str = "gold") -> Path:
    """Path of a packaged sample file: ``gold``, ``submission`` or ``test`` (original items, not NIKL data)."""
    return Path(str(resources.files("malpyeong_eval") / "data" / f"sample_{name}.json"))


def evaluate_metric_path() -> str:
    """Directory of the ``evaluate`` module: ``evaluate.load(evaluate_metric_path())``."""
    return str(resources.files("malpyeong_eval") / "evaluate_metric")


def file_sha256(path: str | Path) -> str:
    """Content hash of a data file, recorded with every result."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def read_file(path: Path, *, what: str = "file", expected: str = "a JSON or JSONL file",
              error: type[MalpyeongError] = SubmissionError) -> bytes:
    """The bytes of a user's file, or one line naming the problem (missing, a directory)."""
    if not path.exists():
        raise error(f"{path}: {what} not found")
    if path.is_dir():
        raise error(f"{path}: is a directory, expected {expected}")
    return path.read_bytes()


def decode_utf8(path: Path, raw: bytes, *, error: type[MalpyeongError] = SubmissionError) -> str:
    """``raw`` as UTF-8 text (a BOM dropped), or one line naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data":
            raise error(f"{path}: file ends in the middle of a UTF-8 character (truncated file?)") from None
        raise error(f"{path}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})") from None


def read_records(path: str | Path) -> list[Any]:
    """Parse a JSON list or a JSONL file into a list of raw records."""
    path = Path(path)
    text = decode_utf8(path, read_file(path))
    if not text.strip():
        raise SubmissionError(f"{path}: file is empty")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as whole_error:
        return _read_jsonl(path, text, whole_error)
    except (RecursionError, ValueError) as exc:  # absurd nesting, or an integer past Python's digit limit
        raise SubmissionError(f"{path}: cannot be read as JSON ({type(exc).__name__}: {str(exc)[:80]})") from None
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and "id" in document:
        return [document]  # JSONL with a single line
    raise SubmissionError(
        f"{path}: top level is {_kind(document)}, expected a list of items (JSON) or one item per line (JSONL)"
    )


def check_writable(path: str | Path) -> Path:
    """``path`` as a file that can be written: its folder exists and it is not a folder itself."""
    path = Path(path)
    if path.is_dir():
        raise MalpyeongError(f"{path}: is a directory, expected an output file name")
    if not path.parent.is_dir():
        raise MalpyeongError(f"{path}: folder {path.parent} does not exist")
    return path


def write_records(path: str | Path, records: list[Any]) -> None:
    """Write records as JSONL (a ``.jsonl`` name) or a JSON list, whole or not at all.

    The text goes to a temporary file in the same folder, which then replaces ``path``
    (``os.replace``), so a failure never leaves a half-written file.
    """
    path = check_writable(path)
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    else:
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _read_jsonl(path: Path, text: str, whole_error: json.JSONDecodeError) -> list[Any]:
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except (RecursionError, ValueError) as exc:
            if not isinstance(exc, json.JSONDecodeError):
                raise SubmissionError(f"{path}: line {number}: cannot be read as JSON ({type(exc).__name__})") from None
            if not records:  # not JSONL either: report the whole-file JSON error
                if whole_error.pos >= len(text.rstrip()):
                    raise SubmissionError(
                        f"{path}: JSON ends unexpectedly at line {whole_error.lineno} (truncated file?)"
                    ) from None
                raise SubmissionError(
                    f"{path}: neither JSON nor JSONL: {whole_error.msg} at line {whole_error.lineno}, "
                    f"column {whole_error.colno}"
                ) from None
            raise SubmissionError(f"{path}: line {number}: invalid JSONL record: {exc.msg} at column {exc.colno}") from None
    return records


def _item_from_record(path: Path, index: int, record: Any, *, require_answer: bool) -> Item:
    where = f"{path}: item {index}"
    if not isinstance(record, dict):
        raise SubmissionError(f"{where} is {_kind(record)}, expected an object")
    if "id" not in record:
        raise SubmissionError(f"{where} has no 'id'")
    raw_id = record["id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise SubmissionError(f"{where}: 'id' is {_kind(raw_id)}, expected a string")
    item_id = str(raw_id)
    if _LONE_SURROGATE.search(item_id):
        raise SubmissionError(f"{where}: 'id' holds a lone surrogate, not text")
    where = f"{path}: item {index} (id {item_id!r})"
    inputs = record.get("input", {})
    if not isinstance(inputs, dict):
        raise SubmissionError(f"{where}: 'input' is {_kind(inputs)}, expected an object")
    question_type = inputs.get("question_type")
    question = inputs.get("question")
    answer: str | None = None
    if "output" in record or require_answer:
        if "output" not in record:
            raise SubmissionError(f"{where} has no 'output'")
        output = record["output"]
        if not isinstance(output, dict):
            raise SubmissionError(f"{where}: 'output' is {_kind(output)}, expected an object")
        if "answer" not in output:
            raise SubmissionError(f"{where} has no 'output.answer'")
        answer = output["answer"]
        if not isinstance(answer, str):
            raise SubmissionError(f"{where}: 'output.answer' is {_kind(answer)}, expected a string")
        if _LONE_SURROGATE.search(answer):
            raise SubmissionError(f"{where}: 'output.answer' holds a lone surrogate (\\ud800-\\udfff), not text")
    if isinstance(question, str) and _LONE_SURROGATE.search(question):
        raise SubmissionError(f"{where}: 'input.question' holds a lone surrogate, not text")
    extra_inputs = {str(key): value for key, value in inputs.items() if key not in CORE_INPUTS}
    for key, value in extra_inputs.items():
        if _has_lone_surrogate(value):
            raise SubmissionError(f"{where}: 'input.{key}' holds a lone surrogate, not text")
    article = None
    if isinstance(record.get("output"), dict) and record["output"].get("article") is not None:
        article = record["output"]["article"]
        if not isinstance(article, str):
            raise SubmissionError(f"{where}: 'output.article' is {_kind(article)}, expected a string")
    retrieval = record.get("retrieval")
    if retrieval is not None and not isinstance(retrieval, dict):
        raise SubmissionError(f"{where}: 'retrieval' is {_kind(retrieval)}, expected an object")
    return Item(
        id=item_id,
        question_type=question_type if isinstance(question_type, str) and question_type else UNKNOWN_TYPE,
        question=question if isinstance(question, str) else "",
        answer=answer,
        extra_inputs=extra_inputs,
        article=article,
        retrieval=retrieval,
    )


def _has_lone_surrogate(value: Any) -> bool:
    """Whether a JSON value holds a lone surrogate in any string (keys included)."""
    if isinstance(value, str):
        return bool(_LONE_SURROGATE.search(value))
    if isinstance(value, list):
        return any(_has_lone_surrogate(entry) for entry in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(key) or _has_lone_surrogate(entry) for key, entry in value.items())
    return False


def load_items(path: str | Path, *, require_answer: bool = False) -> list[Item]:
    """Load an official-format file; with ``require_answer`` every item needs ``output.answer``.

    Duplicate ids and a file without items (``[]``) are refused.
    """
    path = Path(path)
    records = read_records(path)
    if not records:
        raise SubmissionError(f"{path}: holds no items")
    items = [_item_from_record(path, i, r, require_answer=require_answer) for i, r in enumerate(records, start=1)]
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items, start=1):
        if item.id in first_seen:
            raise SubmissionError(f"{path}: duplicate id {item.id!r} (items {first_seen[item.id]} and {index})")
        first_seen[item.id] = index
    return items


def _listed(ids: list[str]) -> str:
    return ", ".join(repr(i) for i in ids[:5]) + (" ..." if len(ids) > 5 else "")


def in_gold_order(gold: list[Item], submission: list[Item]) -> bool:
    """Whether the submission holds the gold's ids at the same positions."""
    return [item.id for item in gold] == [item.id for item in submission]


def match_submission(
    gold: list[Item], submission: list[Item], submission_path: str | Path = "submission", *, align_by_id: bool = False
) -> list[Item]:
    """Check a submission against the gold items as the organizers do and return it in gold order.

    The organizers' checks: the same number of items, every submitted id in the gold, and the
    gold's id at every position (they refuse a reordered submission: ``ID mismatch``).
    ``align_by_id`` reorders such a submission by id instead; its scores are then not the
    organizers' (see :func:`in_gold_order` to mark them).
    """
    gold_ids = {item.id for item in gold}
    submitted = {item.id: item for item in submission}
    unknown = [item.id for item in submission if item.id not in gold_ids]
    if len(submission) != len(gold):
        missing = [item.id for item in gold if item.id not in submitted]
        details = (f"; missing ids: {_listed(missing)}" if missing else "") + (
            f"; ids not in the gold file: {_listed(unknown)}" if unknown else ""
        )
        raise SubmissionError(f"{submission_path}: {len(submission)} items but the gold file has {len(gold)}{details}")
    for index, item in enumerate(submission, start=1):
        if item.id not in gold_ids:
            raise SubmissionError(f"{submission_path}: item {index} has id {item.id!r}, which is not in the gold file")
    if not align_by_id:
        for index, (expected, item) in enumerate(zip(gold, submission, strict=True), start=1):
            if expected.id != item.id:
                raise SubmissionError(
                    f"{submission_path}: item {index} has id {item.id!r} where the gold file has {expected.id!r} "
                    "(the organizers refuse a submission not in the gold's order; --align-by-id scores it by id, "
                    "marked as not the organizers')"
                )
    return [submitted[item.id] for item in gold]
