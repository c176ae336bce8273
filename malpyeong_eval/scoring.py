"""Scoring a submission file against a gold file from Python: one :class:`ScoreRequest` in, a typed
:class:`ScoreOutcome` out. ``malpyeong-eval score`` is this module with a command line on top::

    from malpyeong_eval.scoring import ScoreRequest, score_submission

    outcome = score_submission(ScoreRequest(Path("submission.json"), Path("gold.json"), metrics=("em", "rouge1")))
    outcome.result.metrics  # as score --json prints them (outcome.to_json())

(:func:`malpyeong_eval.score` scores lists of texts; this scores files, with the organizers' checks.)
A request checks itself when it is made, naming ``score``'s flags through :data:`SCORE_FLAGS`;
the recorder (``leaderboard.Leaderboard``) is passed in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .display import RichDisplay
from .errors import MalpyeongError
from .evaluation import METRICS, EvaluationResult, parse_metrics
from .metrics.options import ScorerOptions
from .recording import Recording, RunRecorder

__all__ = ["SCORE_FLAGS", "ScoreOutcome", "ScoreRequest", "score_submission"]

# Each field of a ScoreRequest and the flag of ``score`` that sets it (the refusals name flags through it).
SCORE_FLAGS: dict[str, str] = {
    "prediction": "PREDICTION", "gold": "--gold", "sample": "--sample", "metrics": "--metrics",
    "scorer.bertscore_model": "--bertscore-model", "scorer.bertscore_layers": "--bertscore-layers",
    "scorer.bleurt_model": "--bleurt-model", "scorer.device": "--device", "scorer.batch_size": "--batch-size",
    "align_by_id": "--align-by-id", "output": "--output", "recording.record": "--record", "recording.name": "--name",
    "recording.db": "--db", "recording.tags": "--tag", "dataset_name": "--dataset-name",
}


@dataclass(frozen=True)
class ScoreRequest:
    """A submission file scored against a gold file as the organizers do (``sample``: the packaged
    sample submission and gold, for either left out). ``align_by_id`` scores a submission that is not
    in the gold's order by id (marked as not the organizers' score); ``output`` also gets the full
    result as JSON; with ``recording.record`` (which needs a name) the run is recorded, named
    ``recording.name``, its dataset named ``dataset_name`` (default: the gold file's name)."""

    prediction: Path | None = None
    gold: Path | None = None
    sample: bool = False
    metrics: tuple[str, ...] = METRICS
    scorer: ScorerOptions = field(default_factory=ScorerOptions)
    align_by_id: bool = False
    output: Path | None = None
    recording: Recording = field(default_factory=lambda: Recording(record=False))
    dataset_name: str | None = None

    def __post_init__(self) -> None:
        if self.sample:
            from .data import sample_path

            object.__setattr__(self, "prediction", self.prediction or sample_path("submission"))
            object.__setattr__(self, "gold", self.gold or sample_path("gold"))
        if self.prediction is None or self.gold is None:
            raise MalpyeongError(f"give a submission file and {SCORE_FLAGS['gold']} GOLD (or {SCORE_FLAGS['sample']})")
        for key in ("prediction", "gold"):  # a path given as text
            object.__setattr__(self, key, Path(getattr(self, key)))
        object.__setattr__(self, "metrics", parse_metrics(self.metrics))
        if self.recording.record and not self.recording.name:
            raise MalpyeongError(f"{SCORE_FLAGS['recording.record']} needs {SCORE_FLAGS['recording.name']} NAME")

    @property
    def title(self) -> str:
        """``SUBMISSION vs GOLD``, the file names."""
        return f"{Path(str(self.prediction)).name} vs {Path(str(self.gold)).name}"


@dataclass(frozen=True)
class ScoreOutcome(RichDisplay):
    """The scores of a :class:`ScoreRequest`, and the run it was recorded as (``run_id``/``run_name``;
    ``None`` when not recorded). Prints as its score table (rich, Jupyter)."""

    request: ScoreRequest
    result: EvaluationResult
    run_id: int | None = None
    run_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``malpyeong-eval score --json`` (and the ``--output`` file)."""
        return self.result.to_dict()

    def __rich__(self) -> Any:
        from .report import inert, result_table

        return result_table(self.result, title=inert(self.request.title))



def _refuse_a_taken_name(board: RunRecorder, name: str) -> None:
    """Refused before any scoring: a name another run has."""
    try:
        taken = board.get(name).name == name  # get also reads '#5' or '5' as an id
    except MalpyeongError:  # the name is free (the usual case)
        return
    if taken:
        raise MalpyeongError(f"a run named {name!r} is already on the leaderboard; choose another "
                             f"{SCORE_FLAGS['recording.name']}")


def score_submission(request: ScoreRequest, *, board: RunRecorder | None = None) -> ScoreOutcome:
    """Read the gold and the submission, check them as the organizers do, score, write ``output`` and
    record the run in ``board`` (when given and ``recording.record``) with its provenance. A name
    already taken is refused before anything is read; an output file that cannot be written leaves no
    run behind."""
    from .data import in_gold_order, load_data, load_items, match_submission
    from .evaluation import ContestScorer
    from .metrics.loading import resolve_device
    from .outputs import check_output, write_output
    from .provenance import Stopwatch, run_provenance
    from .recording import RunMetadata

    stopwatch = Stopwatch()
    check_output(request.output)  # a path that cannot be written is refused before the scoring work
    recorder = board if request.recording.record else None
    name = request.recording.name or ""
    if recorder is not None:
        _refuse_a_taken_name(recorder, name)
    gold, prediction = Path(str(request.gold)), Path(str(request.prediction))
    gold_data = load_data(gold, require_answer=True)
    submitted = load_items(prediction, require_answer=True)
    submission = match_submission(gold_data.items, submitted, prediction, align_by_id=request.align_by_id)
    result = ContestScorer(request.metrics, request.scorer).evaluate(
        gold_data.items, [item.answer or "" for item in submission],
        aligned_by_id=not in_gold_order(gold_data.items, submitted))
    if request.output is not None:  # before recording: a file that cannot be written leaves no run behind
        write_output(request.output, json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    if recorder is None:
        return ScoreOutcome(request, result)
    stored = recorder.record(result, name=name, metadata=RunMetadata(
        checkpoint=str(prediction), dataset_name=request.dataset_name or gold.stem, dataset_hash=gold_data.sha256,
        tags=request.recording.tags, provenance=run_provenance(resolve_device(request.scorer.device), stopwatch)))
    return ScoreOutcome(request, result, stored.id, stored.name)
