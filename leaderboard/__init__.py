"""Scored checkpoints in a database (SQLAlchemy: SQLite or PostgreSQL), read back from Python as the
board commands read them.

>>> from leaderboard import Leaderboard, ranking, run_detail, comparison
>>> board = Leaderboard("sqlite://")   # in memory; a path or a URL, else $MALPYEONG_DB
>>> ranking(board).runs
[]

One function per board command, one request and one typed result each (:mod:`leaderboard.api`);
the records a board hands back (:mod:`leaderboard.records`). The names load their modules when
first used, so importing the package (the command line's tables) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import (
        CurveRequest,
        Exported,
        ExportRequest,
        Ranking,
        RankingRequest,
        RescoreOutcome,
        RescoreRequest,
        RunDetail,
        RunDetailRequest,
        TrainingCurve,
        comparison,
        export_board,
        ranking,
        ranking_at,
        rescore_runs,
        run_detail,
        training_curve,
    )
    from .compare import Comparison, EmFlip
    from .db import DamagedDatabase, DatabaseError
    from .records import GroupRecord, ItemRecord, RunRecord
    from .store import Leaderboard

_HOMES = {
    **dict.fromkeys(("CurveRequest", "Exported", "ExportRequest", "Ranking", "RankingRequest", "RescoreOutcome",
                     "RescoreRequest", "RunDetail", "RunDetailRequest", "TrainingCurve", "comparison", "export_board",
                     "ranking", "ranking_at", "rescore_runs", "run_detail", "training_curve"), "api"),
    **dict.fromkeys(("Comparison", "EmFlip"), "compare"),
    **dict.fromkeys(("DamagedDatabase", "DatabaseError"), "db"),
    **dict.fromkeys(("GroupRecord", "ItemRecord", "RunRecord"), "records"),
    "Leaderboard": "store",
}

__all__ = [
    "Comparison", "CurveRequest", "DamagedDatabase", "DatabaseError", "EmFlip", "ExportRequest", "Exported", "GroupRecord",
    "ItemRecord", "Leaderboard", "Ranking", "RankingRequest", "RescoreOutcome", "RescoreRequest", "RunDetail",
    "RunDetailRequest", "RunRecord", "TrainingCurve", "comparison", "export_board", "ranking", "ranking_at", "rescore_runs", "run_detail",
    "training_curve",
]


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
