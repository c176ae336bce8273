"""malpyeong-eval: the NIKL AI 말평 RAG task's metrics exactly as the organizers compute them.

The commands' workflows are importable from here: ``run`` (:class:`RunRequest` →
:func:`run_checkpoints` → :class:`RunOutcomes`, :mod:`malpyeong_eval.runs`) and ``score``
(:class:`ScoreRequest` → :func:`score_submission` → :class:`ScoreOutcome`,
:mod:`malpyeong_eval.scoring`); they are imported on first use, so ``import malpyeong_eval`` stays light.
"""

from typing import TYPE_CHECKING, Any

from .data import Item, evaluate_metric_path, load_items, match_submission, sample_path
from .errors import AlreadyRecorded, MalpyeongError, ModelLoadError, SubmissionError
from .evaluation import METRICS, ContestScorer, EvaluationResult, ItemScore, score
from .metrics.options import ScorerOptions
from .parsing import FormatVerdict, ParsedAnswer, check_format, split_answer
from .recording import Recording, RunMetadata, RunRecorder

if TYPE_CHECKING:
    from .generation import Decoding, EngineOptions, GenerationSettings
    from .runner import RunOutcome
    from .runs import Follow, RunData, RunOutcomes, RunRequest, prepare_run, run_checkpoints
    from .retrieval import LabelRequest, RetrievalRequest, label, retrieve
    from .scoring import ScoreOutcome, ScoreRequest, score_submission

# name -> module of what is imported on first use
_LAZY = {
    **dict.fromkeys(("Decoding", "EngineOptions", "GenerationSettings"), "generation"),
    "RunOutcome": "runner",
    **dict.fromkeys(("Follow", "RunData", "RunOutcomes", "RunRequest", "prepare_run", "run_checkpoints"), "runs"),
    **dict.fromkeys(("ScoreOutcome", "ScoreRequest", "score_submission"), "scoring"),
    **dict.fromkeys(("LabelRequest", "RetrievalRequest", "label", "retrieve"), "retrieval"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METRICS",
    "AlreadyRecorded",
    "ContestScorer",
    "Decoding",
    "EngineOptions",
    "EvaluationResult",
    "Follow",
    "FormatVerdict",
    "GenerationSettings",
    "Item",
    "ItemScore",
    "LabelRequest",
    "MalpyeongError",
    "ModelLoadError",
    "ParsedAnswer",
    "Recording",
    "RunData",
    "RetrievalRequest",
    "RunMetadata",
    "RunOutcome",
    "RunOutcomes",
    "RunRecorder",
    "RunRequest",
    "ScoreOutcome",
    "ScoreRequest",
    "ScorerOptions",
    "SubmissionError",
    "check_format",
    "evaluate_metric_path",
    "label",
    "load_items",
    "match_submission",
    "prepare_run",
    "run_checkpoints",
    "retrieve",
    "sample_path",
    "score",
    "score_submission",
    "split_answer",
]
