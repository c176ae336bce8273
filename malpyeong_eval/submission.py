"""A run folder's generations (appended batch by batch, so a run resumes) and the submission file."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import Item
from .outputs import write_output


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
        self.path = folder / "generations.jsonl"

    def _records(self) -> dict[str, dict[str, Any]]:
        done: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = json.loads(line.decode("utf-8"))
                    done[str(record["id"])] = {"prediction": str(record["prediction"]),
                                               "citation": _text_or_none(record.get("citation"))}
                except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError):
                    continue  # a line cut off by a crash: regenerate that item
        return done

    def load(self) -> dict[str, str]:
        """The stored predictions by item id."""
        return {item_id: record["prediction"] for item_id, record in self._records().items()}

    def citations(self) -> dict[str, str | None]:
        """What each stored generation's citation line named (``None``: it had none)."""
        return {item_id: record["citation"] for item_id, record in self._records().items()}

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
