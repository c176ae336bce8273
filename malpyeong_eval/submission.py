"""A run folder: its name (:func:`run_folder_name`), its generations (``generations.jsonl``, appended
batch by batch so that a run resumes; :class:`GenerationStore` writes it, :func:`read_generations`
reads it), and the submission file. The one owner of those formats."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import Item
from .outputs import write_output
from .selection import CandidateScore

GENERATIONS_FILE = "generations.jsonl"


def run_folder_prefix(name: str) -> str:
    """The start of the run folder of a run named ``name``: the name with every run of characters
    outside ``A-Za-z0-9._-`` made one ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def run_folder_name(name: str, key: str) -> str:
    """The run folder (under ``--runs-dir``) of the run named ``name`` whose generations ``key``
    (:func:`~malpyeong_eval.runner.generation_key`) names: ``NAME-KEY10``."""
    return f"{run_folder_prefix(name)}-{key[:10]}"


@dataclass(frozen=True)
class Generation:
    """One line of ``generations.jsonl``: the item's answer as submitted, the prompt the model was given
    (``None`` in lines written before prompts were kept) and what its citation line named (``None``: none).

    In a sampled run (``run --samples N --select RULE``) each line is one of the item's candidates:
    ``sample`` is its number (0 to N-1; ``None``: the item's only generation), ``score`` what the rule
    measured of it and ``chosen`` whether it is the item's answer (both set once the candidates are
    chosen among). Lines written before candidates existed read as before.
    """

    id: str
    prediction: str
    prompt: str | None = None
    citation: str | None = None
    sample: int | None = None
    score: CandidateScore | None = None
    chosen: bool = False

    @property
    def submitted(self) -> bool:
        """Whether this line is its item's answer: the only generation, or the chosen candidate."""
        return self.sample is None or self.chosen

    def to_line(self) -> dict[str, Any]:
        """The line as written: ``id`` and ``prediction``, then each other field that is set."""
        line: dict[str, Any] = {"id": self.id, "prediction": self.prediction}
        for key in ("prompt", "citation", "sample"):
            if getattr(self, key) is not None:
                line[key] = getattr(self, key)
        if self.score is not None:
            line.update(votes=self.score.votes, utilities=dict(self.score.utilities), utility=self.score.utility,
                        chosen=self.chosen)
        return line

    @classmethod
    def from_line(cls, record: Any) -> Generation:
        """The record of one parsed line; ``KeyError``, ``TypeError`` or ``ValueError`` when it is none."""
        sample = record.get("sample")
        if sample is not None and (isinstance(sample, bool) or not isinstance(sample, int) or sample < 0):
            raise ValueError(f"sample {sample!r}")
        return cls(str(record["id"]), str(record["prediction"]), _text_or_none(record.get("prompt")),
                   _text_or_none(record.get("citation")), sample, _candidate_score(record), record.get("chosen") is True)


def _candidate_score(record: dict[str, Any]) -> CandidateScore | None:
    """What the selection rule measured of a candidate line (``None``: not chosen among yet)."""
    if "votes" not in record:
        return None
    votes, utilities, utility = record["votes"], record.get("utilities") or {}, record.get("utility")
    if isinstance(votes, bool) or not isinstance(votes, int) or not isinstance(utilities, dict):
        raise ValueError("votes")
    return CandidateScore(votes, {str(key): float(value) for key, value in utilities.items()},
                          None if utility is None else float(utility))


def _parsed_lines(path: Path) -> Iterator[Generation]:
    """Each record of a ``generations.jsonl`` in file order; a line cut off by a crash, or not a record, is skipped."""
    if not path.exists():
        return
    for line in path.read_bytes().splitlines():
        try:
            yield Generation.from_line(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            continue


def read_generations(path: Path) -> dict[str, Generation]:
    """Each item's submitted record of a ``generations.jsonl`` (:attr:`Generation.submitted`: its only
    generation, or its chosen candidate) by item id (a later line of an id wins); a line cut off by a
    crash, or not a record, is skipped (its item is generated again when the run resumes)."""
    return {record.id: record for record in _parsed_lines(path) if record.submitted}


def read_candidates(path: Path) -> dict[str, dict[int, Generation]]:
    """Every record of a ``generations.jsonl`` by item id, then by candidate number (the only
    generation of an item is its candidate 0); a later line of the same candidate wins."""
    records: dict[str, dict[int, Generation]] = {}
    for record in _parsed_lines(path):
        records.setdefault(record.id, {})[record.sample or 0] = record
    return records


def generation_files(runs_dir: Path) -> Iterator[Path]:
    """The ``generations.jsonl`` of every run folder under ``runs_dir``, in name order."""
    yield from sorted(Path(runs_dir).glob(f"*/{GENERATIONS_FILE}"))


class GenerationStore:
    """Generations of one run folder: ``generations.jsonl``, appended and synced batch by batch.

    Each line is a :class:`Generation` (:meth:`Generation.to_line`): ``prompt`` is the text the model
    was given (chat template applied), so a user sees exactly what it read, and ``prediction`` the
    answer as submitted (:func:`~malpyeong_eval.prompts.clean_output`). A generation that named a
    context (``근거: [N]``) adds ``"citation"``; a sampled run's candidate adds ``"sample"``, and once
    chosen among ``"votes"``, ``"utilities"``, ``"utility"`` and ``"chosen"``. Lines written before
    prompts were kept have no ``prompt`` and still resume.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / GENERATIONS_FILE

    def candidates(self) -> dict[str, dict[int, Generation]]:
        """Every stored generation by item id and candidate number (:func:`read_candidates`)."""
        return read_candidates(self.path)

    def append(self, records: Sequence[Generation]) -> None:
        """Append generations and sync them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record.to_line(), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def replace(self, records: Sequence[Generation]) -> None:
        """Write ``records`` as the whole file, in one piece (a sampled run's candidates once chosen among:
        a failure leaves the file as it was)."""
        write_output(self.path, "".join(json.dumps(record.to_line(), ensure_ascii=False) + "\n" for record in records),
                     make_parents=True)


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def write_submission(path: Path, items: Sequence[Item], predictions: dict[str, str]) -> None:
    """The items with ``output.answer`` set to their predictions: each written as its source record
    (:meth:`~malpyeong_eval.data.Item.as_record`: every other field kept as read), a JSON list."""
    records = [item.as_record() for item in items]
    for item, record in zip(items, records, strict=True):
        record["output"] = {**(record.get("output") or {}), "answer": predictions[item.id]}
    write_output(path, json.dumps(records, ensure_ascii=False, indent=2) + "\n", make_parents=True)
