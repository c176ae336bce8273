"""A run folder's generations (appended batch by batch, so a run resumes) and the submission file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import Item, read_records


class GenerationStore:
    """Generations of one run folder: ``generations.jsonl``, appended and synced batch by batch.

    Each line is ``{"id", "prediction", "prompt"}``: ``prompt`` is the text the model was given
    (chat template applied), so a user sees exactly what it read. Lines written before prompts
    were kept have no ``prompt`` and still resume.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "generations.jsonl"

    def load(self) -> dict[str, str]:
        done: dict[str, str] = {}
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = json.loads(line.decode("utf-8"))
                    done[str(record["id"])] = str(record["prediction"])
                except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut off by a crash: regenerate that item
        return done

    def append(self, records: Sequence[tuple[str, str] | tuple[str, str, str | None]]) -> None:
        """Append ``(id, prediction)`` or ``(id, prediction, prompt)`` records and sync them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for item_id, prediction, *rest in records:
                line: dict[str, Any] = {"id": item_id, "prediction": prediction}
                if rest and rest[0] is not None:
                    line["prompt"] = rest[0]
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def write_submission(path: Path, items: Sequence[Item], predictions: dict[str, str], source: Path | None) -> None:
    """The data file with ``output.answer`` filled in (other fields kept when the source is JSON)."""
    records: list[dict[str, Any]] = [
        {"id": item.id, "input": {"question_type": item.question_type, "question": item.question, **item.extra_inputs}}
        for item in items
    ]
    if source is not None:
        originals = {str(r.get("id")): r for r in read_records(source) if isinstance(r, dict)}
        records = [dict(originals.get(record["id"], record)) for record in records]
    for record in records:
        record["output"] = {**(record.get("output") or {}), "answer": predictions[str(record["id"])]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
