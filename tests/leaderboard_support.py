"""Helpers for the leaderboard tests: database URLs and scored results to record."""

from __future__ import annotations

import atexit
import os
import random
import uuid

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from malpyeong_eval.evaluation import EvaluationResult, ItemScore

POSTGRES_VARIABLE = "MALPYEONG_TEST_POSTGRES_URL"


_created_schemas: list[str] = []


def postgres_url() -> str:
    """A fresh schema of the test PostgreSQL database for one test, as a URL whose search_path is
    that schema; skipped locally without a server, required in CI. Only schemas created here are
    dropped (when the test process exits): nothing else in the database is touched."""
    url = os.environ.get(POSTGRES_VARIABLE)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must provide {POSTGRES_VARIABLE} (see .ci/run)")
        pytest.skip(f"set {POSTGRES_VARIABLE} to run the leaderboard tests on PostgreSQL")
    schema = f"malpyeong_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine.dispose()
    if not _created_schemas:
        atexit.register(_drop_created_schemas, url)
    _created_schemas.append(schema)
    return make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)


def _drop_created_schemas(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for schema in _created_schemas:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    engine.dispose()


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
    from malpyeong_eval.recording import RunMetadata

    board = Leaderboard(url)
    for index in range(count):
        board.record(make_result(worker * 1000 + index, n=5), name=f"worker{worker}-run{index}", metadata=RunMetadata(step=index))
    return count
