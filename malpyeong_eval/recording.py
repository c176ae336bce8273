"""Where scored runs go: the small protocol the runner records through.

The core never imports a database. ``CheckpointRunner`` (``malpyeong_eval.runner``) takes any
object with these four methods; ``leaderboard.store.Leaderboard`` is the one this project
ships (SQLAlchemy: SQLite or PostgreSQL). A recorder that finds a concurrent twin of a run
while recording raises :class:`~malpyeong_eval.errors.AlreadyRecorded`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from .evaluation import EvaluationResult


@runtime_checkable
class StoredRun(Protocol):
    """A recorded run as the recorder hands it back: at least its id and its name."""

    id: int
    name: str


@runtime_checkable
class RunRecorder(Protocol):
    """Records scored runs and finds them again by fingerprint or name."""

    def find(self, fingerprint: str) -> StoredRun | None:
        """The run recorded with this fingerprint (same checkpoint, data, prompt, decoding and
        metric configuration), or ``None``."""

    def record(self, result: EvaluationResult, *, name: str, **metadata: Any) -> StoredRun:
        """Store ``result`` under ``name`` with its metadata (``checkpoint``, ``base_model``,
        ``step``, ``dataset_name``, ``dataset_hash``, ``prompt_id``, ``prompt_hash``,
        ``generation``, ``fingerprint``, ``tags``, and ``retrieval`` only for a run whose items carry
        context: see :func:`malpyeong_eval.runner.retrieval_settings`) in one piece.

        Raises :class:`~malpyeong_eval.errors.AlreadyRecorded` when a run with the same
        fingerprint got there first, and :class:`~malpyeong_eval.errors.MalpyeongError` for
        any other refusal (e.g. a name already taken)."""

    def items(self, run: StoredRun) -> list[dict[str, Any]]:
        """The run's items in their original order, each with at least ``item_id`` and ``prediction``."""

    def get(self, reference: str) -> StoredRun:
        """A run by name; raises :class:`~malpyeong_eval.errors.MalpyeongError` when there is none."""
