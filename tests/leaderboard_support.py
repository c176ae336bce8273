"""Helpers for the leaderboard tests: database URLs and scored results to record."""

from __future__ import annotations

import os
import random

import pytest
from sqlalchemy import create_engine

from malpyeong_eval.evaluation import EvaluationResult, ItemScore

POSTGRES_VARIABLE = "MALPYEONG_TEST_POSTGRES_URL"


def postgres_url() -> str:
    """A clean PostgreSQL database for one test; skipped locally without one, required in CI."""
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide {POSTGRES_VARIABLE} (see .ci/run)")
        pytest.skip(f"set {POSTGRES_VARIABLE} to run the leaderboard tests on PostgreSQL")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def make_result(seed: int, n: int = 12, types=("선택형", "교정형")) -> EvaluationResult:
    """A scored result with per-item numbers drawn from ``seed`` and real aggregation."""
    rng = random.Random(seed)
    items = []
    for index in range(n):
        em = float(rng.random() < 0.5)
        counted = index % 5 != 4  # every fifth prediction has no reason: out of the reason metrics' means
        reason = f"이유 {rng.random():.3f} <b>굵게</b>" if counted else ""
        items.append(
            ItemScore(
                id=str(index + 1), question_type=types[index % len(types)],
                prediction=f'"문장 {index}"가 옳다. {reason}'.strip(), counted=counted,
                answer_clause=f'"문장 {index}"가 옳다', reason=reason, gold=f'"문장 {index}"가 옳다. 정답 이유',
                exact_match=em, exact_match_lenient=max(em, float(rng.random() < 0.3)),
                rouge1=rng.random(), bertscore=0.5 + rng.random() / 2, bleurt=rng.random(),
            )
        )
    return result_of(items, config={"rouge1": "rouge1(test)"})


def result_of(items: list[ItemScore], config: dict | None = None, aligned_by_id: bool = False) -> EvaluationResult:
    """The result of scored items, aggregated as ContestScorer.evaluate does (by type, counted items)."""
    return EvaluationResult.from_items(items, config or {}, aligned_by_id=aligned_by_id)


def record_many(url: str, worker: int, count: int) -> int:
    """Record ``count`` runs from one process (for the concurrency test)."""
    from leaderboard.store import Leaderboard

    board = Leaderboard(url)
    for index in range(count):
        board.record(make_result(worker * 1000 + index, n=5), name=f"worker{worker}-run{index}", step=index)
    return count
