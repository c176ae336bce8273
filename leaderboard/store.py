"""The leaderboard database: recording scored runs and reading them back as typed records (:mod:`.records`)."""

from __future__ import annotations

import re

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version
from typing import Any

from sqlalchemy import Engine, delete, func, or_, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from malpyeong_eval.errors import AlreadyRecorded, MalpyeongError
from malpyeong_eval.evaluation import EvaluationResult
from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.recording import RunMetadata

from malpyeong_eval.secrets import mask_url

from .db import DamagedDatabase, DatabaseError, error_line, open_engine, open_read_only_engine, reader, resolve_url
from .ranking_rule import rank_runs
from .models import ITEM_METRIC_COLUMNS, METRIC_COLUMNS, GroupMetric, ItemResult, Run, RunTag
from .records import CHOICE_FIELDS, GroupRecord, ItemRecord, RunRecord, context_label, runs_of_training

__all__ = ["Leaderboard", "RunRecord", "context_label", "runs_of_training"]


_RUN_ID = re.compile(r"#?([0-9]{1,9})")  # ASCII digits only, within any backend's integer column


def _run_id(reference: str) -> int | None:
    """The id in a reference written ``#12`` or ``12``, else ``None`` (a name)."""
    match = _RUN_ID.fullmatch(reference)
    return int(match.group(1)) if match else None


class Leaderboard:
    """The leaderboard database at ``url`` (``--db``, ``$MALPYEONG_DB`` or the per-user SQLite file).

    It is the core's :class:`~malpyeong_eval.recording.RunRecorder` (``find``, ``record``,
    ``items``, ``get``): ``run`` and ``train`` record through it without importing it.

    >>> board = Leaderboard("sqlite://")   # in memory
    >>> board.runs()
    []

    ``read_only=True`` opens it without writing anything (no file created, no schema upgrade; see
    :func:`~leaderboard.db.open_read_only_engine`): what ``serve`` and ``export --format site`` read.
    ``create=False`` refuses a SQLite file that does not exist (and never makes its folders) but still
    upgrades an older schema: what the commands that read (``leaderboard``, ``show``, ``export`` ...) open.
    """

    def __init__(self, url: str | None = None, *, read_only: bool = False, create: bool = True) -> None:
        self.url = resolve_url(url)
        self.read_only = read_only
        self.engine: Engine = open_read_only_engine(self.url) if read_only else open_engine(self.url, create=create)
        self._reader: Engine = reader(self.engine)

    @property
    def where(self) -> str:
        """The database URL with any password masked."""
        return mask_url(self.url)

    def _session(self) -> Session:
        """A session that writes: on SQLite its transaction holds the write lock from the start."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A session that only reads: on SQLite a snapshot of the last commit, never waiting for a writer.
        A read that a damaged database fails is one line: a missing table (:class:`DatabaseError`), or a
        stored value that does not decode (text that is not UTF-8, a JSON column that is not JSON, a
        date that is not one) or does not have its record's type (:class:`~leaderboard.records.DamagedRow`:
        :class:`DamagedDatabase`)."""
        try:
            with Session(self._reader, expire_on_commit=False) as session:
                yield session
        except SQLAlchemyError as exc:
            raise DatabaseError(self._unreadable(exc)) from None
        except (ValueError, TypeError) as exc:  # a stored value's decoding, or a record's type check (DamagedRow)
            raise DamagedDatabase(self._unreadable(exc)) from None

    def _unreadable(self, exc: Exception) -> str:
        return f"cannot read {self.where} (a damaged database?): {error_line(self.url, exc)}"

    def record(self, result: EvaluationResult, *, name: str, metadata: RunMetadata | None = None) -> RunRecord:
        """Store a scored run, its by-type metrics and its items in one transaction.

        ``metadata``: where the predictions came from (checkpoint, step, data, prompt, decoding,
        fingerprint, tags, retrieval settings; :class:`~malpyeong_eval.recording.RunMetadata`).
        """
        if not name.strip():
            raise MalpyeongError("a run needs a non-empty --name")
        meta = metadata or RunMetadata()
        fingerprint = meta.fingerprint
        run = Run(
            name=name, checkpoint=meta.checkpoint, base_model=meta.base_model, step=meta.step,
            dataset_name=meta.dataset_name, dataset_hash=meta.dataset_hash, prompt_id=meta.prompt_id,
            prompt_hash=meta.prompt_hash, generation=dict(meta.generation), metric_config=result.config,
            fingerprint=fingerprint, tool_version=version("malpyeong-eval"), n=result.n,
            scoring_rules=result.rules, n_counted=result.n_counted, aligned_by_id=result.aligned_by_id,
            retrieval=meta.retrieval or None, n_selection=result.n_selection, provenance=meta.provenance or None,
            **{column: result.metrics.get(column) for column in METRIC_COLUMNS},
        )
        run.tags = [RunTag(tag=tag) for tag in dict.fromkeys(meta.tags)]
        run.groups = [GroupMetric(**group) for group in _group_rows(result)]
        run.items = [
            ItemResult(
                position=position, item_id=item.id, question_type=item.question_type, prediction=item.prediction,
                gold=item.gold, **_item_scores(item),
            )
            for position, item in enumerate(result.items)
        ]
        try:
            with self._session() as session, session.begin():
                session.add(run)
                session.flush()
                record = RunRecord.from_row(run)
        except IntegrityError:
            if fingerprint is not None and (stored := self.find(fingerprint)) is not None:
                raise AlreadyRecorded(stored) from None
            raise MalpyeongError(f"a run named {name!r} is already on the leaderboard; choose another --name") from None
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot record run {name!r} in {self.where}: {error_line(self.url, exc)}") from None
        return record

    def update_scores(self, run: RunRecord, result: EvaluationResult) -> RunRecord:
        """Replace a run's scores with ``result`` (its own items, rescored) in one transaction.

        The run row's metrics, ``metric_config``, ``scoring_rules``, ``n_counted`` and
        ``tool_version`` change, its by-type metrics are replaced, and each item's parts, scores
        and ``counted`` are updated; id, name, tags, checkpoint, step and fingerprint stay. A
        failure (or a killed process) leaves the run exactly as it was. ``result`` must hold the
        run's items in position order with the stored predictions and golds.
        """
        try:
            with self._session() as session, session.begin():
                row = session.get(Run, run.id)
                if row is None:
                    raise MalpyeongError(f"run {run.name!r} (#{run.id}) is no longer in {self.where}")
                items = list(session.scalars(
                    select(ItemResult).where(ItemResult.run_id == run.id).order_by(ItemResult.position)
                ))
                stored = [(item.item_id, item.prediction, item.gold) for item in items]
                if stored != [(item.id, item.prediction, item.gold) for item in result.items]:
                    raise MalpyeongError(f"run {run.name!r} (#{run.id}): its items changed while it was rescored; run again")
                for column in METRIC_COLUMNS:
                    setattr(row, column, result.metrics.get(column))
                row.metric_config = dict(result.config)
                row.scoring_rules, row.n_counted, row.n_selection = result.rules, result.n_counted, result.n_selection
                row.tool_version = version("malpyeong-eval")
                session.execute(delete(GroupMetric).where(GroupMetric.run_id == run.id))
                session.add_all(GroupMetric(run_id=run.id, **group) for group in _group_rows(result))
                for item_row, item in zip(items, result.items, strict=True):
                    for key, value in _item_scores(item).items():
                        setattr(item_row, key, value)
                session.flush()
                record = RunRecord.from_row(row)
        except SQLAlchemyError as exc:
            raise DatabaseError(f"cannot update run {run.name!r} in {self.where}: {error_line(self.url, exc)}") from None
        return record

    def _filtered(self, query, dataset: str | None, model: str | None, tag: str | None):
        if dataset:
            query = query.where(Run.dataset_name == dataset)
        if model:
            query = query.where((Run.base_model == model) | (Run.checkpoint == model) | Run.name.contains(model))
        if tag:
            query = query.where(Run.id.in_(select(RunTag.run_id).where(RunTag.tag == tag)))
        return query

    def runs(
        self,
        *,
        dataset: str | None = None,
        model: str | None = None,
        tag: str | None = None,
        top: int | None = None,
        all_rules: bool = False,
    ) -> list[RunRecord]:
        """Runs by the items they were scored on (dataset name, then item count), each set of items ranked
        best first by the leaderboard's rule (:mod:`leaderboard.ranking_rule`: Final Score; else the mean
        of the reason metrics, then EM; then newest); ``top``: the best ``top`` of each.

        Only runs scored under this version's rules unless ``all_rules`` (see :meth:`old_rules_count`).
        The standings are read first (a few columns per run), then only the runs shown.
        """
        rules = [] if all_rules else [Run.scoring_rules == SCORING_RULES]
        standings = self._filtered(select(Run.id, Run.dataset_name, Run.n, Run.created_at,
                                          *(getattr(Run, column) for column in METRIC_COLUMNS)).where(*rules), dataset, model, tag)
        with self._reading() as session:
            rows = [_RunStanding(row.id, row.dataset_name, row.n, row.created_at,
                                 {column: row._mapping[column] for column in METRIC_COLUMNS})
                    for row in session.execute(standings)]
            order = [row.id for row in rank_runs(rows, top)]
            chosen = select(Run).where(Run.id.in_(order)) if top else self._filtered(select(Run).where(*rules), dataset, model, tag)
            records = {run.id: run for run in session.scalars(chosen)}
            return [RunRecord.from_row(records[run_id]) for run_id in order if run_id in records]

    def count(self) -> int:
        """Every run, whatever its rules."""
        with self._reading() as session:
            return session.scalar(select(func.count(Run.id))) or 0

    def old_rules_count(self, *, dataset: str | None = None, model: str | None = None, tag: str | None = None) -> int:
        """How many runs (matching the filters) :meth:`runs` hides: scored under other rules."""
        query = self._filtered(select(func.count(Run.id)).where(_old_rules()), dataset, model, tag)
        with self._reading() as session:
            return session.scalar(query) or 0

    def old_rules_runs(self) -> list[RunRecord]:
        """The runs not scored under this version's rules, oldest first (what ``rescore`` does by default)."""
        with self._reading() as session:
            return [RunRecord.from_row(run) for run in session.scalars(select(Run).where(_old_rules()).order_by(Run.id))]

    def get(self, reference: str) -> RunRecord:
        """A run by name, or by id written ``#12`` or ``12``."""
        with self._reading() as session:
            run = session.scalar(select(Run).where(Run.name == reference))
            run_id = _run_id(reference)
            if run is None and run_id is not None:
                run = session.get(Run, run_id)
            if run is None:
                raise MalpyeongError(f"no run named {reference!r} in {self.where}")
            return RunRecord.from_row(run)

    def find(self, fingerprint: str) -> RunRecord | None:
        """The run recorded with this fingerprint (same checkpoint, data and settings), if any."""
        with self._reading() as session:
            run = session.scalar(select(Run).where(Run.fingerprint == fingerprint).order_by(Run.id))
            return RunRecord.from_row(run) if run else None

    def groups(self, run: RunRecord) -> list[GroupRecord]:
        """The run's metrics by question_type."""
        with self._reading() as session:
            rows = session.scalars(select(GroupMetric).where(GroupMetric.run_id == run.id).order_by(GroupMetric.question_type))
            return [GroupRecord.from_row(group) for group in rows]

    def items(self, run: RunRecord) -> list[ItemRecord]:
        """The run's items in their original order."""
        with self._reading() as session:
            rows = session.scalars(select(ItemResult).where(ItemResult.run_id == run.id).order_by(ItemResult.position))
            return [ItemRecord.from_row(item) for item in rows]


@dataclass(frozen=True)
class _RunStanding:
    """What the ranking reads of a run (:class:`~leaderboard.ranking_rule.Rankable`), before its record is loaded."""

    id: int
    dataset_name: str | None
    n: int
    created_at: datetime
    metrics: dict[str, float | None]


def _old_rules():
    """Runs scored under rules other than this version's (NULL: before schema 0003)."""
    return or_(Run.scoring_rules.is_(None), Run.scoring_rules != SCORING_RULES)


def _group_rows(result: EvaluationResult) -> list[dict[str, Any]]:
    """The column values of the result's by-type metrics."""
    return [
        {"question_type": question_type, "n": row["n"], "n_counted": row.get("n_counted"),
         "n_selection": row.get("n_selection"), **{c: row.get(c) for c in METRIC_COLUMNS}}
        for question_type, row in result.by_type.items()
    ]


ITEM_SCORE_FIELDS = ("answer_clause", "reason", "counted", *CHOICE_FIELDS, *ITEM_METRIC_COLUMNS)


def _item_scores(item) -> dict[str, Any]:
    """What scoring sets on an item row: its parsed parts, ``counted`` and its scores."""
    return {key: getattr(item, key) for key in ITEM_SCORE_FIELDS}
