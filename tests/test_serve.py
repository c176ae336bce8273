"""``malpyeong-eval serve`` and ``export --format site``: a real server on loopback over a database filled
by real ``score --record`` and ``run`` calls, driven by a real headless Chromium (Selenium, Debian's
chromium and chromium-driver). Screenshots of each page go to a tmp folder (and to docs/images with
MALPYEONG_UPDATE_SCREENSHOTS=1)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from cli_support import run_cli
from malpyeong_eval.data import sample_path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
# A prediction that would run script if any page put it into the DOM as markup.
EVIL = '"><img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
EVIL_NAME = 'evil<script>window.__pwned=3</script>"><img src=x onerror="window.__pwned=4">'

README_SHOTS = ("leaderboard", "run")  # the copies kept in docs/images
pytestmark = pytest.mark.slow


def _cli(*args: str, cwd: Path) -> str:
    """``malpyeong-eval ARGS`` in-process, in ``cwd``; its stdout (a failure shows its stderr). The
    server under test is a process of its own (``server``); what fills its database need not be."""
    code, out, err = run_cli(*args, cwd=cwd)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def filled(tmp_path_factory, tiny_policy) -> dict:
    """A leaderboard with the sample, an evil submission and two checkpoints of the tiny policy."""
    work = tmp_path_factory.mktemp("serve")
    db = str(work / "board.db")
    gold = str(sample_path("gold"))
    items = json.loads(sample_path("submission").read_text(encoding="utf-8"))
    for index, item in enumerate(items[:6]):  # half with a reason, so the reason metrics see it too
        item["output"]["answer"] = EVIL + ("가 옳다. 이유 <b>굵게</b> " + EVIL if index % 2 else "")
    (work / "evil.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    _cli("score", "--sample", "--metrics", "em,rouge1", "--record", "--name", "sample-v1", "--tag", "sample", "--db", db, cwd=work)
    _cli("score", "evil.json", "--gold", gold, "--metrics", "em,rouge1", "--record", "--name", EVIL_NAME, "--tag", "sample",
         "--db", db, cwd=work)
    training = work / "tiny-train"
    for step in (2, 4):
        shutil.copytree(tiny_policy, training / f"checkpoint-{step}")
        (training / f"checkpoint-{step}" / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    _cli("run", str(training), "--limit", "4", "--max-new-tokens", "16", "--metrics", "em,rouge1", "--tag", "tiny",
         "--runs-dir", str(work / "runs"), "--db", db, cwd=work)
    board = json.loads(_cli("leaderboard", "--json", "--db", db, cwd=work))
    return {"work": work, "db": db, "board": board, "runs": work / "runs"}


@pytest.fixture(scope="module")
def server(filled):
    """``malpyeong-eval serve --port 0`` as a process: it binds a free loopback port before it prints the line
    naming it (issue 29: it printed the port asked for, 0, and bound later), so the line's port answers."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "malpyeong_eval", "serve", "--db", filled["db"], "--port", "0", "--runs-dir", str(filled["runs"])],
        cwd=filled["work"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    announced = process.stderr.readline() if process.stderr else ""  # the first line, or "" when it exits first
    found = re.search(r"read-only on http://127\.0\.0\.1:([0-9]+)/", announced)
    if not found or found.group(1) == "0":
        process.kill()
        pytest.fail(f"serve did not name the port it bound: {announced!r} {process.communicate()[1]}")
    base = f"http://127.0.0.1:{found.group(1)}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(base + "/", timeout=5) as response:
                if response.status == 200:
                    break
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"serve did not start: {process.communicate()[1]}")
        time.sleep(0.3)
    yield base
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium through chromedriver, offline, a fresh profile."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("CI must install chromium and chromium-driver (see .ci/run)")
        pytest.skip("Chromium is absent: apt-get install chromium chromium-driver to run the browser tests")
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def screenshot(driver, shots: Path, name: str) -> Path:
    """A full-page PNG for a person to look at; copied to docs/images when MALPYEONG_UPDATE_SCREENSHOTS=1."""
    height = driver.execute_script("return Math.min(document.body.scrollHeight, 2400)")
    driver.set_window_size(1400, max(700, height))
    path = shots / f"serve-{name}.png"
    assert driver.save_screenshot(str(path)) and path.stat().st_size > 1000
    if os.environ.get("MALPYEONG_UPDATE_SCREENSHOTS") == "1" and name in README_SHOTS:
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, ROOT / "docs" / "images" / path.name)
    driver.set_window_size(1400, 1000)
    return path


def _by(css: str):
    from selenium.webdriver.common.by import By

    return By.CSS_SELECTOR, css


def visible_rows(driver, css: str) -> list:
    return [row for row in driver.find_elements(*_by(css)) if row.is_displayed()]


def assert_nothing_ran(driver) -> None:
    assert driver.execute_script("return window.__pwned === undefined"), "a model output or run name ran as script"
    assert not driver.find_elements(*_by("img")), "a model output became an element"


def test_leaderboard_lists_runs_in_the_stated_order(server, browser, filled, shots):
    from leaderboard.serve.views import RUNS_ORDER

    browser.get(server + "/")
    state = browser.find_element(*_by("#sort-state")).text
    assert state == RUNS_ORDER  # the ranking rule, as leaderboard states it
    assert browser.find_element(*_by("#where")).text == "sqlite:///board.db"  # the server's folder holds it: no temporary path
    names = [row.find_element(*_by("td[data-key=name]")).get_attribute("data-value") for row in visible_rows(browser, "#runs tbody tr")]
    assert names == [row["name"] for row in filled["board"]]  # the terminal's order (leaderboard/ranking_rule.py)
    ems = [row["exact_match"] for row in filled["board"]]
    assert ems == sorted(ems, reverse=True) and len(names) == 4
    assert_nothing_ran(browser)
    screenshot(browser, shots, "leaderboard")

    header = browser.find_element(*_by("#runs th[data-key=rouge1]"))
    for direction in ("descending", "ascending"):
        header.click()
        assert browser.find_element(*_by("#sort-state")).text == f"sorted by ROUGE-1, {direction} (empty values last)"
        values = [float(row.find_element(*_by("td[data-key=rouge1]")).get_attribute("data-value"))
                  for row in visible_rows(browser, "#runs tbody tr")]
        assert values == sorted(values, reverse=direction == "descending") and len(set(values)) > 1

    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(*_by("#f-tag"))).select_by_visible_text("tiny")
    shown = [row.find_element(*_by("td[data-key=name]")).get_attribute("data-value") for row in visible_rows(browser, "#runs tbody tr")]
    assert sorted(shown) == sorted(row["name"] for row in filled["board"] if row["step"] is not None)
    assert len(shown) == 2 and browser.find_element(*_by("#shown-count")).text == "2 runs shown"


def test_a_filter_narrows_the_items_and_a_row_opens_the_item(server, browser, filled, shots):
    items = json.loads(_cli("export", "--format", "json", "--run", "sample-v1", "--db", filled["db"], cwd=filled["work"]))
    record = json.loads(_cli("show", "sample-v1", "--json", "--worst", "0", "--db", filled["db"], cwd=filled["work"]))["run"]
    browser.get(f"{server}/run/{record['id']}")
    assert len(visible_rows(browser, "#items tr.item")) == len(items) == 40
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element(*_by("#i-em"))).select_by_value("0")
    wrong = [row["item_id"] for row in items if row["exact_match"] == 0]
    shown = [row.get_attribute("data-item") for row in visible_rows(browser, "#items tr.item")]
    assert shown == wrong and 0 < len(wrong) < 40
    assert browser.find_element(*_by("#items-count")).text == f"{len(wrong)} of 40 items"
    Select(browser.find_element(*_by("#i-em"))).select_by_value("")
    target = items[7]
    browser.find_element(*_by("#i-search")).send_keys(target["gold"][1:12])
    shown = [row.get_attribute("data-item") for row in visible_rows(browser, "#items tr.item")]
    assert target["item_id"] in shown and len(shown) < 40
    row = browser.find_element(*_by(f'#items tr.item[data-item="{target["item_id"]}"]'))
    row.click()
    detail = browser.find_element(*_by(f'#items tr.detail[data-for="{target["item_id"]}"]'))
    assert detail.is_displayed()
    from malpyeong_eval.parsing import split_answer

    assert detail.find_element(*_by(".gold-clause")).text == split_answer(target["gold"]).clause
    assert detail.find_element(*_by(".pred-clause")).text == target["answer_clause"]
    assert detail.find_element(*_by(".pred-reason")).text == (target["reason"] or "(none: not counted)")
    question = json.loads(sample_path("gold").read_text(encoding="utf-8"))[7]["input"]["question"]
    assert detail.find_element(*_by(".question pre")).text == question.strip()
    screenshot(browser, shots, "run")


def test_a_run_of_checkpoints_shows_the_prompt_it_read(server, browser, filled):
    tiny = next(row for row in filled["board"] if row["step"] == 4)
    record = json.loads(_cli("show", tiny["name"], "--json", "--worst", "0", "--db", filled["db"], cwd=filled["work"]))["run"]
    browser.get(f"{server}/run/{record['id']}")
    rows = visible_rows(browser, "#items tr.item")
    assert len(rows) == 4
    rows[0].click()
    item_id = rows[0].get_attribute("data-item")
    prompt = browser.find_element(*_by(f'tr.detail[data-for="{item_id}"] pre.prompt')).get_attribute("textContent")
    stored = {json.loads(line)["id"]: json.loads(line) for folder in filled["runs"].iterdir() if "checkpoint-4" in folder.name
              for line in (folder / "generations.jsonl").read_text(encoding="utf-8").splitlines()}
    assert prompt == stored[item_id]["prompt"] and "[질문]" in prompt


def test_a_comparison_shows_the_em_flips_compare_reports(server, browser, filled, shots):
    reported = json.loads(_cli("compare", "sample-v1", EVIL_NAME, "--json", "--db", filled["db"], cwd=filled["work"]))
    assert reported["em_flips"]
    browser.get(server + "/")
    for name in ("sample-v1", EVIL_NAME):
        row = next(r for r in browser.find_elements(*_by("#runs tbody tr"))
                   if r.find_element(*_by("td[data-key=name]")).get_attribute("data-value") == name)
        row.find_element(*_by("input.pick-run")).click()
    browser.find_element(*_by("#compare-selected")).click()
    assert "/compare?" in browser.current_url
    flipped = {row.get_attribute("data-item") for row in browser.find_elements(*_by("#compare-items tr.flip"))}
    assert {flip["item_id"] for flip in reported["em_flips"]} <= flipped
    deltas = {row.get_attribute("data-key"): row for row in browser.find_elements(*_by("table.deltas tr[data-key]"))}
    for metric, values in reported["deltas"].items():
        assert deltas[metric].find_element(*_by("td.delta")).text == f"{values['delta']:+.4f}"
        assert deltas[metric].find_element(*_by("td.ci")).text == f"[{values['ci_low']:+.4f}, {values['ci_high']:+.4f}]"
    browser.find_element(*_by("#changed-only")).click()
    shown = visible_rows(browser, "#compare-items tbody tr")
    assert flipped <= {row.get_attribute("data-item") for row in shown} and len(shown) < 40
    assert all(row.get_attribute("data-em-flip") == "1" or float(row.get_attribute("data-max-move")) > 0.1 for row in shown)
    assert_nothing_ran(browser)
    screenshot(browser, shots, "compare")


def test_model_outputs_and_run_names_execute_nothing(server, browser, filled):
    record = json.loads(_cli("show", EVIL_NAME, "--json", "--worst", "0", "--db", filled["db"], cwd=filled["work"]))["run"]
    browser.get(f"{server}/run/{record['id']}")
    assert browser.find_element(*_by("#run-name")).text == EVIL_NAME
    for row in browser.find_elements(*_by("#items tr.item"))[:6]:
        row.click()
    texts = [pre.text for pre in browser.find_elements(*_by("pre.prediction-full")) if pre.is_displayed()]
    assert len(texts) == 6 and all(text.startswith(EVIL) for text in texts)
    assert_nothing_ran(browser)
    source = browser.page_source
    assert "<script>window.__pwned" not in source and EVIL_NAME not in source


def test_training_curve(server, browser, filled, shots):
    browser.get(server + "/curve?tag=tiny")
    series = browser.find_elements(*_by("svg#curve g.series"))
    assert {s.get_attribute("data-key") for s in series} >= {"exact_match", "rouge1"}
    assert all(len(s.find_elements(*_by("circle"))) == 2 for s in series)
    rows = browser.find_elements(*_by("#curve-values tbody tr"))
    steps = sorted((row for row in filled["board"] if row["step"] is not None), key=lambda row: row["step"])
    assert [row.find_element(*_by("td")).text for row in rows] == [str(row["step"]) for row in steps]
    for row, expected in zip(rows, steps, strict=True):
        assert row.find_element(*_by("td[data-key=rouge1]")).text == f"{expected['rouge1']:.4f}"
    screenshot(browser, shots, "curve")


def test_new_runs_appear_on_reload(server, browser, filled):
    browser.get(server + "/")
    before = len(browser.find_elements(*_by("#runs tbody tr")))
    _cli("score", "--sample", "--metrics", "em", "--record", "--name", "recorded-while-serving", "--db", filled["db"], cwd=filled["work"])
    browser.refresh()
    names = [cell.get_attribute("data-value") for cell in browser.find_elements(*_by("#runs td[data-key=name]"))]
    assert len(names) == before + 1 and "recorded-while-serving" in names


def _tables(text: str) -> list[str]:
    """The text of each table of a page (tags stripped, whitespace collapsed): its numbers."""
    tables = re.findall(r"<table.*?</table>", text, flags=re.S)
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", table))).strip() for table in tables]


def test_static_site_holds_the_same_numbers_and_works_from_files(server, browser, filled, shots):
    site = filled["work"] / "site"
    _cli("export", "--format", "site", "-o", str(site), "--db", filled["db"], "--runs-dir", str(filled["runs"]), cwd=filled["work"])
    served = {}
    with urllib.request.urlopen(server + "/") as response:
        served["index.html"] = response.read().decode("utf-8")
    ids = re.findall(r'href="/run/(\d+)"', served["index.html"])
    assert len(ids) >= 4
    for run in ids:
        with urllib.request.urlopen(f"{server}/run/{run}") as response:
            served[f"run/{run}.html"] = response.read().decode("utf-8")
    with urllib.request.urlopen(server + "/curve?tag=tiny") as response:
        served[next(p.relative_to(site).as_posix() for p in (site / "curve").glob("tiny-*.html"))] = response.read().decode("utf-8")
    with urllib.request.urlopen(server + "/compare?tag=sample") as response:
        served[next(p.relative_to(site).as_posix() for p in (site / "compare").glob("sample-*.html"))] = response.read().decode("utf-8")
    for relative, page in served.items():
        written = (site / relative).read_text(encoding="utf-8")
        assert _tables(written) == _tables(page) and _tables(page), relative
    browser.get((site / "index.html").as_uri())  # no server: the file itself, its script beside it
    assert len(browser.find_elements(*_by("#runs tbody tr"))) == len(ids)
    browser.find_element(*_by("#runs th[data-key=exact_match]")).click()
    assert browser.find_element(*_by("#sort-state")).text == "sorted by EM, descending (empty values last)"
    browser.find_element(*_by("a.run-link")).click()
    assert browser.current_url.startswith("file://") and browser.find_elements(*_by("#items tr.item"))
    assert_nothing_ran(browser)


def test_serve_bad_input_is_one_line(tmp_path, cli):
    missing = tmp_path / "none.db"
    for args, message in (
        (("serve", "--db", str(missing)), f"no leaderboard database at {missing} (record a run first, or give --db)"),
        (("serve", "--db", str(missing), "--port", "70000"), "--port 70000: choose a port from 0 to 65535"),
        (("export", "--format", "site", "--db", str(missing)), "--format site writes a folder: give -o DIR (and no --run: every run gets its page)"),
        (("export", "--format", "pdf"), "unknown --format 'pdf'; choose from csv, md, html, json, site"),
    ):
        code, out, err = cli(*args)
        assert code == 2 and err.strip() == f"error: {message}", (args, err)
    assert not missing.exists()  # read-only: nothing created


def test_serve_refuses_a_busy_port_and_warns_off_loopback(tmp_path, cli):
    db = tmp_path / "board.db"
    code, _, err = cli("score", "--sample", "--metrics", "em", "--record", "--name", "one", "--db", str(db))
    assert code == 0
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        code, _, err = cli("serve", "--db", str(db), "--port", str(busy.getsockname()[1]))
    assert code == 2 and err.strip().startswith("error: cannot listen on 127.0.0.1:") and len(err.strip().splitlines()) == 1
    code, _, err = cli("serve", "--db", str(db), "--host", "192.0.2.1", "--port", "8765")  # TEST-NET: not this machine
    assert code == 2 and err.startswith("warning: serving on 192.0.2.1, not loopback")
    assert err.strip().splitlines()[-1].startswith("error: cannot listen on 192.0.2.1:8765")


def test_read_only_leaderboard_writes_nothing(tmp_path, cli):
    from leaderboard.db import DatabaseError
    from leaderboard.store import Leaderboard

    sys.path.insert(0, str(Path(__file__).parent))
    from leaderboard_support import make_result

    db = tmp_path / "board.db"
    assert cli("score", "--sample", "--metrics", "em", "--record", "--name", "one", "--db", str(db))[0] == 0
    board = Leaderboard(str(db), read_only=True)
    assert [run.name for run in board.runs()] == ["one"]
    with pytest.raises(DatabaseError, match="readonly"):
        board.record(make_result(1), name="two")
    assert [run.name for run in Leaderboard(str(db)).runs()] == ["one"]


def test_no_password_on_any_page():
    """On PostgreSQL (CI's server), the pages name the database with its password masked."""
    sys.path.insert(0, str(Path(__file__).parent))
    from leaderboard_support import make_result, postgres_url
    from sqlalchemy.engine import make_url

    from leaderboard.db import DatabaseError
    from leaderboard.serve.pages import ServedUrls, render
    from leaderboard.serve.views import ItemSources, leaderboard_page, run_page
    from leaderboard.store import Leaderboard

    url = postgres_url()
    Leaderboard(url).record(make_result(3), name="pg-run")
    board = Leaderboard(url, read_only=True)
    pages = [render("leaderboard.html", ServedUrls(), board.where, page=leaderboard_page(board)),
             render("run.html", ServedUrls(), board.where, page=run_page(board, "pg-run", ItemSources()))]
    password = make_url(url).password
    assert password, "the test server's URL should carry a password"
    assert all(str(password) not in page and "***" in page for page in pages)
    with pytest.raises(DatabaseError, match="read-only"):
        board.record(make_result(4), name="pg-write")
