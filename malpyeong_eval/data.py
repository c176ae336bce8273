"""Reading contest files (JSON list or JSONL) into typed items, with the organizers' checks.

Every problem raises :class:`SubmissionError` with one line naming the file and the
item, so that the command line can print it and exit with status 2.

Beyond ``question_type`` and ``question``, an item's ``input`` may hold any other fields
(a retriever's passages, a team's notes): every JSON value is accepted (string, number,
boolean, null, list, object) and kept as read. Files are read by :mod:`.inputs` (bounded,
regular files only, no lone surrogate in any string, JSONL split on real line ends only).
``output.article``, when present, must be a string; a top-level ``retrieval`` record, when present, an object.

This module is the one parser of the format: a file is read once (:func:`load_data`), its sha256
taken from the same bytes, and each :class:`Item` keeps the record it was read from.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import SubmissionError
from .inputs import check_value, decode_utf8, jsonl_lines, loads, read_bytes
from .outputs import write_output

UNKNOWN_TYPE = "(none)"


CORE_INPUTS = ("question_type", "question")  # the ``input`` fields every prompt places itself


@dataclass(frozen=True)
class Item:
    """One contest item. ``answer`` is ``None`` for a test item without output.

    ``extra_inputs``: every other field of ``input`` in file order (e.g. a retriever's
    ``references``), values as JSON gave them; the contest prompt renders them as the
    organizers' baseline does (``[기타 정보]``). ``article``: ``output.article`` (the gold
    rule a team labelled), when present. ``retrieval``: the item's top-level ``retrieval``
    record written by ``malpyeong-eval retrieve`` (retriever, corpus, K, field, passage ids
    and scores), when present.

    ``record``: the JSON object the item was read from, as read (every field a team added
    kept). A data file is read and checked once, by :func:`load_data`; whatever writes items
    back (the submission, ``retrieve``'s and ``label``'s output) starts from
    :meth:`as_record`, a copy of that record, rather than reading the file again, and
    everything else reads the typed fields. ``record`` is left out of comparison, hashing and
    ``repr``: two items are equal by their contest fields. The four optional fields default
    to empty, so ``Item(id, type, question, answer)`` still builds an item of the plain
    contest format in code (its :meth:`as_record` is then made from its fields).
    """

    id: str
    question_type: str
    question: str
    answer: str | None
    extra_inputs: dict[str, Any] = field(default_factory=dict, hash=False)
    article: str | None = None
    retrieval: dict[str, Any] | None = field(default=None, hash=False)
    record: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def as_record(self) -> dict[str, Any]:
        """The item in the contest format, a copy to change freely: its source record, or, for an
        item built in code, ``id``, ``input`` and what it has of ``output`` and ``retrieval``."""
        if self.record:
            return copy.deepcopy(self.record)
        record: dict[str, Any] = {
            "id": self.id, "input": {"question_type": self.question_type, "question": self.question, **self.extra_inputs},
        }
        output = {key: value for key, value in (("answer", self.answer), ("article", self.article)) if value is not None}
        if output:
            record["output"] = output
        if self.retrieval is not None:
            record["retrieval"] = self.retrieval
        return copy.deepcopy(record)


@dataclass(frozen=True)
class DataFile:
    """A contest file as :func:`load_data` read it, once: its path, the sha256 of its bytes
    (the data a run records) and its items."""

    path: Path
    sha256: str
    items: list[Item]


def sample_path(name: str = "gold") -> Path:
    """Path of a packaged sample file: ``gold``, ``submission`` or ``test`` (original items, not NIKL data)."""
    return Path(str(resources.files("malpyeong_eval") / "data" / f"sample_{name}.json"))


def evaluate_metric_path() -> str:
    """Directory of the ``evaluate`` module: ``evaluate.load(evaluate_metric_path())``."""
    return str(resources.files("malpyeong_eval") / "evaluate_metric")


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def _records(path: Path, text: str) -> list[Any]:
    """Parse a JSON list or a JSONL file's text into a list of raw records (each checked by
    :func:`~malpyeong_eval.inputs.check_value`: bounded depth, no lone surrogate anywhere)."""
    if not text.strip():
        raise SubmissionError(f"{path}: file is empty")
    try:
        document = loads(str(path), text)
    except json.JSONDecodeError as whole_error:
        records = _read_jsonl(path, text, whole_error)
    else:
        if isinstance(document, list):
            records = document
        elif isinstance(document, dict) and "id" in document:
            records = [document]  # JSONL with a single line
        else:
            raise SubmissionError(
                f"{path}: top level is {_kind(document)}, expected a list of items (JSON) or one item per line (JSONL)"
            )
    for index, record in enumerate(records, start=1):
        check_value(f"{path}: item {index}", record)
    return records


def write_records(path: str | Path, records: list[Any]) -> None:
    """Write records as JSONL (a ``.jsonl`` name) or a JSON list, whole or not at all
    (:func:`~malpyeong_eval.outputs.write_output`: a failure never leaves a half-written file)."""
    path = Path(path)
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    else:
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    write_output(path, text)


def _read_jsonl(path: Path, text: str, whole_error: json.JSONDecodeError) -> list[Any]:
    records = []
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            records.append(loads(f"{path}: line {number}", line))
        except json.JSONDecodeError as exc:
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


def _item_id(path: Path, index: int, record: Any) -> str:
    """The id of a record, which must be an object with a text or number ``id``."""
    where = f"{path}: item {index}"
    if not isinstance(record, dict):
        raise SubmissionError(f"{where} is {_kind(record)}, expected an object")
    if "id" not in record:
        raise SubmissionError(f"{where} has no 'id'")
    raw_id = record["id"]
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise SubmissionError(f"{where}: 'id' is {_kind(raw_id)}, expected a string")
    return str(raw_id)


def _answer(where: str, record: dict[str, Any], require_answer: bool) -> str | None:
    """``output.answer``: a string when there is an ``output`` (or one is required), else ``None``."""
    if "output" not in record and not require_answer:
        return None
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
    return answer


def _checked(where: str, key: str, value: Any, kind: type, expected: str) -> Any:
    """``value`` (the record's ``key``) when it is ``None`` or of ``kind``; else one line saying what it is."""
    if value is not None and not isinstance(value, kind):
        raise SubmissionError(f"{where}: '{key}' is {_kind(value)}, expected {expected}")
    return value


def _item_from_record(path: Path, index: int, record: Any, *, require_answer: bool) -> Item:
    item_id = _item_id(path, index, record)
    where = f"{path}: item {index} (id {item_id!r})"
    inputs = record.get("input", {})
    if not isinstance(inputs, dict):
        raise SubmissionError(f"{where}: 'input' is {_kind(inputs)}, expected an object")
    answer = _answer(where, record, require_answer)
    output = record.get("output")
    article = _checked(where, "output.article", output.get("article") if isinstance(output, dict) else None, str, "a string")
    question_type, question = inputs.get("question_type"), inputs.get("question")
    return Item(
        id=item_id,
        question_type=question_type if isinstance(question_type, str) and question_type else UNKNOWN_TYPE,
        question=question if isinstance(question, str) else "",
        answer=answer,
        extra_inputs={str(key): value for key, value in inputs.items() if key not in CORE_INPUTS},
        article=article,
        retrieval=_checked(where, "retrieval", record.get("retrieval"), dict, "an object"),
        record=record,
    )


def load_data(path: str | Path, *, require_answer: bool = False) -> DataFile:
    """Read an official-format file once: its items and the sha256 of its bytes; with
    ``require_answer`` every item needs ``output.answer``.

    Duplicate ids and a file without items (``[]``) are refused.
    """
    path = Path(path)
    raw = read_bytes(path)
    records = _records(path, decode_utf8(path, raw))
    if not records:
        raise SubmissionError(f"{path}: holds no items")
    items = [_item_from_record(path, i, r, require_answer=require_answer) for i, r in enumerate(records, start=1)]
    first_seen: dict[str, int] = {}
    for index, item in enumerate(items, start=1):
        if item.id in first_seen:
            raise SubmissionError(f"{path}: duplicate id {item.id!r} (items {first_seen[item.id]} and {index})")
        first_seen[item.id] = index
    return DataFile(path, hashlib.sha256(raw).hexdigest(), items)


def load_items(path: str | Path, *, require_answer: bool = False) -> list[Item]:
    """The items of an official-format file (:func:`load_data`, where its hash is also needed)."""
    return load_data(path, require_answer=require_answer).items


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
