"""The ``malpyeong-eval`` command line: a thin layer over the library.

Every user error (a broken file, a missing model, a bad flag value) is one line on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from .errors import MalpyeongError
from .report import make_console

app = typer.Typer(
    name="malpyeong-eval",
    help="Contest-exact scoring for the NIKL AI 말평 한국어 어문 규범 기반 생성(RAG) task.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = make_console()
err_console = make_console(stderr=True)


@app.callback()
def _root() -> None:
    """Score submissions, run checkpoints, train with GRPO and keep a leaderboard."""

MetricsOption = Annotated[
    str, typer.Option("--metrics", help="Comma-separated: em,rouge1,bertscore,bleurt (Final needs all four).")
]
BertScoreModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--bertscore-model",
        help="BERTScore model id or local directory [env MALPYEONG_BERTSCORE_MODEL; default bert-base-multilingual-cased].",
    ),
]
BertScoreLayersOption = Annotated[
    Optional[int], typer.Option("--bertscore-layers", help="Layer for BERTScore (default: bert_score's, 9 for mBERT).")
]
BleurtModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--bleurt-model",
        help="BLEURT checkpoint (lucadiliello/* layout) id or directory [env MALPYEONG_BLEURT_MODEL; default lucadiliello/BLEURT-20].",
    ),
]
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available).")]
BatchSizeOption = Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Batch size of the model-based scorers.")]


@app.command()
def score(
    prediction: Annotated[Optional[Path], typer.Argument(help="Submission file (JSON list or JSONL).", show_default=False)] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold file with output.answer.")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Score the packaged sample submission against the packaged sample gold.")] = False,
    metrics: MetricsOption = "em,rouge1,bertscore,bleurt",
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    device: DeviceOption = None,
    batch_size: BatchSizeOption = None,
    json_out: Annotated[Optional[str], typer.Option("--json", help="Write the full result as JSON to this file ('-': stdout).")] = None,
    record: Annotated[bool, typer.Option("--record", help="Record the scored run on the leaderboard (needs --name).")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="Run name on the leaderboard.")] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Leaderboard database URL or SQLite path [env MALPYEONG_DB].")] = None,
    tag: Annotated[Optional[list[str]], typer.Option("--tag", help="Tag for the recorded run (repeatable).")] = None,
    dataset_name: Annotated[Optional[str], typer.Option("--dataset-name", help="Dataset name on the leaderboard (default: gold file name).")] = None,
) -> None:
    """Score a submission as the organizers do: overall and by question_type."""
    from .data import load_items, match_submission, sample_path
    from .evaluation import ContestScorer, parse_metrics
    from .report import scores_table

    if sample:
        prediction, gold = prediction or sample_path("submission"), gold or sample_path("gold")
    if prediction is None or gold is None:
        raise MalpyeongError("give a submission file and --gold GOLD (or --sample)")
    chosen = parse_metrics(metrics)
    if record and not name:
        raise MalpyeongError("--record needs --name NAME")
    board = None
    if record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(db)  # open (and check) the database before the scoring work
    gold_items = load_items(gold, require_answer=True)
    submission = match_submission(gold_items, load_items(prediction, require_answer=True), prediction)
    scorer = ContestScorer(
        chosen,
        bertscore_model=bertscore_model,
        bertscore_layers=bertscore_layers,
        bleurt_model=bleurt_model,
        device=device,
        batch_size=batch_size,
    )
    result = scorer.evaluate(gold_items, submission)
    if board is not None:
        from .data import file_sha256

        stored = board.record(
            result, name=name, checkpoint=str(prediction), dataset_name=dataset_name or gold.stem,
            dataset_hash=file_sha256(gold), tags=tag or (),
        )
        err_console.print(f"recorded run {stored.name!r} (#{stored.id}) in {board.where}", highlight=False)
    if json_out == "-":
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(scores_table(result.metrics, result.n, result.by_type, title=f"{prediction.name} vs {gold.name}"))


from leaderboard.cli import register as _register_leaderboard  # noqa: E402

_register_leaderboard(app)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit status 2."""
    try:
        app()
    except (MalpyeongError, OSError) as exc:  # OSError: e.g. an output path that cannot be written
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
