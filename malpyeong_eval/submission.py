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
    (``None`` in lines written before prompts were kept) and what its citation line named (``None``: none)."""

    id: str
    prediction: str
    prompt: str | None = None
    citation: str | None = None


def read_generations(path: Path) -> dict[str, Generation]:
    """Every record of a ``generations.jsonl`` by item id (a later line of an id wins); a line cut off
    by a crash, or not a record, is skipped (its item is generated again when the run resumes)."""
    records: dict[str, Generation] = {}
    if not path.exists():
        return records
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line.decode("utf-8"))
            item_id = str(record["id"])
            records[item_id] = Generation(item_id, str(record["prediction"]), _text_or_none(record.get("prompt")),
                                          _text_or_none(record.get("citation")))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
            continue
    return records


def generation_files(runs_dir: Path) -> Iterator[Path]:
    """The ``generations.jsonl`` of every run folder under ``runs_dir``, in name order."""
    yield from sorted(Path(runs_dir).glob(f"*/{GENERATIONS_FILE}"))



class GenerationStore:
    """Generations of one run folder: ``generations.jsonl``, appended and synced batch by batch.

    Each line is ``{"id", "prediction", "prompt"}``: ``prompt`` is the text the model was given
    (chat template applied), so a user sees exactly what it read, and ``prediction`` the answer as
    submitted (:func:`~malpyeong_eval.prompts.clean_output`). A generation that named a context
    (``근거: [N]``) adds ``"citation"``, what its line named as written. Lines written before
    prompts were kept have no ``prompt`` and still resume.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / GENERATIONS_FILE

    def load(self) -> dict[str, str]:
        """The stored predictions by item id."""
        return {item_id: record.prediction for item_id, record in read_generations(self.path).items()}

    def citations(self) -> dict[str, str | None]:
        """What each stored generation's citation line named (``None``: it had none)."""
        return {item_id: record.citation for item_id, record in read_generations(self.path).items()}

    def append(self, records: Sequence[tuple[str, str] | tuple[str, str, str | None]
                                       | tuple[str, str, str | None, str | None]]) -> None:
        """Append ``(id, prediction)``, ``(id, prediction, prompt)`` or ``(id, prediction, prompt,
        citation)`` records and sync them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for item_id, prediction, *rest in records:
                line: dict[str, Any] = {"id": item_id, "prediction": prediction}
                if rest and rest[0] is not None:
                    line["prompt"] = rest[0]
                if len(rest) > 1 and rest[1] is not None:
                    line["citation"] = rest[1]
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def write_submission(path: Path, items: Sequence[Item], predictions: dict[str, str]) -> None:
    """The items with ``output.answer`` set to their predictions: each written as its source record
    (:meth:`~malpyeong_eval.data.Item.as_record`: every other field kept as read), a JSON list."""
    records = [item.as_record() for item in items]
    for item, record in zip(items, records, strict=True):
        record["output"] = {**(record.get("output") or {}), "answer": predictions[item.id]}
    write_output(path, json.dumps(records, ensure_ascii=False, indent=2) + "\n", make_parents=True)
