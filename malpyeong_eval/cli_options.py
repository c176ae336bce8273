"""Command-line options shared by ``malpyeong_eval.cli`` and ``leaderboard.cli``.

They live here, apart from both command modules, so that ``leaderboard.cli`` (imported by
``malpyeong_eval.cli``) can use the scorer flags of ``score`` without an import cycle.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

MetricsOption = Annotated[
    str, typer.Option("--metrics", help="Comma-separated: em,rouge1,bertscore,bleurt (Final needs all four).")
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
DeviceOption = Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available).")]
BatchSizeOption = Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Batch size of the model-based scorers.")]
DbOption = Annotated[Optional[str], typer.Option("--db", help="Leaderboard database URL or SQLite path \\[env MALPYEONG_DB; default: per-user SQLite file; demo: its own].")]
NameOption = Annotated[Optional[str], typer.Option("--name", help="Run name on the leaderboard.")]
TagOption = Annotated[Optional[list[str]], typer.Option("--tag", help="Tag for the recorded run(s) (repeatable).")]
DatasetNameOption = Annotated[Optional[str], typer.Option("--dataset-name", help="Dataset name on the leaderboard (default: data file name).")]
