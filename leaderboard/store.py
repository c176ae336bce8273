"""Recording scored runs and reading them back: the leaderboard's library API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib.metadata import version
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from malpyeong_eval.evaluation import EvaluationResult
from malpyeong_eval.errors import MalpyeongError

from .db import DatabaseError, mask_url, open_engine, resolve_url
from .models import METRIC_COLUMNS, GroupMetric, ItemResult, Run, RunTag


@dataclass
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

    @classmethod
    def from_row(cls, run: Run) -> RunRecord:
        return cls(
            id=run.id, name=run.name, step=run.step, n=run.n, created_at=run.created_at,
            checkpoint=run.checkpoint, base_model=run.base_model, dataset_name=run.dataset_name,
            dataset_hash=run.dataset_hash, prompt_id=run.prompt_id, prompt_hash=run.prompt_hash,
            fingerprint=run.fingerprint, tool_version=run.tool_version, generation=dict(run.generation or {}),
            metric_config=dict(run.metric_config or {}), tags=sorted(tag.tag for tag in run.tags), metrics=run.metrics(),
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(self.metrics)
        del data["metrics"]
        data["created_at"] = self.created_at.isoformat()
        return data


class AlreadyRecorded(MalpyeongError):
    """A run with the same fingerprint was recorded meanwhile (e.g. by a concurrent ``run``)."""

    def __init__(self, run: RunRecord) -> None:
        super().__init__(f"run {run.name!r} (#{run.id}) already holds these results")
        self.run = run


class Leaderboard:
    """The leaderboard database at ``url`` (``--db``, ``$MALPYEONG_DB`` or the per-user SQLite file).

    >>> board = Leaderboard("sqlite://")   # in memory
    >>> board.runs()
    []
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = resolve_url(url)
        self.engine: Engine = open_engine(self.url)

    @property
    def where(self) -> str:
        """The database URL with any password masked."""
        return mask_url(self.url)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def record(
        self,
        result: EvaluationResult,
        *,
        name: str,
        checkpoint: str | None = None,
        base_model: str | None = None,
        step: int | None = None,
        dataset_name: str | None = None,
        dataset_hash: str | None = None,
        prompt_id: str | None = None,
        prompt_hash: str | None = None,
        generation: dict[str, Any] | None = None,
        fingerprint: str | None = None,
        tags: Iterable[str] = (),
    ) -> RunRecord:
        """Store a scored run, its by-type metrics and its items in one transaction."""
        if not name.strip():
            raise MalpyeongError("a run needs a non-empty --name")
        run = Run(
            name=name, checkpoint=checkpoint, base_model=base_model, step=step, dataset_name=dataset_name,
            dataset_hash=dataset_hash, prompt_id=prompt_id, prompt_hash=prompt_hash, generation=generation or {},
            metric_config=result.config, fingerprint=fingerprint, tool_version=version("malpyeong-eval"), n=result.n,
            **{column: result.metrics.get(column) for column in METRIC_COLUMNS},
        )
        run.tags = [RunTag(tag=tag) for tag in dict.fromkeys(tags)]
        run.groups = [
            GroupMetric(question_type=question_type, n=row["n"], **{c: row.get(c) for c in METRIC_COLUMNS})
            for question_type, row in result.by_type.items()
        ]
        run.items = [
            ItemResult(
                position=position, item_id=item.id, question_type=item.question_type, prediction=item.prediction,
                answer_clause=item.answer_clause, reason=item.reason, gold=item.gold, exact_match=item.exact_match,
                exact_match_lenient=item.exact_match_lenient, rouge1=item.rouge1, bertscore=item.bertscore,
                bleurt=item.bleurt,
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
            raise DatabaseError(f"cannot record run {name!r} in {self.where}: {str(exc.orig or exc).splitlines()[0]}") from None
        return record

    def runs(
        self,
        *,
        dataset: str | None = None,
        model: str | None = None,
        tag: str | None = None,
        top: int | None = None,
    ) -> list[RunRecord]:
        """Runs by Final Score, best first; runs without a Final after those with one, by
        Descriptive Avg, then Exact Match."""
        query = select(Run)
        if dataset:
            query = query.where(Run.dataset_name == dataset)
        if model:
            query = query.where((Run.base_model == model) | (Run.checkpoint == model) | Run.name.contains(model))
        if tag:
            query = query.where(Run.id.in_(select(RunTag.run_id).where(RunTag.tag == tag)))
        query = query.order_by(
            Run.final_score.is_(None), Run.final_score.desc(),  # runs without a Final go after those with one
            Run.descriptive_avg.is_(None), Run.descriptive_avg.desc(),
            Run.exact_match.is_(None), Run.exact_match.desc(), Run.id.desc(),
        )
        if top:
            query = query.limit(top)
        with self._session() as session:
            return [RunRecord.from_row(run) for run in session.scalars(query)]

    def count(self) -> int:
        with self._session() as session:
            return session.scalar(select(func.count(Run.id))) or 0

    def get(self, reference: str) -> RunRecord:
        """A run by name, or by id written ``#12`` or ``12``."""
        with self._session() as session:
            run = session.scalar(select(Run).where(Run.name == reference))
            if run is None and reference.lstrip("#").isdigit():
                run = session.get(Run, int(reference.lstrip("#")))
            if run is None:
                raise MalpyeongError(f"no run named {reference!r} in {self.where}")
            return RunRecord.from_row(run)

    def find(self, fingerprint: str) -> RunRecord | None:
        """The run recorded with this fingerprint (same checkpoint, data and settings), if any."""
        with self._session() as session:
            run = session.scalar(select(Run).where(Run.fingerprint == fingerprint).order_by(Run.id))
            return RunRecord.from_row(run) if run else None

    def groups(self, run: RunRecord) -> list[dict[str, Any]]:
        """The run's metrics by question_type."""
        with self._session() as session:
            rows = session.scalars(select(GroupMetric).where(GroupMetric.run_id == run.id).order_by(GroupMetric.question_type))
            return [{"question_type": g.question_type, "n": g.n, **{c: getattr(g, c) for c in METRIC_COLUMNS}} for g in rows]

    def items(self, run: RunRecord) -> list[dict[str, Any]]:
        """The run's items in their original order."""
        columns = ("item_id", "question_type", "prediction", "answer_clause", "reason", "gold",
                   "exact_match", "exact_match_lenient", "rouge1", "bertscore", "bleurt")
        with self._session() as session:
            rows = session.scalars(select(ItemResult).where(ItemResult.run_id == run.id).order_by(ItemResult.position))
            return [{column: getattr(row, column) for column in columns} for row in rows]


def runs_of_training(runs: Sequence[RunRecord]) -> list[RunRecord]:
    """The runs that have a training step, in step order."""
    return sorted((run for run in runs if run.step is not None), key=lambda run: run.step)
