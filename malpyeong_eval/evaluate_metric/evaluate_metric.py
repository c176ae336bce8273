"""The contest metric as a Hugging Face ``evaluate`` module, loadable from a local path (no Hub).

    import evaluate, malpyeong_eval
    metric = evaluate.load(malpyeong_eval.evaluate_metric_path())
    metric.compute(predictions=[...], references=[...], metrics="em,rouge1")

Inputs are full answers (``"…"가 옳다. 이유``); the result holds the overall means,
Descriptive Avg and Final Score, the same numbers as ``malpyeong-eval score``.
"""

import datasets
import evaluate

from malpyeong_eval.evaluation import score
from malpyeong_eval.metrics.aggregate import SUMMARY_KEYS
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT

_DESCRIPTION = "Exact Match, ROUGE-1 (Mecab), BERTScore and BLEURT of the NIKL AI 말평 RAG task, as the organizers score."
_KWARGS = """
Args:
    predictions: full predicted answers.
    references: full gold answers.
    metrics: comma-separated subset of {metrics} (default all of them).
    bertscore_model, bertscore_layers, bleurt_model, device, batch_size: as the command line's flags
        (one ScorerOptions); batch_size may be 'auto'.
Returns:
    {columns} (None if not computed),
    and n_counted: the items whose gold and predicted reasons are both non-empty, the only ones the
    reason metrics average over (the organizers' rule).
""".format(metrics=DEFAULT_METRICS_TEXT, columns=", ".join(SUMMARY_KEYS))


class MalpyeongEval(evaluate.Metric):
    """The contest's table of predictions against references; models load once per process and
    configuration (ContestScorer takes them from the per-process pool)."""

    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        metrics=DEFAULT_METRICS_TEXT,
        bertscore_model=None,
        bertscore_layers=None,
        bleurt_model=None,
        device=None,
        batch_size=None,
    ):
        options = ScorerOptions(bertscore_model=bertscore_model, bertscore_layers=bertscore_layers,
                                bleurt_model=bleurt_model, device=device, batch_size=batch_size)
        return score(predictions, references, metrics, options)
