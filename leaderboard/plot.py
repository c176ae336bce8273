"""Training curves: each metric against the training step, as a PNG and as a terminal sparkline."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from malpyeong_eval.metrics.registry import FINAL_METRICS, labelled

from .store import RunRecord

CURVE_METRICS = labelled((*FINAL_METRICS, "final_score"))  # (key, label): the metrics of Final, then Final
_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float]) -> str:
    """A one-line curve of ``values`` in block characters."""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BLOCKS[round((value - low) / span * (len(_BLOCKS) - 1))] for value in values)


def plot_training(runs: list[RunRecord], output: str | Path, title: str) -> Path:
    """Write a PNG with one line per metric that all ``runs`` (sorted by step) have."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [run.step for run in runs]
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=120)
    for key, label in CURVE_METRICS:
        values = [run.metrics.get(key) for run in runs]
        if all(value is not None for value in values):
            # runs of a training: every step set, and every value here
            axis.plot(cast("list[int]", steps), cast("list[float]", values), marker="o", label=label, linewidth=2.5 if key == "final_score" else 1.5)
    axis.set_xlabel("training step")
    axis.set_ylabel("score")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(output)
    plt.close(figure)
    return output
