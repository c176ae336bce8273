"""malpyeong-eval: the NIKL AI 말평 RAG task's metrics exactly as the organizers compute them."""

from .data import Item, evaluate_metric_path, load_items, match_submission, sample_path
from .errors import AlreadyRecorded, MalpyeongError, ModelLoadError, SubmissionError
from .evaluation import METRICS, ContestScorer, EvaluationResult, ItemScore, score
from .metrics.options import ScorerOptions
from .parsing import FormatVerdict, ParsedAnswer, check_format, split_answer
from .recording import RunMetadata, RunRecorder
from .retrieval import LabelRequest, RetrievalRequest, label, retrieve

__all__ = [
    "METRICS",
    "AlreadyRecorded",
    "ContestScorer",
    "EvaluationResult",
    "FormatVerdict",
    "Item",
    "ItemScore",
    "LabelRequest",
    "MalpyeongError",
    "ModelLoadError",
    "ParsedAnswer",
    "RetrievalRequest",
    "RunMetadata",
    "RunRecorder",
    "ScorerOptions",
    "SubmissionError",
    "check_format",
    "evaluate_metric_path",
    "label",
    "load_items",
    "match_submission",
    "retrieve",
    "sample_path",
    "score",
    "split_answer",
]
