"""The leaderboard's typed records: a run, its metrics by question type and its items, as read back.

Every row the store reads becomes one of these through :func:`read_row`, the one conversion from
database values to records. The records are pydantic dataclasses in strict mode: a value of the
wrong shape or type (``runs.generation`` holding ``[1, 2]``, a text ``exact_match``, a float
``step``) is refused there, as :class:`DamagedRow`, which the store turns into its one-line
"damaged database" error. Nothing here imports SQLAlchemy: the command line's tables and the
records load without the database libraries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass

from malpyeong_eval.citation import Choice
from malpyeong_eval.metrics.aggregate import SCORING_RULES, item_final_score
from malpyeong_eval.metrics.registry import COLUMN_NAMES, CONTEXT_METRICS, METRIC_NAMES

if TYPE_CHECKING:
    from .models import GroupMetric, ItemResult, Run

__all__ = ["CHOICE_FIELDS", "DamagedRow", "GroupRecord", "ItemRecord", "RunRecord", "configuration_rows", "context_label",
           "provenance_rows", "read_row", "retrieval_text", "runs_of_training"]

STRICT = ConfigDict(strict=True)  # no coercion: a text where a number belongs is a damaged row, not a number
NO_CONTEXT = "—"
CHOICE_FIELDS = ("citation", "cited", "cited_title", "gold_article")  # the context an item's generation named; its gold rule

Record = TypeVar("Record")


class DamagedRow(ValueError):
    """A database row whose values do not have the record's types (the store reports it as a damaged database)."""


def read_row(record_type: type[Record], table: str, key: object, values: Mapping[str, Any]) -> Record:
    """``record_type(**values)``, or :class:`DamagedRow` naming the table, the row and the first bad field."""
    try:
        return record_type(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(part) for part in error["loc"]) or "row"
        found = type(error.get("input")).__name__
        raise DamagedRow(f"{table} row {key}: {place}: {error['msg']} (found {found})") from None


def context_label(retrieval: Mapping[str, Any] | None) -> str:
    """A run's retrieval settings in a few words, for the leaderboard's "context" column.

    ``bm25-mecab k=5`` (retriever and K; `` field=NAME`` when the field is not ``references``),
    ``fields: a, b`` for extra input fields without a retrieve record, ``—`` for none.
    """
    if not retrieval:
        return NO_CONTEXT
    if "retriever" in retrieval or "top_k" in retrieval:
        words = [str(retrieval.get("retriever") or "retrieved")]
        if retrieval.get("top_k") is not None:
            words.append(f"k={retrieval['top_k']}")
        if retrieval.get("field") not in (None, "references"):
            words.append(f"field={retrieval['field']}")
        return " ".join(words)
    fields_ = retrieval.get("fields") or []
    return f"fields: {', '.join(map(str, fields_))}" if fields_ else NO_CONTEXT


def retrieval_text(retrieval: Mapping[str, Any] | None) -> str:
    """A run's retrieval settings in full on one line (``retriever=bm25-mecab, top_k=5``; ``show``,
    ``compare``); ``— (no context)`` when its items carried none. :func:`context_label` is the short form."""
    if not retrieval:
        return f"{NO_CONTEXT} (no context)"
    return ", ".join(f"{key}={', '.join(map(str, value)) if isinstance(value, list) else value}"
                     for key, value in retrieval.items())


@dataclass(config=STRICT)
class RunRecord:
    """A run as read from the database, detached from any session."""

    id: int
    name: str
    step: int | None
    n: int
    created_at: datetime
    checkpoint: str | None = None
    base_model: str | None = None
    dataset_name: str | None = None
    dataset_hash: str | None = None
    prompt_id: str | None = None
    prompt_hash: str | None = None
    fingerprint: str | None = None
    tool_version: str = ""
    generation: dict[str, Any] = field(default_factory=dict)
    metric_config: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    metrics: dict[str, float | None] = field(default_factory=dict)
    scoring_rules: str | None = None  # None: the pre-2025 rules (recorded before schema 0003)
    n_counted: int | None = None
    aligned_by_id: bool = False
    retrieval: dict[str, Any] | None = None  # the context its items carried (see context_label); None: none
    n_selection: int | None = None  # items selection accuracy is measured on (None: before schema 0005)
    provenance: dict[str, Any] | None = None  # what produced it (malpyeong_eval.provenance); None: recorded before 0006

    @property
    def context(self) -> str:
        """The run's context in a few words: ``bm25-mecab k=5``, ``fields: references``, or ``—``."""
        return context_label(self.retrieval)

    @property
    def current_rules(self) -> bool:
        """Whether the run was scored under this version's rules (else: ``malpyeong-eval rescore``)."""
        return self.scoring_rules == SCORING_RULES

    @classmethod
    def from_row(cls, run: Run) -> RunRecord:
        """The record of a ``runs`` row (with its tags), checked."""
        values = {column.name: getattr(run, column.name) for column in fields(cls) if column.name not in ("tags", "metrics")}
        values.update(generation=run.generation or {}, metric_config=run.metric_config or {},  # NULL: recorded before they were kept
                      aligned_by_id=run.aligned_by_id or False, retrieval=run.retrieval or None, provenance=run.provenance or None)
        values["tags"] = sorted((tag.tag for tag in run.tags), key=str)  # key=str: a damaged tag is refused below, not here
        values["metrics"] = run.metrics()
        return read_row(cls, "runs", run.id, values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(self.metrics)
        del data["metrics"]
        data["created_at"] = self.created_at.isoformat()
        data["current_rules"] = self.current_rules
        data["context"] = self.context
        return data


@dataclass(config=STRICT, frozen=True)
class GroupRecord:
    """A run's metrics over the items of one question type."""

    question_type: str
    n: int
    n_counted: int | None
    n_selection: int | None
    metrics: dict[str, float | None]

    @classmethod
    def from_row(cls, group: GroupMetric) -> GroupRecord:
        """The record of a ``group_metrics`` row, checked."""
        return read_row(cls, "group_metrics", group.id, {
            "question_type": group.question_type, "n": group.n, "n_counted": group.n_counted,
            "n_selection": group.n_selection, "metrics": {column: getattr(group, column) for column in COLUMN_NAMES}})

    def to_json(self) -> dict[str, Any]:
        """``question_type``, ``n``, ``n_counted``, ``n_selection`` and the metrics, flat (``show --json``'s ``by_type``)."""
        return {"question_type": self.question_type, "n": self.n, "n_counted": self.n_counted,
                "n_selection": self.n_selection, **self.metrics}


@dataclass(config=STRICT, frozen=True)
class ItemRecord:
    """One item of a run: its prediction, its parts, its gold, whether it is counted, the context
    its generation named, and its scores (``None``: not computed).

    ``counted``: both reasons non-empty (the item enters the reason metrics' means); ``None`` under
    the old rules, which counted every item. ``cited``/``cited_title``: the candidate it named;
    ``citation``: its citation line as written; ``gold_article``: the item's gold rule (its data's
    ``output.article``), which a citation is judged against where selection is measured (the item
    has a ``context_selection`` score). Runs recorded before every item kept its rule have it only
    on those items.
    """

    item_id: str
    question_type: str
    prediction: str
    answer_clause: str
    reason: str
    gold: str
    counted: bool | None
    citation: str | None
    cited: int | None
    cited_title: str | None
    gold_article: str | None
    scores: dict[str, float | None]

    @classmethod
    def from_row(cls, item: ItemResult) -> ItemRecord:
        """The record of an ``item_results`` row, checked."""
        values = {name: getattr(item, name) for name in ("item_id", "question_type", "prediction", "answer_clause", "reason",
                                                        "gold", "counted", *CHOICE_FIELDS)}
        values["scores"] = {column: getattr(item, column) for column in METRIC_NAMES}
        return read_row(cls, "item_results", item.id, values)

    def score(self, metric: str) -> float | None:
        """The item's score on ``metric`` (``None``: not computed)."""
        return self.scores.get(metric)

    @property
    def final(self) -> float | None:
        """(EM + Descriptive Avg) / 2 of the item, its reason part 0 when it is not counted; ``None``
        without all four metrics (:func:`~malpyeong_eval.metrics.aggregate.item_final_score`)."""
        return item_final_score(self.to_json())

    @property
    def choice(self) -> Choice | None:
        """The context its generation named, as scoring takes it (judged against its gold rule where
        selection was measured); ``None`` when nothing was recorded."""
        measured = self.score(CONTEXT_METRICS[0]) is not None
        parts = (self.citation, self.cited, self.cited_title, self.gold_article if measured else None)
        return None if all(part is None for part in parts) else Choice(*parts)

    def to_json(self) -> dict[str, Any]:
        """The item as one flat mapping: its fields in order, then its scores (``show --json``, ``export --run``)."""
        data = {name: getattr(self, name) for name in (column.name for column in fields(self)) if name != "scores"}
        return {**data, **self.scores}


def configuration_rows(run: RunRecord) -> list[tuple[str, str]]:
    """The run's configuration and provenance, one ``(key, value)`` per recorded setting (``show``'s
    configuration table and the run page's)."""
    rows: dict[str, Any] = {
        "id": f"#{run.id}", "checkpoint": run.checkpoint, "base model": run.base_model, "step": run.step,
        "dataset": run.dataset_name, "dataset sha256": run.dataset_hash, "prompt": run.prompt_id,
        "prompt sha256": run.prompt_hash, "context": run.context,
        "retrieval": retrieval_text(run.retrieval) if run.retrieval else None,
        "tags": ", ".join(run.tags), "recorded": run.created_at.isoformat(timespec="seconds"),
        "tool version": run.tool_version, "scoring rules": run.scoring_rules or "old (pre-2025) rules",
        "aligned by id": "yes (not the organizers' score)" if run.aligned_by_id else None,
        "fingerprint": run.fingerprint,
    }
    rows.update({f"generation {key}": value for key, value in run.generation.items()})
    rows.update({f"metric {key}": value for key, value in run.metric_config.items()})
    rows.update(provenance_rows(run.provenance))
    return [(key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
            for key, value in rows.items() if value not in (None, "")]


def provenance_rows(provenance: Mapping[str, Any] | None) -> dict[str, str]:
    """A run's provenance as configuration rows, one per field (``—``: null); ``--json`` nests it."""
    if not provenance:
        return {"provenance": "not recorded (before schema 0006)"}
    rows: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            rows[prefix] = " ".join(map(str, value))
        else:
            rows[prefix] = "—" if value is None else str(value)  # git: not a repository; a library: not installed

    walk("", provenance)
    return rows


def runs_of_training(runs: Iterable[RunRecord]) -> list[RunRecord]:
    """The runs that have a training step, in step order."""
    return sorted((run for run in runs if run.step is not None), key=lambda run: run.step or 0)  # every step here is set
