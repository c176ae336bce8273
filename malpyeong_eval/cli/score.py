"""``malpyeong-eval score``: a submission scored as the organizers do, overall and by question_type."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MalpyeongError
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
    from ..provenance import environment, now

    started, started_at = time.perf_counter(), now()
    from ..data import in_gold_order, load_data, load_items, match_submission, sample_path
    from ..evaluation import ContestScorer, parse_metrics
    from ..recording import RunMetadata
    from ..metrics.loading import resolve_device
    from ..outputs import check_output, write_output
    from ..report import result_table, scorer_progress

    if sample:
        prediction, gold = prediction or sample_path("submission"), gold or sample_path("gold")
    if prediction is None or gold is None:
        raise MalpyeongError("give a submission file and --gold GOLD (or --sample)")
    chosen = parse_metrics(metrics)
    check_output(output)  # a path that cannot be written is refused before the scoring work
    options = scorer_options(bertscore_model, bertscore_layers, bleurt_model, device, batch_size)
    if record and not name:
        raise MalpyeongError("--record needs --name NAME")
    board = None
    if record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(db)  # open (and check) the database before the scoring work
        try:
            taken = board.get(name or "").name == name  # get also reads '#5' or '5' as an id
        except MalpyeongError:  # the name is free (the usual case)
            taken = False
        if taken:  # refused now: no output file written, no scoring done
            raise MalpyeongError(f"a run named {name!r} is already on the leaderboard; choose another --name")
    gold_data = load_data(gold, require_answer=True)
    gold_items = gold_data.items
    submitted = load_items(prediction, require_answer=True)
    submission = match_submission(gold_items, submitted, prediction, align_by_id=align_by_id)
    scorer = ContestScorer(chosen, options)
    with scorer_progress(err_console, enabled=not json_output):
        result = scorer.evaluate(gold_items, [item.answer or "" for item in submission], aligned_by_id=not in_gold_order(gold_items, submitted))
    text = json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
    if output is not None:  # before recording: a file that cannot be written leaves no run behind
        write_output(output, text)
    if board is not None:
        stored = board.record(result, name=name or "", metadata=RunMetadata(
            checkpoint=str(prediction), dataset_name=dataset_name or gold.stem, dataset_hash=gold_data.sha256,
            tags=tuple(tag or ()), provenance={
                **environment(resolve_device(device)), "started_at": started_at, "finished_at": now(),
                "wall_seconds": round(time.perf_counter() - started, 3)}))
        err_console.print(f"recorded run {stored.name!r} (#{stored.id}) in {board.where}", highlight=False, markup=False)
    if json_output:
        print(text)
        return
    console.print(result_table(result, title=f"{prediction.name} vs {gold.name}"))


def register(app: typer.Typer) -> None:
    """Add ``score`` to the app."""
    app.command("score")(score)
