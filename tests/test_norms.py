"""Scores by norm: ``show``, ``compare``, ``leaderboard --by``, ``export --by`` and the site's run page,
on two runs recorded with ``score`` on the packaged sample (two of its items' rules removed).

The hand counts group the items by their data's ``output.article`` with plain string operations and
average the stored per-item scores the organizers' way (EM over all, ROUGE-1 over the counted): a
check of the grouping and the per-group aggregation, not of the metrics (tested elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from malpyeong_eval.data import sample_path

UNLABELLED = {"1", "6"}  # items whose rule is removed: counted apart


@pytest.fixture(scope="module")
def board(tmp_path_factory, run_cli) -> tuple[str, Path, list[dict]]:
    """A database with run ``a`` (the sample submission) and run ``b`` (the gold answers) on DATA."""
    folder = tmp_path_factory.mktemp("norms")
    records = json.loads(sample_path("gold").read_text(encoding="utf-8"))
    for record in records:
        if str(record["id"]) in UNLABELLED:
            del record["output"]["article"]
    data = folder / "labelled.json"
    data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    db = f"sqlite:///{folder / 'board.db'}"
    for name, submission in (("a", sample_path("submission")), ("b", data)):
        code, _, err = run_cli("score", str(submission), "--gold", str(data), "--metrics", "em,rouge1", "--record",
                               "--name", name, "--db", db)
        assert code == 0, err
    return db, folder, records


def hand_groups(records: list[dict], items: list[dict], by: str) -> dict[str, dict]:
    """n, counted, EM and ROUGE-1 of each group of the stored items, grouped by the data's rules."""
    rules = {str(record["id"]): record["output"].get("article") for record in records}
    groups: dict[str, list[dict]] = {}
    for item in items:
        rule = rules[item["item_id"]]
        if rule is not None:
            name = rule.strip("<>") if by == "rule" else rule.strip("<>").split(" - ")[0]
            groups.setdefault(name, []).append(item)
    return {name: {"n": len(group), "n_counted": sum(item["counted"] for item in group),
                   "exact_match": sum(item["exact_match"] for item in group) / len(group),
                   "rouge1": sum(item["rouge1"] for item in group if item["counted"]) / max(1, sum(item["counted"] for item in group))}
            for name, group in groups.items()}


def stored_items(cli, db: str, run: str) -> list[dict]:
    code, out, err = cli("export", "--run", run, "--format", "json", "--db", db)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.parametrize("by", ["category", "rule"])
def test_show_by_norm_equals_the_hand_count_and_every_view_gives_the_same(board, cli, by):
    db, folder, records = board
    items = stored_items(cli, db, "a")
    assert {item["item_id"] for item in items if item["gold_article"] is None} == UNLABELLED  # the rule is kept per item
    code, out, err = cli("show", "a", "--by", by, "--json", "--db", db)
    assert code == 0, err
    by_norm = json.loads(out)["by_norm"]
    expected = hand_groups(records, items, by)
    assert by_norm["by"] == by and [group["norm"] for group in by_norm["groups"]] == sorted(expected)
    for group in by_norm["groups"]:
        hand = expected[group["norm"]]
        assert (group["n"], group["n_counted"]) == (hand["n"], hand["n_counted"])
        assert group["exact_match"] == pytest.approx(hand["exact_match"]) and group["rouge1"] == pytest.approx(hand["rouge1"])
    apart = [item for item in items if item["item_id"] in UNLABELLED]
    assert by_norm["without_rule"]["n"] == 2
    assert by_norm["without_rule"]["exact_match"] == pytest.approx(sum(item["exact_match"] for item in apart) / 2)
    if by == "category":
        assert len(expected) == 4 and [expected[name]["n"] for name in ("한글 맞춤법, 표준어 규정", "띄어쓰기")] == [29, 3]  # 30 and 4, one removed each

    code, out, _ = cli("leaderboard", "--by", by, "--json", "--db", db)  # the leaderboard's JSON: the same breakdown
    assert code == 0 and {row["name"]: row["by_norm"] for row in json.loads(out)}["a"] == by_norm
    code, out, _ = cli("export", "--by", by, "--run", "a", "--format", "json", "--db", db)
    assert code == 0 and json.loads(out) == [{"run_id": 1, "run": "a", "by": by, **group}
                                             for group in [*by_norm["groups"], by_norm["without_rule"]]]


def test_the_screens_say_what_is_counted_apart_and_the_site_shows_the_table(board, cli):
    db, folder, records = board
    code, out, _ = cli("show", "a", "--db", db, "--worst", "0")
    assert code == 0 and "by norm category" in out and "(no rule)" in out
    assert "2 items carry no rule (output.article): counted apart" in " ".join(out.split())
    code, out, _ = cli("leaderboard", "--by", "category", "--db", db)
    assert code == 0 and "외래어 표기법" in out and "(no rule)" in out
    code, _, err = cli("export", "--format", "site", "-o", str(folder / "site"), "--db", db)
    assert code == 0, err
    [page] = [path for path in (folder / "site").rglob("*.html") if "<h1>run <span id=\"run-name\">a</span>" in path.read_text(encoding="utf-8")]
    html = page.read_text(encoding="utf-8")
    table = html.split('<table id="norms">', 1)[1].split("</table>", 1)[0]
    assert [name in table for name in ("띄어쓰기", "문장 부호", "외래어 표기법", "한글 맞춤법, 표준어 규정", "(no rule)")] == [True] * 5


def test_compare_by_norm_has_paired_bootstrap_intervals_per_group(board, cli):
    db, _, records = board
    code, out, err = cli("compare", "a", "b", "--json", "--db", db)
    assert code == 0, err
    result = json.loads(out)
    hand_a, hand_b = (hand_groups(records, stored_items(cli, db, run), "category") for run in ("a", "b"))
    groups = {group["norm"]: group for group in result["by_norm"]["groups"]}
    assert set(groups) == set(hand_a) and result["by_norm"]["without_rule"]["n"] == 2
    for name, group in groups.items():
        assert group["n"] == hand_a[name]["n"]
        for metric in ("exact_match", "rouge1"):
            delta = group["deltas"][metric]
            assert delta["delta"] == pytest.approx(hand_b[name][metric] - hand_a[name][metric])
            assert delta["ci_low"] <= delta["delta"] <= delta["ci_high"]
    big = groups["한글 맞춤법, 표준어 규정"]["deltas"]["exact_match"]
    assert 0 < big["ci_low"] < big["ci_high"]  # B (the gold answers) wins there, and the interval is a real one
    code, out, _ = cli("compare", "a", "b", "--by", "rule", "--json", "--db", db)
    assert code == 0 and "한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항" in {g["norm"] for g in json.loads(out)["by_norm"]["groups"]}
    code, out, _ = cli("compare", "a", "b", "--db", db)
    assert code == 0 and "by norm category (paired bootstrap, 95%" in out


def test_rescore_keeps_each_items_rule_and_measures_no_selection(board, cli):
    db, _, _ = board
    code, before, _ = cli("show", "a", "--json", "--db", db)
    code, _, err = cli("rescore", "a", "--db", db)
    assert code == 0, err
    code, after, _ = cli("show", "a", "--json", "--db", db)
    assert json.loads(after)["by_norm"] == json.loads(before)["by_norm"]
    items = stored_items(cli, db, "a")
    assert sum(item["gold_article"] is not None for item in items) == 38
    assert all(item["context_selection"] is None and item["citation"] is None for item in items)


def test_an_unknown_grouping_is_one_line(board, cli):
    db, _, _ = board
    for command in (["show", "a"], ["compare", "a", "b"], ["leaderboard"], ["export"]):
        code, out, err = cli(*command, "--by", "chapter", "--db", db)
        assert (code, out, err.strip()) == (2, "", "error: unknown --by 'chapter'; choose from category, rule")
