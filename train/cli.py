"""``malpyeong-eval train`` on the app: the flags, merged over the YAML config, then GRPO training."""

from __future__ import annotations

import json
import sys
from contextlib import redirect_stdout
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from malpyeong_eval.cli.options import (
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DbOption,
    JsonFlag,
)
from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT
from malpyeong_eval.report import make_console

from .config import REWARDS

err_console = make_console(stderr=True)


def flag_overrides(
    *, model=None, data=None, output_dir=None, rewards=None, reward_weights=None, max_steps=None, save_steps=None,
    eval_data=None, eval_limit=None, eval_metrics=None, eval_max_new_tokens=None, eval_start=False, eval_mode=None,
    db=None, lora_r=None, lora_alpha=None, lora_target_modules=None, use_vllm=None, vllm_mode=None, resume=False,
    bertscore_model=None, bertscore_layers=None, bleurt_model=None, contest_metrics=None, prompt_file=None,
    trust_remote_code=False, report_to=None,
) -> dict[str, Any]:
    """The training settings the flags give, shaped as the YAML file's keys (``None``: not given)."""
    grpo = {"max_steps": max_steps, "save_steps": save_steps, "use_vllm": use_vllm, "vllm_mode": vllm_mode,
            "report_to": report_to}
    targets = lora_target_modules.split(",") if lora_target_modules and lora_target_modules != "all-linear" else lora_target_modules
    lora = {"r": lora_r, "alpha": lora_alpha, "target_modules": targets}
    evaluation = {"data": eval_data, "limit": eval_limit, "metrics": eval_metrics, "max_new_tokens": eval_max_new_tokens,
                  "start": eval_start or None, "mode": eval_mode}

    def given(section: dict[str, Any]) -> dict[str, Any] | None:
        return {key: value for key, value in section.items() if value is not None} or None

    return {
        "model": model, "data": data, "output_dir": output_dir, "rewards": rewards, "reward_weights": reward_weights,
        "db": db, "bertscore_model": bertscore_model, "bertscore_layers": bertscore_layers, "bleurt_model": bleurt_model,
        "contest_metrics": contest_metrics, "prompt_file": prompt_file, "resume": resume or None, "trust_remote_code": trust_remote_code or None,
        "lora": given(lora), "eval": given(evaluation), "grpo": given(grpo),
    }


def train(
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
    from .config import load_settings, validate

    settings = load_settings(config, flag_overrides(
        model=model, data=data, output_dir=output_dir, rewards=rewards, reward_weights=reward_weights,
        max_steps=max_steps, save_steps=save_steps, eval_data=eval_data, eval_limit=eval_limit,
        eval_metrics=eval_metrics, eval_max_new_tokens=eval_max_new_tokens, eval_start=eval_start, eval_mode=eval_mode,
        db=db, lora_r=lora_r, lora_alpha=lora_alpha, lora_target_modules=lora_target_modules, use_vllm=use_vllm,
        vllm_mode=vllm_mode, resume=resume, bertscore_model=bertscore_model, bertscore_layers=bertscore_layers,
        bleurt_model=bleurt_model, contest_metrics=contest_metrics, prompt_file=prompt_file, trust_remote_code=trust_remote_code,
        report_to=report_to,
    ), grpo or [])
    grpo_config = validate(settings)  # everything checked before a model is loaded
    from malpyeong_eval.metrics.loading import check_model

    check_model(settings.model, "policy", "--model")  # a missing folder fails now, not after the slow imports
    if settings.eval.get("data") and settings.eval_mode == "inline":
        from leaderboard.store import Leaderboard

        Leaderboard(settings.db)  # a bad database fails now, not after the first checkpoint
    from .trainer import train as run_training

    with redirect_stdout(sys.stderr):  # the trainer's own log lines stay off stdout (kept for --json)
        summary = run_training(settings, grpo_config)
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


def register(app: typer.Typer) -> None:
    """Add ``train`` to the ``malpyeong-eval`` app."""
    app.command("train")(train)
