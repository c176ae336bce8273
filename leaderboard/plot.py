"""Training curves: each metric against the training step, as a PNG and as a terminal sparkline."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, cast

from malpyeong_eval.metrics.registry import FINAL_METRICS, labelled
from malpyeong_eval.outputs import OutputError, check_output, write_output

from .records import RunRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CURVE_METRICS = labelled((*FINAL_METRICS, "final_score"))  # (key, label): the metrics of Final, then Final
_BLOCKS = "▁▂▃▄▅▆▇█"
MAX_STEP_TICKS = 12  # up to this many checkpoints, a tick at each one's step


def sparkline(values: list[float]) -> str:
    """A one-line curve of ``values`` in block characters."""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(_BLOCKS[round((value - low) / span * (len(_BLOCKS) - 1))] for value in values)


def training_figure(runs: list[RunRecord], title: str) -> Figure:
    """The figure of :func:`plot_training`: one line per metric all ``runs`` (sorted by step) have,
    against the step; ticks only at whole steps (the checkpoints' own where they are few)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    steps = cast("list[int]", [run.step for run in runs])  # runs of a training: every step set
    figure, axis = plt.subplots(figsize=(8, 4.5), dpi=120)
    for key, label in CURVE_METRICS:
        values = [run.metrics.get(key) for run in runs]
        if all(value is not None for value in values):
            axis.plot(steps, cast("list[float]", values), marker="o", label=label, linewidth=2.5 if key == "final_score" else 1.5)
    if len(set(steps)) <= MAX_STEP_TICKS:
        axis.set_xticks(sorted(set(steps)))
    else:
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.set_xlabel("training step")
    axis.set_ylabel("score")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    return figure


def plot_training(runs: list[RunRecord], output: str | Path, title: str) -> Path:
    """Write a PNG (or the image format ``output``'s extension names: .pdf, .svg, ...) of :func:`training_figure`;
    an extension matplotlib cannot write, or a folder, is refused first."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backend_bases import FigureCanvasBase

    output = Path(output)
    check_output(output, make_parents=True)
    image_format = output.suffix[1:].lower() or "png"
    formats = FigureCanvasBase.get_supported_filetypes()
    if image_format not in formats:
        raise OutputError(f"{output}: cannot draw a .{image_format} file; give a name ending in "
                          f"{', '.join('.' + name for name in sorted(formats))}")
    figure = training_figure(runs, title)
    image = BytesIO()
    figure.savefig(image, format=image_format)
    plt.close(figure)
    return write_output(output, image.getvalue(), make_parents=True)
