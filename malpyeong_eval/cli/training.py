"""``malpyeong-eval train`` on the app: the flags, merged over the YAML config, then GRPO training."""

from __future__ import annotations

import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer._click.core import ParameterSource  # typer >= 0.2x carries its own copy of click

from .options import (
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DbOption,
    JsonFlag,
)
from ..metrics.registry import DEFAULT_METRICS_TEXT
from ..report import format_score, inert, json_text, make_console

from train.config import REWARDS

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
    from train.config import check_training, load_settings

    overrides, flags = given_settings(ctx)
    settings = load_settings(config, overrides, grpo or [], flags=flags)
    grpo_config = check_training(settings)  # everything checked before the trainer's slow imports and any model load
    from train.plan import unscored_note
    from train.trainer import train as run_training

    if (unscored := unscored_note(settings)) is not None:
        err_console.print(unscored, highlight=False, markup=False, soft_wrap=True)
    with redirect_stdout(sys.stderr):  # the trainer's own log lines stay off stdout (kept for --json)
        summary = run_training(settings, grpo_config)
    if json_output:
        print(json.dumps(summary.to_json(), ensure_ascii=False, indent=2))
        return
    for line in summary.lines():
        err_console.print(line, highlight=False, markup=False, soft_wrap=True)


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
