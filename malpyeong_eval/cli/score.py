"""``malpyeong-eval score``: a submission scored as the organizers do, overall and by question_type."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..report import make_console
from .options import (
    DEFAULT_METRICS,
    BatchSizeOption,
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DatasetNameOption,
    DbOption,
    DeviceOption,
    JsonFlag,
    MetricsOption,
    NameOption,
    TagOption,
    scorer_options,
)

console = make_console()
err_console = make_console(stderr=True)


def score(
    prediction: Annotated[Optional[Path], typer.Argument(help="Submission file (JSON list or JSONL).", show_default=False)] = None,
    gold: Annotated[Optional[Path], typer.Option("--gold", help="Gold file with output.answer.")] = None,
    sample: Annotated[bool, typer.Option("--sample", help="Score the packaged sample submission against the packaged sample gold.")] = False,
    metrics: MetricsOption = DEFAULT_METRICS,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    device: DeviceOption = None,
    batch_size: BatchSizeOption = None,
    json_output: JsonFlag = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the full result as JSON to this file.")] = None,
    record: Annotated[bool, typer.Option("--record", help="Record the scored run on the leaderboard (needs --name).")] = False,
    name: NameOption = None,
    db: DbOption = None,
    tag: TagOption = None,
    dataset_name: DatasetNameOption = None,
    align_by_id: Annotated[bool, typer.Option("--align-by-id", help="Score a submission that is not in the gold's order by id (the organizers refuse it; the result is marked as not theirs).")] = False,
) -> None:
    """Score a submission as the organizers do: overall and by question_type."""
    from ..evaluation import parse_metrics
    from ..recording import Recording
    from ..report import scorer_progress
    from ..scoring import ScoreRequest, score_submission

    request = ScoreRequest(
        prediction, gold, sample, metrics=parse_metrics(metrics),
        scorer=scorer_options(bertscore_model, bertscore_layers, bleurt_model, device, batch_size), align_by_id=align_by_id,
        output=output, recording=Recording(record, db, name, tuple(tag or ())), dataset_name=dataset_name)
    board = None
    if record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(db)  # open (and check) the database before the scoring work
    with scorer_progress(err_console, enabled=not json_output):
        outcome = score_submission(request, board=board)
    if request.scorer.batch_size == "auto":
        from ..metrics.pool import settled_batch_sizes

        for line in settled_batch_sizes():
            err_console.print(line, highlight=False, markup=False, soft_wrap=True)
    if request.output is not None:
        err_console.print(f"wrote the result to {request.output}", highlight=False, markup=False, soft_wrap=True)
    if board is not None:
        err_console.print(f"recorded run {outcome.run_name!r} (#{outcome.run_id}) in {board.where}", highlight=False,
                          markup=False, soft_wrap=True)
    if json_output:
        print(json.dumps(outcome.to_json(), ensure_ascii=False, indent=2))
        return
    console.print(outcome)


def register(app: typer.Typer) -> None:
    """Add ``score`` to the app."""
    app.command("score")(score)
