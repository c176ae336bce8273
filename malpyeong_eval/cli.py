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

from leaderboard.cli import register as register_leaderboard_commands

from .cli_options import (
    BatchSizeOption,
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DatasetNameOption,
    DbOption,
    DeviceOption,
    MetricsOption,
    NameOption,
    TagOption,
)
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
    name: NameOption = None,
    db: DbOption = None,
    tag: TagOption = None,
    dataset_name: DatasetNameOption = None,
    align_by_id: Annotated[bool, typer.Option("--align-by-id", help="Score a submission that is not in the gold's order by id (the organizers refuse it; the result is marked as not theirs).")] = False,
) -> None:
    """Score a submission as the organizers do: overall and by question_type."""
    from .data import in_gold_order, load_items, match_submission, sample_path
    from .evaluation import ContestScorer, parse_metrics
    from .report import result_table

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
    submitted = load_items(prediction, require_answer=True)
    submission = match_submission(gold_items, submitted, prediction, align_by_id=align_by_id)
    scorer = ContestScorer(
        chosen,
        bertscore_model=bertscore_model,
        bertscore_layers=bertscore_layers,
        bleurt_model=bleurt_model,
        device=device,
        batch_size=batch_size,
    )
    result = scorer.evaluate(gold_items, submission, aligned_by_id=not in_gold_order(gold_items, submitted))
    if board is not None:
        from .data import file_sha256

        stored = board.record(
            result, name=name, checkpoint=str(prediction), dataset_name=dataset_name or gold.stem,
            dataset_hash=file_sha256(gold), tags=tag or (),
        )
        err_console.print(f"recorded run {stored.name!r} (#{stored.id}) in {board.where}", highlight=False, markup=False)
    if json_out == "-":
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    if json_out:
        Path(json_out).write_text(json.dumps(result.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
    console.print(result_table(result, title=f"{prediction.name} vs {gold.name}"))


@app.command()
def run(
    checkpoint: Annotated[str, typer.Argument(help="Model dir, LoRA adapter dir, training folder of checkpoint-* dirs, or Hub id.")],
    data: Annotated[Optional[Path], typer.Option("--data", help="Items in the official format (default: the packaged sample).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    dataset_name: DatasetNameOption = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Base model of a LoRA adapter (default: from its adapter_config.json).")] = None,
    prompt_file: Annotated[Optional[Path], typer.Option("--prompt-file", help="JSON prompt (id, system, instructions by type with 'default').")] = None,
    backend: Annotated[str, typer.Option("--backend", help="transformers or vllm.")] = "transformers",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 1024,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Generation batch size.")] = 8,
    do_sample: Annotated[bool, typer.Option("--do-sample", help="Sample instead of greedy decoding.")] = False,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature (implies --do-sample).")] = None,
    top_p: Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling (implies --do-sample).")] = None,
    repetition_penalty: Annotated[Optional[float], typer.Option("--repetition-penalty")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Submission file to write (default: in the run folder).")] = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run folders (generations, submissions) live.")] = Path("malpyeong-runs"),
    name: NameOption = None,
    tag: TagOption = None,
    db: DbOption = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Record on the leaderboard.")] = True,
    metrics: MetricsOption = "em,rouge1,bertscore,bleurt",
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    device: DeviceOption = None,
    score_batch_size: Annotated[Optional[int], typer.Option("--score-batch-size", min=1, help="Batch size of the scorers.")] = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code", help="Allow model code from the checkpoint (off by default).")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead of tables.")] = False,
) -> None:
    """Generate with a checkpoint, write a submission, score it and record it on the leaderboard."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .data import load_items, sample_path
    from .evaluation import ContestScorer, parse_metrics
    from .generation import BACKENDS, GenerationSettings
    from .prompts import load_prompt
    from .report import result_table
    from .run import CheckpointRunner, resolve_targets

    if backend not in BACKENDS:
        raise MalpyeongError(f"unknown --backend {backend!r}; choose from {', '.join(BACKENDS)}")
    chosen = parse_metrics(metrics)
    data = data or sample_path("gold")
    items = load_items(data)[:limit]
    prompt = load_prompt(prompt_file)
    targets = resolve_targets(checkpoint, base_model)
    if name and len(targets) > 1:
        raise MalpyeongError("--name names one run; a training folder records one run per checkpoint")
    board = None
    if record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(db)
    scorable = all(item.answer is not None for item in items)
    scorer = ContestScorer(chosen, bertscore_model=bertscore_model, bertscore_layers=bertscore_layers,
                           bleurt_model=bleurt_model, device=device, batch_size=score_batch_size) if scorable else None
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens, do_sample=do_sample or temperature is not None or top_p is not None,
        temperature=temperature, top_p=top_p, repetition_penalty=repetition_penalty, seed=seed,
    )
    summaries = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err_console, transient=json_output) as bar:
        tasks: dict[str, int] = {}

        def progress(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = bar.add_task(label, total=total, rate="")
            bar.update(tasks[label], completed=done)
            speed = bar.tasks[tasks[label]].speed
            bar.update(tasks[label], rate=f"{speed:.2f} items/s" if speed else "")

        runner = CheckpointRunner(
            items, data_path=data, dataset_name=dataset_name or data.stem, prompt=prompt, settings=settings,
            batch_size=batch_size, backend=backend, scorer=scorer, board=board, runs_root=runs_dir, device=device,
            trust_remote_code=trust_remote_code, tags=tag or (), progress=progress,
        )
        for target in targets:
            outcome = runner.run(target, name=name, output=output if len(targets) == 1 else None)
            summaries.append(outcome)
    for outcome in summaries:
        state = ("already on the leaderboard" if outcome.already_recorded else
                 f"recorded as {outcome.run_name!r}" if outcome.run_name else "not recorded")
        if not json_output:
            if outcome.result is not None:
                console.print(result_table(outcome.result, title=outcome.target.name))
            err_console.print(f"{outcome.target.name}: {state}; submission {outcome.submission}"
                              + (f"; resumed {outcome.resumed} finished items" if outcome.resumed else ""),
                              highlight=False, markup=False)
    if json_output:
        print(json.dumps([{
            "checkpoint": o.target.checkpoint, "step": o.target.step, "run": o.run_name, "run_id": o.run_id,
            "already_recorded": o.already_recorded, "resumed": o.resumed, "submission": str(o.submission),
            "metrics": o.result.metrics if o.result else None,
        } for o in summaries], ensure_ascii=False, indent=2))


@app.command()
def train(
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML training config (flags override it).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Policy model id or directory [default Qwen/Qwen3-1.7B].")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Training items, official format.")] = None,
    output_dir: Annotated[Optional[str], typer.Option("--output-dir", help="Where checkpoints go.")] = None,
    rewards: Annotated[Optional[str], typer.Option("--rewards", help="Comma-separated: format,em,rouge1,bertscore,bleurt,contest.")] = None,
    reward_weights: Annotated[Optional[str], typer.Option("--reward-weights", help="One weight per reward, comma-separated.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps")] = None,
    save_steps: Annotated[Optional[int], typer.Option("--save-steps")] = None,
    eval_data: Annotated[Optional[str], typer.Option("--eval-data", help="Items each saved checkpoint is scored on.")] = None,
    eval_limit: Annotated[Optional[int], typer.Option("--eval-limit", min=1)] = None,
    eval_metrics: Annotated[Optional[str], typer.Option("--eval-metrics", help="Metrics of the checkpoint evaluations.")] = None,
    eval_max_new_tokens: Annotated[Optional[int], typer.Option("--eval-max-new-tokens")] = None,
    eval_start: Annotated[bool, typer.Option("--eval-start", help="Also score the policy before training (step 0).")] = False,
    db: DbOption = None,
    lora_r: Annotated[Optional[int], typer.Option("--lora-r", help="Train a LoRA adapter of this rank (PEFT).")] = None,
    lora_alpha: Annotated[Optional[int], typer.Option("--lora-alpha")] = None,
    lora_target_modules: Annotated[Optional[str], typer.Option("--lora-target-modules", help="Comma-separated, or all-linear.")] = None,
    use_vllm: Annotated[Optional[bool], typer.Option("--use-vllm/--no-vllm", help="Generate with vLLM (TRL's use_vllm).")] = None,
    vllm_mode: Annotated[Optional[str], typer.Option("--vllm-mode", help="colocate or server.")] = None,
    grpo: Annotated[Optional[list[str]], typer.Option("--grpo", help="Any GRPOConfig field as KEY=VALUE (repeatable).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Resume from the last checkpoint in --output-dir.")] = False,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    prompt_file: Annotated[Optional[str], typer.Option("--prompt-file", help="JSON prompt, as for run.")] = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary at the end.")] = False,
) -> None:
    """Train with GRPO on the contest rewards; each saved checkpoint is scored and recorded."""
    from train.config import load_settings, validate

    grpo_fields = {"max_steps": max_steps, "save_steps": save_steps}
    if use_vllm is not None:
        grpo_fields["use_vllm"] = use_vllm
    if vllm_mode is not None:
        grpo_fields["vllm_mode"] = vllm_mode
    lora = {k: v for k, v in {"r": lora_r, "alpha": lora_alpha,
                              "target_modules": lora_target_modules.split(",") if lora_target_modules and lora_target_modules != "all-linear" else lora_target_modules}.items() if v is not None}
    evaluation = {k: v for k, v in {"data": eval_data, "limit": eval_limit, "metrics": eval_metrics,
                                    "max_new_tokens": eval_max_new_tokens, "start": eval_start or None}.items()
                  if v is not None}
    settings = load_settings(config, {
        "model": model, "data": data, "output_dir": output_dir, "rewards": rewards, "reward_weights": reward_weights,
        "db": db, "bertscore_model": bertscore_model, "bertscore_layers": bertscore_layers, "bleurt_model": bleurt_model,
        "prompt_file": prompt_file, "resume": resume or None, "trust_remote_code": trust_remote_code or None,
        "lora": lora or None, "eval": evaluation or None,
        "grpo": {k: v for k, v in grpo_fields.items() if v is not None} or None,
    }, grpo or [])
    grpo_config = validate(settings)  # everything checked before a model is loaded
    if settings.db or settings.eval.get("data"):
        from leaderboard.store import Leaderboard

        Leaderboard(settings.db)  # a bad database fails now, not after the first checkpoint
    from train.trainer import train as run_training

    from contextlib import redirect_stdout

    with redirect_stdout(sys.stderr):  # the trainer's own log lines stay off stdout (kept for --json)
        summary = run_training(settings, grpo_config)
    evaluations = [{"step": o.target.step, "run": o.run_name, "metrics": o.result.metrics if o.result else None}
                   for o in summary["evaluations"]]
    if json_output:
        rewards_logged = [{k: v for k, v in entry.items() if k == "step" or k.startswith("rewards/") or k == "reward"}
                          for entry in summary["log_history"] if "reward" in entry]
        print(json.dumps({"evaluations": evaluations, "rewards": rewards_logged}, ensure_ascii=False, indent=2))
    else:
        for row in evaluations:
            err_console.print(f"step {row['step']}: recorded as {row['run']!r}", highlight=False, markup=False)


@app.command()
def demo(
    db: DbOption = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Checkpoints, run folders and the training curve.")] = Path("malpyeong-demo"),
    steps: Annotated[int, typer.Option("--steps", min=2, help="GRPO steps (a checkpoint every half).")] = 40,
) -> None:
    """Offline on CPU: tiny models, GRPO on the sample, every checkpoint scored and recorded, the leaderboard."""
    import os

    from platformdirs import user_cache_dir

    from leaderboard.cli import leaderboard_table
    from leaderboard.store import Leaderboard

    from .demo import run_demo

    result = run_demo(err_console, db=db or os.environ.get("MALPYEONG_DB"), output_dir=output_dir,
                      cache=Path(user_cache_dir("malpyeong-eval")) / "demo-models", steps=steps, save_steps=max(1, steps // 2))
    board = Leaderboard(result.db if "***" not in result.db else (db or os.environ.get("MALPYEONG_DB")))
    console.print(leaderboard_table(board.runs(top=10), title=f"malpyeong-eval leaderboard ({result.db})"))
    console.print(f"training curve: {result.plot}", highlight=False, markup=False)
    console.print(f"leaderboard database: {result.db}  (see it again: malpyeong-eval leaderboard --db '{result.db}')",
                  highlight=False, markup=False)


register_leaderboard_commands(app)


def main() -> None:
    """Entry point: run the app, turning user errors into one line and exit status 2."""
    try:
        app()
    except (MalpyeongError, OSError) as exc:  # OSError: e.g. an output path that cannot be written
        err_console.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
        sys.exit(2)
