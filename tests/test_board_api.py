"""The leaderboard from Python (``leaderboard.api``): the same numbers as the board commands' ``--json``,
typed records read through one checked conversion (a damaged row is one line for every command
and a 500 page for ``serve``), results that render safely in a terminal and a notebook.

The equalities below are consistency checks (the API against the command built on it), not fidelity
checks: the numbers' fidelity to the organizers' scoring is tested in test_official_scoring.py and
test_leaderboard.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from leaderboard import (
    CurveRequest,
    DamagedDatabase,
    ExportRequest,
    ItemRecord,
    Leaderboard,
    RankingRequest,
    RescoreRequest,
    RunDetailRequest,
    comparison,
    export_board,
    ranking,
    rescore_runs,
    run_detail,
    training_curve,
)
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.evaluation import ItemScore
from malpyeong_eval.metrics.registry import METRIC_NAMES
from malpyeong_eval.recording import RunMetadata
from tests.leaderboard_support import make_result, result_of


def _one_line_refusal(result: tuple[int, str, str], *needles: str) -> None:
    code, out, err = result
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, out[-500:], err[-2000:])
    assert all(needle in lines[0] for needle in needles), lines[0]


@pytest.fixture(scope="module")
def filled(tmp_path_factory) -> tuple[str, Leaderboard]:
    """Two runs on the same data (one tagged), one on other data, one scored under the old rules (read only)."""
    folder = tmp_path_factory.mktemp("filled")
    url = f"sqlite:///{folder / 'board.db'}"
    board = Leaderboard(url)
    board.record(make_result(1, n=16), name="base", metadata=RunMetadata(dataset_name="dev", dataset_hash="same", tags=("t",)))
    board.record(make_result(2, n=16), name="tuned", metadata=RunMetadata(dataset_name="dev", dataset_hash="same", step=10))
    board.record(make_result(3, n=8), name="elsewhere", metadata=RunMetadata(dataset_name="test", dataset_hash="other"))
    board.record(make_result(4, n=8), name="old")
    with sqlite3.connect(folder / "board.db") as connection:
        connection.execute("UPDATE runs SET scoring_rules = NULL WHERE name = 'old'")
    return url, board


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A database at the current schema with two runs, "kept" and "other", to copy (copying is cheaper than migrating)."""
    path = tmp_path_factory.mktemp("pristine") / "board.db"
    board = Leaderboard(str(path))
    board.record(make_result(1, n=6), name="kept")
    board.record(make_result(2, n=6), name="other")
    board.engine.dispose()
    return path


def _execute(path: Path, sql: str) -> None:
    connection = sqlite3.connect(path)
    try:
        connection.executescript(sql)
    finally:
        connection.close()


def _copy(pristine: Path, folder: Path, sql: str) -> Path:
    path = folder / "board.db"
    shutil.copyfile(pristine, path)
    _execute(path, sql)
    return path


@pytest.mark.parametrize("filters", [(), ("--dataset", "dev"), ("--tag", "t"), ("--top", "2"), ("--all-rules",)])
def test_ranking_to_json_is_leaderboard_json(filters, filled, cli):
    url, board = filled
    code, out, err = cli("leaderboard", *filters, "--json", "--db", url)
    assert code == 0, err
    options = dict(zip(filters[::2], filters[1::2], strict=False)) if filters != ("--all-rules",) else {}
    request = RankingRequest(dataset=options.get("--dataset"), tag=options.get("--tag"),
                             top=int(options["--top"]) if "--top" in options else None, all_rules=filters == ("--all-rules",))
    result = ranking(board, request)
    assert json.loads(out) == result.to_json() and result.to_json()  # some runs, the same rows
    assert result.hidden == (0 if request.all_rules or request.dataset or request.tag else 1)
    assert ("hidden" in err) == bool(result.hidden)


def test_the_serve_page_ranks_and_states_its_order_as_leaderboard_does(filled):
    """``serve``'s leaderboard page: the runs in ``leaderboard --all-rules``'s order, ``#`` restarting for each set
    of items as ``rank`` does in ``--json``, and the line above the table stating the ranking rule."""
    from leaderboard.ranking_rule import RANKING_RULE
    from leaderboard.serve.pages import ServedUrls, render
    from leaderboard.serve.views import leaderboard_page

    _, board = filled
    page = leaderboard_page(board)
    rows = ranking(board, RankingRequest(all_rules=True)).to_json()
    assert [(run["name"], run["rank"]) for run in page.runs] == [(row["name"], row["rank"]) for row in rows]
    assert [row["rank"] for row in rows] == [1, 2, 1, 1]  # dev's two runs, then test's, then the run without a dataset
    shown = render("leaderboard.html", ServedUrls(), board.where, page=page)
    assert re.findall(r'<td data-key="rank" data-value="([0-9]+)">', shown) == ["1", "2", "1", "1"]
    assert re.search(r'<span id="sort-state"[^>]*>([^<]*)</span>', shown)[1] == page.order
    assert page.order.startswith(RANKING_RULE)


def test_items_and_comparison_from_python_equal_show_and_compare(filled, cli):
    url, board = filled
    code, out, err = cli("show", "tuned", "--worst", "16", "--json", "--db", url)
    assert code == 0, err
    shown = json.loads(out)
    detail = run_detail(board, RunDetailRequest("tuned", worst=16))
    assert shown == detail.to_json()
    # the items as read from Python: every one of them, typed, with show's numbers
    items = board.items(board.get("tuned"))
    assert all(isinstance(item, ItemRecord) for item in items) and len(items) == 16
    by_id = {row["item_id"]: row for row in shown["worst_items"]}
    for item in items:
        assert {metric: by_id[item.item_id][metric] for metric in METRIC_NAMES} == item.scores
        assert (item.counted, item.prediction) == (by_id[item.item_id]["counted"], by_id[item.item_id]["prediction"])
    # the worst first: each item's own Final, non-decreasing
    worst = detail.worst_items
    assert [item.final for item in worst] == sorted(item.final for item in worst)
    code, out, err = cli("compare", "base", "tuned", "--json", "--db", url)
    assert code == 0, err
    compared = comparison(board, "base", "tuned")
    assert json.loads(out) == compared.to_json()
    assert compared.won + compared.lost + compared.tied == 16 and compared.decided_by == "final_score"
    with pytest.raises(MalpyeongError, match="different data"):
        comparison(board, "base", "elsewhere")


def test_requests_check_themselves_in_the_flags_words():
    for make, words in [
        (lambda: RankingRequest(top=0), "Invalid value for '--top': 0 is not in the range x>=1."),
        (lambda: RunDetailRequest("x", worst=-1), "Invalid value for '--worst': -1"),
        (lambda: ExportRequest(format="xlsx"), "unknown --format 'xlsx'; choose from csv, md, html, json, site"),
        (lambda: ExportRequest(format="site"), "--format site writes a folder: give -o DIR"),
        (lambda: ExportRequest(format="site", output=Path("d"), run="a"), "and no --run"),
        (lambda: CurveRequest(), "give --tag or --prefix"),
    ]:
        with pytest.raises(MalpyeongError) as raised:
            make()
        assert words in str(raised.value)


def test_export_rescore_and_plot_from_python_equal_the_commands(filled, tmp_path, cli):
    url, board = filled
    code, out, err = cli("plot", "--prefix", "tune", "-o", str(tmp_path / "cli.png"), "--json", "--db", url)
    assert code == 0, err
    curve = training_curve(board, CurveRequest(output=tmp_path / "api.png", prefix="tune"))
    assert {**json.loads(out), "plot": None} == {**curve.to_json(), "plot": None} and curve.path.stat().st_size > 0
    assert [run["step"] for run in curve.to_json()["runs"]] == [10]
    code, out, _ = cli("export", "--format", "json", "--run", "base", "--db", url)
    assert code == 0 and json.loads(out) == json.loads(export_board(board, ExportRequest(format="json", run="base")).text or "")
    written = tmp_path / "board.csv"
    exported = export_board(board, ExportRequest(output=written))
    assert exported.written == written and written.read_bytes().startswith(b"\xef\xbb\xbf")  # a BOM, as the command writes
    # rescore: the command on one copy of a board, the function on another: the same outcome
    items = [ItemScore(id=str(i), question_type="선택형", prediction=f'"가{i}"가 옳다. 이유 {i}', answer_clause=f'"가{i}"가 옳다',
                       reason=f"이유 {i}", gold='"가1"가 옳다. 이유 1', counted=True, exact_match=0.0)  # EM only: no model, no tagger
             for i in range(4)]
    by_command, by_function = tmp_path / "by-command.db", tmp_path / "by-function.db"
    board = Leaderboard(str(by_command))
    board.record(result_of(items, config={"exact_match": "exact_match(old)"}), name="em-only")
    board.engine.dispose()
    _execute(by_command, "UPDATE runs SET scoring_rules = NULL")  # every connection closed: the WAL is in the file
    shutil.copyfile(by_command, by_function)
    code, out, err = cli("rescore", "--json", "--db", str(by_command))
    assert code == 0, err
    outcomes = [json.loads(out), rescore_runs(Leaderboard(str(by_function)), RescoreRequest()).to_json()]
    assert outcomes[0] == outcomes[1] and [entry["name"] for entry in outcomes[1]["rescored"]] == ["em-only"]
    assert (outcomes[1]["rescored"][0]["old"]["exact_match"], outcomes[1]["rescored"][0]["new"]["exact_match"]) == (0.0, 0.25)


def test_results_render_escaped_in_a_notebook_and_inert_in_a_terminal(tmp_path):
    from malpyeong_eval.display import rendered_text

    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")
    evil = "<script>alert(1)</script>\x1b[2J[bold]x[/bold]"
    board.record(make_result(5, n=6), name=evil)
    html = ranking(board)._repr_html_()
    assert "&lt;script&gt;" in html and "<script>" not in html
    detail = run_detail(board, evil)
    assert "&lt;b&gt;굵게&lt;/b&gt;" in detail._repr_html_()  # the model's reasons, escaped
    text = rendered_text(detail)
    assert "\x1b" not in text and "\\x1b[2J" in text and "[bold]x[/bold]" in text  # visible, not obeyed
    assert "worst 5 items" in text and "configuration" in text and "rouge1(test)" in text


# -- damaged rows: one line for each command, a 500 page for serve -------------------------------------------

DAMAGES = {
    "a list as the decoding settings": ("UPDATE runs SET generation = '[1,2]'", "generation: Input should be a valid dictionary"),
    "a text exact_match": ("UPDATE item_results SET exact_match = 'abc' WHERE position = 3",
                           "scores.exact_match: Input should be a valid number (found str)"),
    "a text count of a group": ("UPDATE group_metrics SET n = 'many'", ": n: Input should be a valid integer"),
    "a number as the date": ("UPDATE runs SET created_at = 5", "fromisoformat"),
}
COMMANDS = {  # what each command reads: the damages it must notice
    "leaderboard": (["leaderboard"], ("a list as the decoding settings", "a number as the date")),
    "show": (["show", "kept"], tuple(DAMAGES)),
    "export": (["export", "--format", "csv", "--run", "kept"], ("a list as the decoding settings", "a text exact_match")),
    "export site": (["export", "--format", "site", "-o", "{site}"], tuple(DAMAGES)),
    "rescore": (["rescore", "kept"], ("a list as the decoding settings", "a text exact_match")),
    "compare": (["compare", "kept", "other"], ("a text exact_match",)),
}


def _rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return [row for table in ("runs", "group_metrics", "item_results") for row in connection.execute(f"SELECT * FROM {table}")]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_damaged_row_is_one_line_for_each_command(command, pristine, tmp_path, cli):
    arguments, damages = COMMANDS[command]
    for damage in damages:
        sql, where = DAMAGES[damage]
        folder = tmp_path / damage.replace(" ", "-")
        folder.mkdir()
        path = _copy(pristine, folder, sql)
        before = _rows(path)
        args = [argument.format(site=folder / "site") for argument in arguments]
        result = cli(*args, "--db", str(path))
        _one_line_refusal(result, "(a damaged database?)", where)
        assert _rows(path) == before, damage  # a refused rescore changed nothing


def _get(app, target: str) -> tuple[int, dict[str, str], str]:
    """One GET of ``target`` (path and query) through the ASGI app itself: status, headers, body."""
    path, _, query = target.partition("?")
    messages: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8765)}
    asyncio.run(app(scope, receive, send))
    start = next(message for message in messages if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return start["status"], {key.decode(): value.decode() for key, value in start["headers"]}, body.decode()


@pytest.mark.parametrize("damage, path", [("a list as the decoding settings", "/"), ("a text exact_match", "/run/1"),
                                          ("a text exact_match", "/compare?run=1&run=2")])
def test_serve_answers_a_damaged_row_with_a_500_page_and_its_headers(damage, path, pristine, tmp_path):
    from leaderboard.serve.app import SECURITY_HEADERS, create_app

    board = Leaderboard(str(_copy(pristine, tmp_path, DAMAGES[damage][0])), read_only=True)
    with pytest.raises(DamagedDatabase, match=re.escape(DAMAGES[damage][1])):  # from Python: the same error, typed
        run_detail(board, "kept")
    status, headers, body = _get(create_app(board), path)
    assert status == 500 and "damaged database" in body and DAMAGES[damage][1] in body
    assert {key: headers.get(key) for key in SECURITY_HEADERS} == SECURITY_HEADERS


# -- the item page ----------------------------------------------------------------------------------------------


def test_an_item_page_shows_what_the_item_named_and_no_spurious_fields(tmp_path):
    """Every field an item record has is a known one: the page lists no "other recorded fields" (a stale
    list of known fields once left the choice fields out, and every item of a citing run showed them)."""
    from leaderboard.serve.pages import ServedUrls, render
    from leaderboard.serve.views import ItemSources, run_page

    board = Leaderboard(f"sqlite:///{tmp_path / 'b.db'}")
    items = [ItemScore(id=str(i), question_type="선택형", prediction=f'"가"가 옳다. 이유\n근거: [{i + 1}]', answer_clause='"가"가 옳다',
                       reason="이유", gold='"가"가 옳다. 이유', counted=True, exact_match=1.0, context_selection=float(i == 0),
                       citation=f"[{i + 1}]", cited=i + 1, cited_title=f"제{i + 1}항 조항", gold_article="제1항 조항")
             for i in range(2)]
    board.record(result_of(items), name="citing")
    page = render("run.html", ServedUrls(), board.where, page=run_page(board, "citing", ItemSources()))
    assert "other recorded fields" not in page
    assert page.count('<pre class="named-rule">') == 2 and "제2항 조항" in page  # what each item named
    assert page.count("gold rule") == 2  # judged against: stored with the item, shown without the data file
