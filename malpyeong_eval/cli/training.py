"""``malpyeong-eval train`` on the app: the flags, merged over the YAML config, then GRPO training."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Mapping
from contextlib import redirect_stdout
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer._click.core import Command, ParameterSource  # typer >= 0.2x carries its own copy of click

from .options import (
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DbOption,
    JsonFlag,
)
from ..metrics.registry import DEFAULT_METRICS_TEXT
from ..report import format_score, inert, json_text, make_console

from train.config import REWARDS, TrainSettings
from train.plan import evaluation_plan

console = make_console()
err_console = make_console(stderr=True)


# Where each of train's parameters goes in TrainSettings (the YAML file's keys): a parameter not named
# here is the top-level key of its own name, except those of NOT_SETTINGS.
SETTING_PATHS: dict[str, tuple[str, ...]] = {
    "eval_data": ("eval", "data"), "eval_limit": ("eval", "limit"), "eval_metrics": ("eval", "metrics"),
    "eval_max_new_tokens": ("eval", "max_new_tokens"), "eval_start": ("eval", "start"), "eval_mode": ("eval", "mode"),
    "lora_r": ("lora", "r"), "lora_alpha": ("lora", "alpha"), "lora_target_modules": ("lora", "target_modules"),
    "max_steps": ("grpo", "max_steps"), "save_steps": ("grpo", "save_steps"), "use_vllm": ("grpo", "use_vllm"),
    "vllm_mode": ("grpo", "vllm_mode"), "report_to": ("grpo", "report_to"),
}
NOT_SETTINGS = ("config", "grpo", "json_output")  # the file, the --grpo KEY=VALUE pairs, the report's form


def setting_path(name: str) -> tuple[str, ...]:
    """The settings path of ``train``'s parameter ``name``."""
    return SETTING_PATHS.get(name, (name,))


def given_settings(ctx: typer.Context) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The settings the command line gives, shaped as the YAML file (a flag left out leaves the file's
    value), and the flag that gave each path."""
    overrides: dict[str, Any] = {}
    flags: dict[tuple[str, ...], str] = {}
    for param in ctx.command.params:
        name = param.name
        if name is None or name in NOT_SETTINGS or ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        *sections, key = path = setting_path(name)
        target = overrides
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = ctx.params[name]
        flags[path] = param.opts[0]
    return overrides, flags


def command_words(command: Command, values: Mapping[str, Any]) -> list[str]:
    """The words that give ``command``'s parameters these ``values``, spelled with its own flags
    (``None`` and ``False``: left out); a parameter it does not have fails."""
    params = {param.name: param for param in command.params}
    words: list[str] = []
    for name, value in values.items():
        param = params[name]
        if value is None or value is False:
            continue
        if param.param_type_name == "argument":
            words.append(str(value))
        elif getattr(param, "is_flag", False):
            words.append(param.opts[0])
        else:
            for item in value if param.multiple else [value]:
                words += [param.opts[0], str(item)]
    return words


def run_command() -> Command:
    """``malpyeong-eval run``'s click command (from its own module, not the whole app, which registers
    this module's commands)."""
    from .run import run

    return typer.main.get_command_from_info(typer.models.CommandInfo(name="run", callback=run),
                                            pretty_exceptions_short=True, rich_markup_mode=None)


def follow_command(settings: TrainSettings, grpo_config: Any) -> str:
    """The ``malpyeong-eval run OUTPUT_DIR --follow`` command that scores this training's checkpoints
    as the inline evaluation would: the evaluation plan, spelled with ``run``'s own flags."""
    from ..secrets import has_secret

    plan = evaluation_plan(settings, grpo_config)
    assert plan is not None, "validate() refuses eval.mode follow without eval data"
    values = {"checkpoint": str(Path(settings.output_dir).resolve()), "follow": True, **plan.run_parameters()}
    note = ""
    if plan.db and has_secret(plan.db):
        values["db"] = None
        note = "  # and MALPYEONG_DB set to this training's --db (its password is not printed)"
    return shlex.join(["malpyeong-eval", "run", *command_words(run_command(), values)]) + note


def train(
    ctx: typer.Context,
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML training config (flags override it).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Policy model id or directory [default Qwen/Qwen3-1.7B].")] = None,
    data: Annotated[Optional[str], typer.Option("--data", help="Training items, official format.")] = None,
    output_dir: Annotated[Optional[str], typer.Option("--output-dir", help="Where checkpoints go.")] = None,
    rewards: Annotated[Optional[str], typer.Option("--rewards", help=f"Comma-separated, of {','.join(REWARDS)}.")] = None,
    contest_metrics: Annotated[Optional[str], typer.Option("--contest-metrics", help=f"Metrics inside the contest reward (default {DEFAULT_METRICS_TEXT}; only their models load).")] = None,
    reward_weights: Annotated[Optional[str], typer.Option("--reward-weights", help="One weight per reward, comma-separated.")] = None,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps")] = None,
    save_steps: Annotated[Optional[int], typer.Option("--save-steps")] = None,
    eval_data: Annotated[Optional[str], typer.Option("--eval-data", help="Items each saved checkpoint is scored on.")] = None,
    eval_limit: Annotated[Optional[int], typer.Option("--eval-limit", min=1)] = None,
    eval_metrics: Annotated[Optional[str], typer.Option("--eval-metrics", help="Metrics of the checkpoint evaluations.")] = None,
    eval_max_new_tokens: Annotated[Optional[int], typer.Option("--eval-max-new-tokens")] = None,
    eval_start: Annotated[bool, typer.Option("--eval-start", help="Also score the policy before training (step 0; inline only).")] = False,
    eval_mode: Annotated[Optional[str], typer.Option("--eval-mode", help="inline: score each saved checkpoint in this process (default; CPU, one GPU); follow: only note it and print the 'malpyeong-eval run DIR --follow' command that scores it elsewhere (multi-GPU).")] = None,
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
    prompt_file: Annotated[Optional[str], typer.Option("--prompt-file", help="JSON prompt, or contest-cite, as for run (the context reward needs a citing one).")] = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code")] = False,
    report_to: Annotated[Optional[str], typer.Option("--report-to", help="trackio, wandb or none: the training's logs and each checkpoint's contest metrics and items (project: --grpo project=NAME, default malpyeong-eval).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Train with GRPO on the contest rewards; each saved checkpoint is scored and recorded (or, with
    --eval-mode follow, left to 'malpyeong-eval run DIR --follow')."""
    # the settings' parameters are read from the click context (given_settings): the flags given only
    from train.config import load_settings, validate

    overrides, flags = given_settings(ctx)
    settings = load_settings(config, overrides, grpo or [], flags=flags)
    grpo_config = validate(settings)  # everything checked before a model is loaded
    from ..metrics.loading import check_model

    check_model(settings.model, "policy", "--model")  # a missing folder fails now, not after the slow imports
    if settings.eval.data and settings.eval.mode == "inline":
        from leaderboard.store import Leaderboard

        Leaderboard(settings.db)  # a bad database fails now, not after the first checkpoint
    from train.trainer import train as run_training

    with redirect_stdout(sys.stderr):  # the trainer's own log lines stay off stdout (kept for --json)
        summary = run_training(settings, grpo_config,
                               follow_command=follow_command(settings, grpo_config) if settings.eval.mode == "follow" else None)
    evaluations = [{"step": o.target.step, "run": o.run_name, "metrics": o.result.metrics if o.result else None}
                   for o in summary["evaluations"]]
    if json_output:
        rewards_logged = [{k: v for k, v in entry.items() if k == "step" or k.startswith("rewards/") or k == "reward"}
                          for entry in summary["log_history"] if "reward" in entry]
        report: dict[str, Any] = {"evaluations": evaluations, "rewards": rewards_logged}
        if summary.get("follow_command"):
            report["follow_command"] = summary["follow_command"]
            report["checkpoints"] = summary["checkpoints"]
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for row in evaluations:
            err_console.print(f"step {row['step']}: recorded as {row['run']!r}", highlight=False, markup=False)
        if summary.get("follow_command"):
            err_console.print(f"score the checkpoints with: {summary['follow_command']}", highlight=False, markup=False,
                              soft_wrap=True)


def shortened(text: str, width: int, keep_end: bool = False) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis (its end kept when ``keep_end``)."""
    line = " ".join(text.split())
    if len(line) <= width:
        return line
    return "…" + line[-(width - 1):] if keep_end else line[: width - 1] + "…"


def completions(
    output_dir: Annotated[Path, typer.Argument(help="A training's --output-dir (trained with --grpo log_completions=true).")],
    step: Annotated[Optional[int], typer.Option("--step", help="Show the completions logged at this step.")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Each logged step's reward means and format-right share, from the completions logs GRPOTrainer
    writes with --grpo log_completions=true; --step N: that step's completions."""
    from dataclasses import asdict

    from rich.table import Table

    from train.completions import step_completions, step_summaries

    if step is not None:
        rows = step_completions(output_dir, step)
        if json_output:
            print(json_text({"step": step, "completions": [asdict(row) for row in rows]}))
            return
        names = list(rows[0].rewards) if rows else []
        table = Table(title=inert(f"completions at step {step} ({output_dir})"))
        for header in ("prompt", "completion", *names, "advantage"):
            table.add_column(inert(header), overflow="fold")
        for row in rows:
            table.add_row(inert(shortened(row.prompt, 36, keep_end=True)), inert(shortened(row.completion, 80)),
                          *(format_score(row.rewards[name]) for name in names), format_score(row.advantage))
        console.print(table)
        return
    summaries = step_summaries(output_dir)
    if json_output:
        print(json_text({"steps": [asdict(summary) for summary in summaries]}))
        return
    names = list(dict.fromkeys(name for summary in summaries for name in summary.rewards))
    table = Table(title=inert(f"completions logs of {output_dir}"), caption="format ok: a reason after 가/이 옳다")
    for header in ("step", "n", *names, "format ok"):
        table.add_column(inert(header), justify="right")
    for summary in summaries:
        table.add_row(str(summary.step), str(summary.n), *(format_score(summary.rewards.get(name)) for name in names),
                      "—" if summary.format_ok is None else f"{summary.format_ok:.0%}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``completions`` to the ``malpyeong-eval`` app."""
    app.command("train")(train)
    app.command("completions")(completions)
