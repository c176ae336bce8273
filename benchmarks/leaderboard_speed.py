"""`malpyeong-eval leaderboard --top 20` with 100, 1,000 and 10,000 runs stored.

Fills a SQLite file with runs (bulk insert), then times the whole command as a
process (start-up included) and the library query alone, and prints how both grow.

    python benchmarks/leaderboard_speed.py
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from leaderboard.models import Run, RunTag  # noqa: E402
from leaderboard.store import Leaderboard  # noqa: E402
from malpyeong_eval.metrics.aggregate import PER_ITEM, SCORING_RULES, aggregate  # noqa: E402


def fill(board: Leaderboard, start: int, stop: int) -> None:
    rng = random.Random(start)
    rows = []
    for index in range(start, stop):
        # every metric of the registry a random mean; Desc. Avg and Final as the contest derives them
        metrics = aggregate({name: np.array([rng.random()]) for name in PER_ITEM}, np.array([True]))
        rows.append(dict(
            name=f"run-{index}", step=index, n=127, tool_version="bench", generation={}, metric_config={},
            created_at=datetime.now(timezone.utc), dataset_name="dev", scoring_rules=SCORING_RULES, n_counted=127,
            **metrics,
        ))
    with board.engine.begin() as connection:
        ids = connection.execute(insert(Run).returning(Run.id), rows).scalars().all()
        connection.execute(insert(RunTag), [{"run_id": run_id, "tag": "bench"} for run_id in ids])


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        board = Leaderboard(url)
        stored = 0
        print(f"{'runs':>7}  {'command (s)':>11}  {'query (ms)':>10}")
        for target in (100, 1_000, 10_000):
            fill(board, stored, target)
            stored = target
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "malpyeong_eval", "leaderboard", "--top", "20", "--db", url],
                           check=True, capture_output=True)
            command = time.perf_counter() - start
            start = time.perf_counter()
            for _ in range(20):
                top = board.runs(top=20)
            query = (time.perf_counter() - start) / 20 * 1000
            assert len(top) == 20
            print(f"{target:>7}  {command:>11.3f}  {query:>10.2f}")


if __name__ == "__main__":
    main()
