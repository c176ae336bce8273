"""Where scored runs go: what a run records, and the small protocol the runner records through.

The core never imports a database. ``CheckpointRunner`` (``malpyeong_eval.runner``) takes any
object with the four methods of :class:`RunRecorder`; ``leaderboard.store.Leaderboard`` is the
one this project ships (SQLAlchemy: SQLite or PostgreSQL), and mypy checks that it satisfies the
protocol (``train`` and ``cli/run.py`` pass it where a ``RunRecorder`` is expected). A recorder
that finds a concurrent twin of a run while recording raises
:class:`~malpyeong_eval.errors.AlreadyRecorded`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from .evaluation import EvaluationResult

__all__ = ["Recording", "RunMetadata", "RunRecorder", "StoredItem", "StoredRun"]


@dataclass(frozen=True)
class RunMetadata:
    """What a run records besides its scores: where its predictions came from and how.

    ``fingerprint``: same checkpoint, data, prompt, decoding and metric configuration (see
    ``CheckpointRunner.fingerprint``); ``generation``: the decoding settings; ``retrieval``: the
    context the run's items carried (:func:`malpyeong_eval.runner.retrieval_settings`), ``None``
    for none; ``provenance``: what produced it (library versions, model revision and weights hash,
    chat template hash, git state, device, dtype, seed, timing; :mod:`malpyeong_eval.provenance`).
    Every field may be left out (``score --record`` knows only the dataset).
    """

    checkpoint: str | None = None
    base_model: str | None = None
    step: int | None = None
    dataset_name: str | None = None
    dataset_hash: str | None = None
    prompt_id: str | None = None
    prompt_hash: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    tags: Sequence[str] = ()
    retrieval: dict[str, Any] | None = None
    provenance: dict[str, Any] | None = None


@dataclass(frozen=True)
class Recording:
    """Whether and where a command records its runs (``db``: the leaderboard it opens; a library call
    is handed the recorder instead), the name of a single run and the tags of every run."""

    record: bool = True
    db: str | None = None
    name: str | None = None
    tags: tuple[str, ...] = ()


class StoredRun(Protocol):
    """A recorded run as the recorder hands it back: at least its id and its name."""

    @property
    def id(self) -> int: ...

    @property
    def name(self) -> str: ...


class StoredItem(Protocol):
    """A recorded item as the recorder hands it back (``Leaderboard``: ``ItemRecord``): at least its
    id and the prediction that was scored."""

    @property
    def item_id(self) -> str: ...

    @property
    def prediction(self) -> str: ...


Run = TypeVar("Run", bound=StoredRun)


class RunRecorder(Protocol[Run]):
    """Records scored runs and finds them again by fingerprint or name.

    ``Run`` is the recorder's own record type (``Leaderboard``: ``RunRecord``), so that what
    ``find``, ``record`` and ``get`` return is what ``items`` takes.
    """

    def find(self, fingerprint: str) -> Run | None:
        """The run recorded with this fingerprint, or ``None``."""
        ...

    def record(self, result: EvaluationResult, *, name: str, metadata: RunMetadata | None = None) -> Run:
        """Store ``result`` under ``name`` with its metadata, in one piece.

        Raises :class:`~malpyeong_eval.errors.AlreadyRecorded` when a run with the same
        fingerprint got there first, and :class:`~malpyeong_eval.errors.MalpyeongError` for
        any other refusal (e.g. a name already taken)."""
        ...

    def items(self, run: Run) -> Sequence[StoredItem]:
        """The items of a run this recorder returned, in their original order."""
        ...

    def get(self, reference: str) -> Run:
        """A run by name; raises :class:`~malpyeong_eval.errors.MalpyeongError` when there is none."""
        ...
