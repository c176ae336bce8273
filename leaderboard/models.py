"""The leaderboard's tables (SQLAlchemy 2.x): runs, their metrics by question type, their items."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from malpyeong_eval.metrics.registry import COLUMN_NAMES, METRIC_NAMES

METRIC_COLUMNS = COLUMN_NAMES  # a run's and a group's metric columns: the registry's metrics, Desc. Avg, Final
ITEM_METRIC_COLUMNS = METRIC_NAMES  # an item's metric columns


class Base(DeclarativeBase):
    pass


class ItemScoreColumns:
    """The per-item metrics (``None``: not computed): one column per metric of the registry
    (:data:`malpyeong_eval.metrics.registry.METRIC_SPECS`). A new metric needs its column here and an
    Alembic migration adding it to the three tables; ``tests/test_leaderboard.py`` checks that a
    migrated database's metric columns equal the registry's.
    """

    exact_match: Mapped[float | None] = mapped_column(Float)
    exact_match_lenient: Mapped[float | None] = mapped_column(Float)
    rouge1: Mapped[float | None] = mapped_column(Float)
    bertscore: Mapped[float | None] = mapped_column(Float)
    bleurt: Mapped[float | None] = mapped_column(Float)
    context_selection: Mapped[float | None] = mapped_column(Float)  # schema 0005: the cited candidate is the gold rule


class SummaryColumns(ItemScoreColumns):
    """Means over items plus Descriptive Avg and Final Score."""

    descriptive_avg: Mapped[float | None] = mapped_column(Float)
    final_score: Mapped[float | None] = mapped_column(Float)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Run(SummaryColumns, Base):
    """One scored submission or checkpoint, with everything needed to reproduce its numbers."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_runs_fingerprint"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    checkpoint: Mapped[str | None] = mapped_column(Text)
    base_model: Mapped[str | None] = mapped_column(Text)
    step: Mapped[int | None] = mapped_column(Integer)
    dataset_name: Mapped[str | None] = mapped_column(String(255), index=True)
    dataset_hash: Mapped[str | None] = mapped_column(String(64))
    prompt_id: Mapped[str | None] = mapped_column(String(255))
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    generation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metric_config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # same checkpoint, data, settings: one run
    tool_version: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    n: Mapped[int] = mapped_column(Integer)
    final_score: Mapped[float | None] = mapped_column(Float, index=True)  # the leaderboard's sort key
    # The scoring rules' version (metrics.aggregate.SCORING_RULES); NULL: the pre-2025 rules (reason
    # metrics over every item), recorded before schema 0003; such runs wait for ``rescore``.
    scoring_rules: Mapped[str | None] = mapped_column(String(64), index=True)
    n_counted: Mapped[int | None] = mapped_column(Integer)  # items in the reason metrics' means
    aligned_by_id: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # not the organizers' score
    # The context the run's items carried (schema 0004): the retrieve command's settings (retriever,
    # corpus, corpus_hash, top_k, field), or {"fields": [...]} for a team's own extra input fields; NULL: none.
    retrieval: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    n_selection: Mapped[int | None] = mapped_column(Integer)  # items in selection accuracy (schema 0005)
    # What produced the run (schema 0006; malpyeong_eval.provenance): library versions, model revision and
    # weights hash, chat template hash, git state, device, dtype, seed, timing. NULL: recorded before 0006.
    provenance: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)

    tags: Mapped[list[RunTag]] = relationship(back_populates="run", cascade="all, delete-orphan", lazy="selectin")
    groups: Mapped[list[GroupMetric]] = relationship(back_populates="run", cascade="all, delete-orphan")
    items: Mapped[list[ItemResult]] = relationship(back_populates="run", cascade="all, delete-orphan")

    def metrics(self) -> dict[str, float | None]:
        return {column: getattr(self, column) for column in METRIC_COLUMNS}


class RunTag(Base):
    __tablename__ = "run_tags"
    __table_args__ = (UniqueConstraint("run_id", "tag"), Index("ix_run_tags_tag", "tag"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    tag: Mapped[str] = mapped_column(String(255))
    run: Mapped[Run] = relationship(back_populates="tags")


class GroupMetric(SummaryColumns, Base):
    """A run's metrics over the items of one question_type."""

    __tablename__ = "group_metrics"
    __table_args__ = (UniqueConstraint("run_id", "question_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    question_type: Mapped[str] = mapped_column(String(255))
    n: Mapped[int] = mapped_column(Integer)
    n_counted: Mapped[int | None] = mapped_column(Integer)
    n_selection: Mapped[int | None] = mapped_column(Integer)
    run: Mapped[Run] = relationship(back_populates="groups")


class ItemResult(ItemScoreColumns, Base):
    """One item's prediction and scores within a run."""

    __tablename__ = "item_results"
    __table_args__ = (UniqueConstraint("run_id", "item_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(255))
    question_type: Mapped[str] = mapped_column(String(255))
    prediction: Mapped[str] = mapped_column(Text)
    answer_clause: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    gold: Mapped[str] = mapped_column(Text)
    counted: Mapped[bool | None] = mapped_column(Boolean)  # both reasons non-empty; NULL under the old rules
    # The context the model named (schema 0005): its citation line as written, the candidate's number
    # and title, and the gold rule it was judged against (NULL: selection not measured on the item).
    citation: Mapped[str | None] = mapped_column(Text)
    cited: Mapped[int | None] = mapped_column(Integer)
    cited_title: Mapped[str | None] = mapped_column(Text)
    gold_article: Mapped[str | None] = mapped_column(Text)
    run: Mapped[Run] = relationship(back_populates="items")
