"""Command-line options shared by the commands of ``malpyeong_eval.cli``.

``--batch-size`` is not shared: it means one thing per command, and each command's help says
which (``score``/``rescore``: the model-based scorers, :data:`BatchSizeOption`; ``run``: generation,
with ``--score-batch-size`` for the scorers). ``--json`` is a flag everywhere: JSON on stdout
instead of the table(s).
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from ..evaluation import METRICS
from ..metrics.options import ScorerOptions, parse_batch_size

DEFAULT_METRICS = ",".join(METRICS)  # what score and run compute unless --metrics says otherwise
MetricsOption = Annotated[
    str, typer.Option("--metrics", help=f"Comma-separated, of {DEFAULT_METRICS} (Final needs all of them).")
]
BertScoreModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--bertscore-model",
        help="BERTScore model id or local directory \\[env MALPYEONG_BERTSCORE_MODEL; default bert-base-multilingual-cased].",
    ),
]
BertScoreLayersOption = Annotated[
    Optional[int], typer.Option("--bertscore-layers", help="Layer for BERTScore (default: bert_score's, 9 for mBERT).")
]
BleurtModelOption = Annotated[
    Optional[str],
    typer.Option(
        "--bleurt-model",
        help="BLEURT checkpoint (lucadiliello/* layout) id or directory \\[env MALPYEONG_BLEURT_MODEL; default lucadiliello/BLEURT-20].",
    ),
]
def _device(value: str | None) -> str | None:
    from ..errors import MalpyeongError
    from ..metrics.loading import resolve_device

    try:
        return resolve_device(value) if value is not None else None
    except MalpyeongError as exc:
        raise typer.BadParameter(str(exc).removeprefix("--device ")) from None


DeviceOption = Annotated[Optional[str], typer.Option("--device", callback=_device, help="cpu, cuda, cuda:1 ... (default: cuda if available).")]
_SCORER_BATCH_HELP = ("Batch size of the model-based scorers (BERTScore, BLEURT), or 'auto' (the largest that fits, "
                      "halved on out-of-memory) \\[default 64 for BERTScore, 32 for BLEURT].")
BatchSizeOption = Annotated[Optional[str], typer.Option("--batch-size", help=_SCORER_BATCH_HELP)]
ScoreBatchSizeOption = Annotated[Optional[str], typer.Option("--score-batch-size", help=_SCORER_BATCH_HELP)]


def scorer_options(bertscore_model: str | None, bertscore_layers: int | None, bleurt_model: str | None,
                   device: str | None, batch_size: str | None, batch_flag: str = "--batch-size") -> ScorerOptions:
    """The one :class:`ScorerOptions` value of a command's scorer flags (``batch_flag``: the name its
    batch-size flag has there)."""
    return ScorerOptions(bertscore_model=bertscore_model, bertscore_layers=bertscore_layers, bleurt_model=bleurt_model,
                         device=device, batch_size=parse_batch_size(batch_size, batch_flag))


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise typer.BadParameter("empty: give a database URL or a SQLite file path")
    return value


DbOption = Annotated[Optional[str], typer.Option("--db", callback=_not_blank, help="Leaderboard database URL or SQLite path \\[env MALPYEONG_DB; default: per-user SQLite file].")]
NameOption = Annotated[Optional[str], typer.Option("--name", help="Run name on the leaderboard.")]
TagOption = Annotated[Optional[list[str]], typer.Option("--tag", help="Tag for the recorded run(s) (repeatable).")]
DatasetNameOption = Annotated[Optional[str], typer.Option("--dataset-name", help="Dataset name on the leaderboard (default: data file name).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of the table(s).")]
