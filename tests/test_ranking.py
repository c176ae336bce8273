"""The leaderboard's ranking rule (leaderboard/ranking_rule.py) on runs and on items, runs on two datasets,
the empty leaderboard, and the board's tables at 80, 100 and 120 columns with the demo's long names.

Runs are recorded in-process in a small SQLite board (no model, no demo); the numbers are chosen so
that the old rule (EM, then newest; compare by EM alone) and the new one give different answers."""

from __future__ import annotations

import json
import re

import pytest
from leaderboard_support import make_result, result_of
from rich.cells import cell_len

from leaderboard import Leaderboard, RankingRequest, comparison, ranking, run_detail
from malpyeong_eval.display import rendered_text
from malpyeong_eval.evaluation import ItemScore
from malpyeong_eval.recording import RunMetadata
from malpyeong_eval.table_width import shorten, shorten_distinct


def em_rouge_result(ems: list[float], rouges: list[float | None] | None, counted: list[bool] | None = None):
    """A run scored with ``em,rouge1`` only (the tour's metrics): no BERTScore, BLEURT or Final
    (``rouges`` ``None``: EM only)."""
    counted = counted or [True] * len(ems)
    rouges = rouges or [None] * len(ems)
    items = [ItemScore(id=str(index), question_type="선택형", prediction=f'"{index}"가 옳다. 이유', answer_clause=f'"{index}"가 옳다',
                       reason="이유" if keep else "", gold=f'"{index}"가 옳다. 정답', counted=keep, exact_match=em, rouge1=rouge)
             for index, (em, rouge, keep) in enumerate(zip(ems, rouges, counted, strict=True))]
    return result_of(items, config={"rouge1": "rouge1(test)"})


def record(board: Leaderboard, name: str, result, dataset: str = "sample", step: int | None = None) -> None:
    board.record(result, name=name, metadata=RunMetadata(dataset_name=dataset, dataset_hash=dataset, step=step))


@pytest.fixture
def board(tmp_path) -> Leaderboard:
    return Leaderboard(str(tmp_path / "board.db"))


def test_runs_tied_on_em_rank_by_rouge1_not_by_date(board):
    """The issue's case: checkpoint-40 (newer, lower ROUGE-1) was ranked above checkpoint-20 on an EM tie."""
    record(board, "demo/checkpoint-20", em_rouge_result([1, 0, 0, 0], [0.3, 0.3, 0.2, 0.2]))
    record(board, "demo/checkpoint-40", em_rouge_result([0, 1, 0, 0], [0.2, 0.2, 0.2, 0.2]))  # same EM, newer
    record(board, "demo/em-only", em_rouge_result([1, 1, 1, 0], None))  # the best EM, no reason metric
    record(board, "demo/all-four", make_result(3, n=4))
    names = [run.name for run in board.runs()]
    # Final first; then the mean of the reason metrics (ROUGE-1 here) before EM; a run without one after
    assert names == ["demo/all-four", "demo/checkpoint-20", "demo/checkpoint-40", "demo/em-only"]


def test_an_exact_tie_goes_newest_first(board):
    for name in ("older", "newer"):
        record(board, name, em_rouge_result([1, 0], [0.5, 0.5]))
    assert [run.name for run in board.runs()] == ["newer", "older"]


def test_runs_on_two_datasets_are_two_rankings(board, cli, tmp_path):
    record(board, "big-best", em_rouge_result([1] * 8, [0.9] * 8), dataset="dev")
    record(board, "big-worst", em_rouge_result([0] * 8, [0.1] * 8), dataset="dev")
    record(board, "small", em_rouge_result([0, 1, 0, 0], [0.5] * 4), dataset="sample")
    db = str(tmp_path / "board.db")
    code, out, _ = cli("leaderboard", "--db", db, "--json")
    rows = [(row["dataset_name"], row["rank"], row["name"]) for row in json.loads(out)]
    assert code == 0 and rows == [("dev", 1, "big-best"), ("dev", 2, "big-worst"), ("sample", 1, "small")]
    code, out, _ = cli("leaderboard", "--db", db, "--top", "1", "--json")
    assert [row["name"] for row in json.loads(out)] == ["big-best", "small"]  # the best of each dataset
    text = rendered_text(ranking(board), 100)
    assert "dataset dev, 8 items" in text and "dataset sample, 4 items" in text and "each ranked on its own" in text
    assert text.index("big-worst") < text.index("dataset sample") < text.index("small")
    one = rendered_text(ranking(board, RankingRequest(dataset="sample")), 100)
    assert "dataset sample" in one and "big-best" not in one and "each ranked on its own" not in one


def test_a_limit_makes_another_set_of_items(board, cli, tmp_path):
    """``run --limit 8`` on the sample scores 8 of its 40 items: not ranked against the runs of all 40."""
    record(board, "all-40", em_rouge_result([0] * 40, [0.1] * 40))
    record(board, "first-8", em_rouge_result([1] * 8, [0.9] * 8))
    code, out, _ = cli("leaderboard", "--db", str(tmp_path / "board.db"), "--json")
    assert code == 0 and [(row["n"], row["rank"]) for row in json.loads(out)] == [(40, 1), (8, 1)]


def test_compare_counts_items_by_the_same_rule(board):
    """Equal EM on every item, ROUGE-1 differing on three: the old count said 0 won, 0 lost, 4 tied."""
    record(board, "a", em_rouge_result([1, 0, 0, 1], [0.5, 0.4, 0.3, 0.2]))
    record(board, "b", em_rouge_result([1, 0, 0, 1], [0.6, 0.1, 0.3, 0.3]))
    compared = comparison(board, "a", "b")
    assert (compared.won, compared.lost, compared.tied) == (2, 1, 1)
    assert compared.decided_by == "rouge1,exact_match"
    assert "items won 2, lost 1, tied 1 (by each item's ROUGE-1, then EM" in compared.tally_line()


def test_compare_item_without_a_reason_counts_its_reason_as_zero(board):
    """An item B answered without a reason (not counted) loses on ROUGE-1 to A's counted one, whatever B's stored score."""
    record(board, "a", em_rouge_result([1, 1], [0.2, 0.2]))
    record(board, "b", em_rouge_result([1, 1], [0.9, 0.2], counted=[False, True]))
    compared = comparison(board, "a", "b")
    assert (compared.won, compared.lost, compared.tied) == (0, 1, 1)


def test_compare_with_all_four_metrics_is_decided_by_each_items_final(board):
    record(board, "a", make_result(1, n=12))
    record(board, "b", make_result(2, n=12))
    compared = comparison(board, "a", "b")
    items_a, items_b = board.items(board.get("a")), board.items(board.get("b"))
    finals = [(x.final, y.final) for x, y in zip(items_a, items_b, strict=True)]
    assert compared.decided_by == "final_score"
    assert (compared.won, compared.lost) == (sum(b > a for a, b in finals), sum(b < a for a, b in finals))


# -- an empty leaderboard --------------------------------------------------------------------------------------


def test_a_fresh_machine_leaderboard_says_where_it_looked_and_creates_nothing(tmp_path, monkeypatch, cli):
    monkeypatch.delenv("MALPYEONG_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    code, out, err = cli("leaderboard")
    default = tmp_path / "data" / "malpyeong-eval" / "leaderboard.db"
    assert code == 0 and str(default) in "".join(out.split())  # a long path folds at the width
    assert "malpyeong-eval demo" in out and "score --sample --record" in out
    assert not (tmp_path / "data").exists()  # nothing created, not even the folder
    code, out, err = cli("leaderboard", "--json")
    assert code == 0 and json.loads(out) == [] and "malpyeong-eval demo" in err
    code, out, err = cli("leaderboard", "--db", str(tmp_path / "typo.db"))  # a path given: a typo, refused
    assert code == 2 and "no leaderboard database there" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "typo.db").exists()


def test_an_empty_database_says_how_to_fill_it_and_a_filter_says_nothing_matched(board, tmp_path, cli):
    db = str(tmp_path / "board.db")
    code, out, _ = cli("leaderboard", "--db", db)
    assert code == 0 and "no runs recorded in" in out and "malpyeong-eval demo" in out
    record(board, "one", em_rouge_result([1], [0.5]))
    code, out, _ = cli("leaderboard", "--db", db, "--tag", "nothing")
    assert code == 0 and "no run matches in" in out and "malpyeong-eval demo" not in out


# -- widths ----------------------------------------------------------------------------------------------------

DEMO_NAMES = ["malpyeong-demo/checkpoint-0", "malpyeong-demo/checkpoint-20", "malpyeong-demo/checkpoint-40"]
LONG_NAMES = ["runs/qwen3-8b-lora-rank16-with-bm25-mecab-context/checkpoint-300",
              "runs/qwen3-8b-lora-rank16-without-any-context/checkpoint-300"]  # a long shared start and end


@pytest.fixture(scope="module")
def demo_board(tmp_path_factory) -> Leaderboard:
    """The demo's runs (all four metrics, 40 items) and two long-named runs on another dataset."""
    board = Leaderboard(str(tmp_path_factory.mktemp("widths") / "board.db"))
    for seed, name in enumerate(DEMO_NAMES):
        record(board, name, make_result(seed, n=40), step=int(name.rsplit("-", 1)[1]))
    for seed, name in enumerate(LONG_NAMES, start=10):
        record(board, name, make_result(seed, n=8), dataset="sample-rag", step=300)
    return board


def _fits(text: str, width: int) -> list[str]:
    lines = text.splitlines()
    assert max(cell_len(line) for line in lines) <= width, text
    return lines


def _rows(lines: list[str]) -> list[list[str]]:
    """The cells of a table's body rows (lines between │ borders)."""
    return [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if line.startswith("│")]


@pytest.mark.parametrize("width", [80, 100, 120])
def test_leaderboard_fits_one_line_per_run_with_distinct_names(demo_board, width):
    lines = _fits(rendered_text(ranking(demo_board), width), width)
    rows = _rows(lines)
    assert [row[0] for row in rows] == ["1", "2", "3", "1", "2"]  # one line per run: no cell wrapped
    names = [row[1] for row in rows]
    assert len(set(names)) == 5 and all(name in DEMO_NAMES + LONG_NAMES or "…" in name for name in names)
    header = next(line for line in lines if line.startswith("┃"))
    assert {"EM", "ROUGE-1", "BERTScore", "BLEURT", "Final"} <= {cell.strip() for cell in header.split("┃")}  # no header split
    if width >= 100:
        assert set(DEMO_NAMES) <= set(names)  # the demo's names whole from 100 columns
    dropped = [line for line in lines if line.startswith("not shown at this width")]
    assert dropped if width < 120 else True
    assert all(len(line) <= width for line in dropped)


@pytest.mark.parametrize("width", [80, 100, 120])
def test_show_fits_with_its_name_in_the_title(demo_board, width):
    detail = run_detail(demo_board, LONG_NAMES[0])
    lines = _fits(rendered_text(detail, width), width)
    title = next(line.strip() for line in lines if line.strip().startswith("run "))
    assert title == f"run {LONG_NAMES[0]}" or "…" in title
    scores = _rows(lines[: next(index for index, line in enumerate(lines) if "worst" in line)])
    assert [row[0] for row in scores] == ["overall", "교정형", "선택형"]  # one line per group


@pytest.mark.parametrize("width", [80, 100, 120])
def test_compare_headers_stay_distinct(demo_board, width):
    lines = _fits(rendered_text(comparison(demo_board, LONG_NAMES[0], LONG_NAMES[1]), width), width)
    header = [cell.strip() for cell in next(line for line in lines if line.startswith("┃")).split("┃")[1:-1]]
    assert header[1] != header[2] and header[1].startswith("A") and header[2].startswith("B")
    assert [row[0] for row in _rows(lines)][:2] == ["exact_match", "rouge1"]  # one line per metric
    assert f"A: context of {LONG_NAMES[0]}" in " ".join(" ".join(lines).split())  # the names whole above the table


def test_piped_output_fits_100_columns_unless_wide(demo_board, tmp_path, monkeypatch, cli):
    monkeypatch.delenv("COLUMNS", raising=False)
    db = demo_board.url
    code, out, _ = cli("leaderboard", "--db", db)
    assert code == 0 and max(map(cell_len, out.splitlines())) <= 100
    code, out, _ = cli("leaderboard", "--db", db, "--wide")
    assert code == 0 and any(name in out for name in LONG_NAMES) and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", out)
    monkeypatch.setenv("COLUMNS", "80")
    code, out, _ = cli("show", DEMO_NAMES[1], "--db", db)
    assert code == 0 and max(map(cell_len, out.splitlines())) <= 80


def test_shortened_names_are_distinct_and_cut_in_the_middle():
    assert shorten("malpyeong-demo/deep/path/checkpoint-40", 30) == "malpyeong-demo/…/checkpoint-40"
    assert shorten("short", 30) == "short"
    assert cell_len(shorten("선택형 " * 10, 11)) <= 11  # Hangul: two cells each
    twins = ["a" * 40 + "1" + "b" * 40, "a" * 40 + "2" + "b" * 40]  # one character apart, in the middle
    shortened = shorten_distinct(twins, 24)
    assert len(set(shortened)) == 2 and all(cell_len(text) <= 24 for text in shortened)
