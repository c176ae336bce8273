"""What each page shows, as plain data read through the store (the app and the static site render these).

Every metric column comes from the registry (:mod:`malpyeong_eval.metrics.registry`) through the
runs' ``metrics``: a metric added there appears on every page without a change here. Nothing in
this module writes to the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from malpyeong_eval.data import load_data, sample_path
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import (
    COLUMN_NAMES,
    FINAL_METRICS,
    LABELS,
    METRIC_NAMES,
    REASON_METRICS,
    SUMMARY_NAMES,
)
from malpyeong_eval.norms import NO_RULE, NormBreakdown
from malpyeong_eval.parsing import split_answer
from malpyeong_eval.prompts import EXTRA_HEADER
from malpyeong_eval.submission import Generation, generation_files, read_generations, run_folder_prefix

from ..reading import RankingRequest, RunDetailRequest, ranking, run_detail
from ..compare import HEADLINE, compare_runs
from ..ranking_rule import RANKING_RULE, by_dataset
from ..records import GroupRecord, ItemRecord, RunRecord, runs_of_training
from ..store import Leaderboard

# The first of an item's recorded choice fields that is non-empty is shown as "the rule it named"
# (the candidate's title, else the citation line as the model wrote it); none: the page says so.
NAMED_RULE_FIELDS = ("cited_title", "citation")
DEFAULT_MOVE_THRESHOLD = 0.1  # a reason metric moving more than this marks an item as changed
# the leaderboard page's order, said above its table until a header is clicked
RUNS_ORDER = f"{RANKING_RULE}; each set of items (dataset and item count) ranked on its own"


def metric_columns(runs: Iterable[RunRecord]) -> list[tuple[str, str]]:
    """``(key, label)`` of every registry column at least one of ``runs`` has a value for, in the
    terminal's order: the metrics of Final, Desc. Avg and Final, then any other (EM lenient, a new metric)."""
    runs = list(runs)
    order = [*FINAL_METRICS, *SUMMARY_NAMES, *(name for name in COLUMN_NAMES if name not in (*FINAL_METRICS, *SUMMARY_NAMES))]
    present = [key for key in order if any(run.metrics.get(key) is not None for run in runs)]
    return [(key, LABELS[key]) for key in present] or [(key, LABELS[key]) for key in (*FINAL_METRICS, *SUMMARY_NAMES)]


def item_metric_columns(items: Iterable[ItemRecord]) -> list[tuple[str, str]]:
    """The per-item registry metrics some of ``items`` has a value for."""
    items = list(items)
    return [(key, LABELS[key]) for key in METRIC_NAMES if any(item.score(key) is not None for item in items)]


def slug(text: str) -> str:
    """A file-name-safe form of ``text`` (tags and names in the static site's paths)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"
    return cleaned[:80]


def run_summary(run: RunRecord) -> dict[str, Any]:
    """A run's leaderboard row."""
    return {
        "id": run.id, "name": run.name, "step": run.step, "n": run.n, "n_counted": run.n_counted,
        "metrics": run.metrics, "context": run.context, "dataset": run.dataset_name or "", "tags": run.tags,
        "model": run.base_model or run.checkpoint or "", "rules": run.scoring_rules or "old (pre-2025) rules",
        "current_rules": run.current_rules, "aligned_by_id": run.aligned_by_id,
        "date": run.created_at.strftime("%Y-%m-%d %H:%M"),
    }


@dataclass
class LeaderboardPage:
    runs: list[dict[str, Any]]
    columns: list[tuple[str, str]]
    tags: list[str]
    datasets: list[str]
    models: list[str]
    rules: list[str]
    current_rules: str
    curves: list[str]  # tags whose runs have training steps
    comparisons: list[str]  # tags with two or more runs
    where: str
    order: str = RUNS_ORDER


def leaderboard_page(board: Leaderboard) -> LeaderboardPage:
    """Every run (all rules), in ``leaderboard``'s order (:mod:`leaderboard.ranking_rule`: by set of items, each ranked
    best first), each row's ``rank`` counted within its set of items as ``leaderboard`` counts it."""
    records = ranking(board, RankingRequest(all_rules=True)).runs
    rows = [{**run_summary(run), "rank": rank} for _, runs in by_dataset(records) for rank, run in enumerate(runs, start=1)]
    tags = sorted({tag for run in records for tag in run.tags})
    by_tag = {tag: [run for run in records if tag in run.tags] for tag in tags}
    return LeaderboardPage(
        runs=rows, columns=metric_columns(records), tags=tags,
        datasets=sorted({row["dataset"] for row in rows if row["dataset"]}),
        models=sorted({row["model"] for row in rows if row["model"]}),
        rules=sorted({row["rules"] for row in rows}), current_rules=SCORING_RULES,
        curves=[tag for tag, runs in by_tag.items() if any(run.step is not None for run in runs)],
        comparisons=[tag for tag, runs in by_tag.items() if len(runs) >= 2],
        where=board.where,
    )


# -- item details: what the database holds, what data files and run folders add -------------------------------


class ItemSources:
    """Where an item's question, passages and prompt come from besides the database.

    The leaderboard stores each item's prediction, gold, split and scores, not the question, the
    passages or the prompt. Those are looked up, when they can be, in data files whose sha256 is
    the run's recorded ``dataset_hash`` (the packaged sample and every ``--data`` file), and in the
    run folders of ``run`` (``--runs-dir``: each ``generations.jsonl`` keeps the exact prompt),
    matched to a run by its items' ids and predictions.
    """

    def __init__(self, data_files: Sequence[Path] = (), runs_dirs: Sequence[Path] = ()) -> None:
        self._data: dict[str, tuple[Path, dict[str, dict[str, Any]]]] = {}
        for path in (sample_path("gold"), *data_files):
            try:
                data = load_data(path)
            except (MalpyeongError, OSError):
                continue
            self._data[data.sha256] = (data.path, {item.id: item.record for item in data.items})
        self._roots = [Path(root) for root in runs_dirs]

    def _folders(self) -> list[tuple[Path, dict[str, Generation]]]:
        """Every run folder's generations, read afresh (``run --follow`` keeps adding folders)."""
        return [(path, read_generations(path)) for root in self._roots for path in generation_files(root)]

    def data_file(self, run: RunRecord) -> tuple[Path | None, dict[str, dict[str, Any]]]:
        """The data file the run was scored on (matched by hash) and its records by id."""
        path, records = self._data.get(run.dataset_hash or "", (None, {}))
        return path, records

    def generations(self, run: RunRecord, items: Sequence[ItemRecord]) -> tuple[Path | None, dict[str, Generation]]:
        """The ``generations.jsonl`` holding every item of the run with the same prediction (the run's own folder first)."""
        wanted = {item.item_id: item.prediction for item in items}
        own = run_folder_prefix(run.name)
        for path, lines in sorted(self._folders(), key=lambda entry: not entry[0].parent.name.startswith(own)):
            if wanted and all(item_id in lines and lines[item_id].prediction == prediction
                              for item_id, prediction in wanted.items()):
                return path, lines
        return None, {}


def _passages(record: dict[str, Any] | None, run: RunRecord, prompt: str | None) -> tuple[list[str], str]:
    """The passages an item was given and where they were read."""
    inputs = (record or {}).get("input") or {}
    field_name = (run.retrieval or {}).get("field") or "references"
    value = inputs.get(field_name)
    if isinstance(value, list) and value:
        return [str(entry) for entry in value], f"input.{field_name} of the data file"
    if isinstance(value, str) and value:
        return [value], f"input.{field_name} of the data file"
    extra = {key: val for key, val in inputs.items() if key not in ("question_type", "question")}
    if extra:
        return [f"{key}: {val if isinstance(val, str) else json.dumps(val, ensure_ascii=False)}" for key, val in extra.items()], \
            "the item's extra input fields"
    if prompt and EXTRA_HEADER in prompt:
        block = prompt.split(EXTRA_HEADER, 1)[1].split("[질문]", 1)[0].strip()
        return [block], f"the prompt's {EXTRA_HEADER} block"
    return [], ""


def _named_rule(item: ItemRecord) -> tuple[str | None, str | None]:
    for key in NAMED_RULE_FIELDS:
        value = getattr(item, key)
        if value:
            return key, value
    return None, None


@dataclass
class ItemDetail:
    """One item as the run page shows it: its record, the organizers' split of its gold, and what the
    data file and the run folder add (``None`` or empty where unknown)."""

    record: ItemRecord
    gold_clause: str
    gold_reason: str
    question: str | None
    gold_rule: str | None  # the data file's output.article, else the gold rule stored with the item
    prompt: str | None
    passages: list[str]
    passages_from: str
    named_rule: str | None
    named_rule_field: str | None


def item_detail(item: ItemRecord, run: RunRecord, record: dict[str, Any] | None, generation: Generation | None) -> ItemDetail:
    """One item with what its data file record and its generation line add."""
    gold = split_answer(item.gold)
    prompt = generation.prompt if generation else None
    passages, passages_from = _passages(record, run, prompt)
    rule_field, rule = _named_rule(item)
    inputs = (record or {}).get("input") or {}
    return ItemDetail(
        record=item, gold_clause=gold.clause, gold_reason=gold.reason, question=inputs.get("question"),
        gold_rule=((record or {}).get("output") or {}).get("article") or item.gold_article,
        prompt=prompt, passages=passages, passages_from=passages_from, named_rule=rule, named_rule_field=rule_field,
    )


@dataclass
class RunPage:
    run: dict[str, Any]
    groups: list[GroupRecord]
    columns: list[tuple[str, str]]
    item_columns: list[tuple[str, str]]
    items: list[ItemDetail]
    question_types: list[str]
    configuration: list[tuple[str, str]]
    data_file: str | None
    generations_file: str | None
    tags: list[str] = field(default_factory=list)
    curves: list[str] = field(default_factory=list)  # its tags whose runs have training steps
    by_norm: NormBreakdown | None = None  # its scores by norm category (show's)


def run_page(board: Leaderboard, reference: str, sources: ItemSources) -> RunPage:
    """One run (:func:`~leaderboard.reading.run_detail`, as ``show`` reads it): by-type and by-norm
    metrics, configuration, every item with its details."""
    detail = run_detail(board, RunDetailRequest(reference))
    run, items = detail.run, detail.items
    data_path, records = sources.data_file(run)
    generations_path, lines = sources.generations(run, items)
    return RunPage(
        run=run_summary(run), groups=detail.groups, columns=metric_columns([run]), item_columns=item_metric_columns(items),
        items=[item_detail(item, run, records.get(item.item_id), lines.get(item.item_id)) for item in items],
        question_types=sorted({item.question_type for item in items}), configuration=detail.configuration,
        data_file=str(data_path) if data_path else None, generations_file=str(generations_path) if generations_path else None,
        tags=run.tags, curves=[tag for tag in run.tags if any(other.step is not None for other in board.runs(tag=tag))],
        by_norm=detail.by_norm,
    )


# -- comparisons ----------------------------------------------------------------------------------------------


@dataclass
class ComparedItem:
    """One item in every compared run (the first is the baseline): whether its EM flips in any
    other run, and the largest move of a reason metric against the baseline."""

    item_id: str
    question_type: str
    gold: str
    cells: list[ItemRecord]
    em_flip: bool
    max_move: float


def compared_item(cells: list[ItemRecord], reason_keys: Sequence[str]) -> ComparedItem:
    base, others = cells[0], cells[1:]
    em = base.score("exact_match")
    em_flip = em is not None and any(other.score("exact_match") not in (None, em) for other in others)
    moves = [abs(after - before) for other in others for key in reason_keys
             if (before := base.score(key)) is not None and (after := other.score(key)) is not None]
    return ComparedItem(base.item_id, base.question_type, base.gold, cells, em_flip, max(moves, default=0.0))


@dataclass
class ComparePage:
    runs: list[dict[str, Any]]
    baseline: dict[str, Any]
    deltas: list[dict[str, Any]]  # per other run: name, won/lost/tied, per metric (label, a, b, delta, low, high)
    items: list[ComparedItem]
    item_columns: list[tuple[str, str]]
    flips: int
    threshold: float
    title: str


def _delta_summary(base: RunRecord, run: RunRecord, base_items: list[ItemRecord], run_items: list[ItemRecord]) -> dict[str, Any]:
    """``compare``'s numbers of ``run`` against the baseline, as the page lists them."""
    result = compare_runs(base, base_items, run, run_items, flips=len(base_items))
    norms = result.by_norm
    groups = [*norms.groups, *([norms.without_rule] if norms.without_rule else [])] if norms and norms.groups else []
    return {
        "id": run.id, "name": run.name, "won": result.won, "lost": result.lost, "tied": result.tied,
        "flips": [flip.item_id for flip in result.em_flips],
        "metrics": [{"key": key, "label": LABELS[key], "a": base.metrics.get(key), "b": run.metrics.get(key),
                     "delta": delta, "low": low, "high": high} for key, (delta, low, high) in result.deltas.items()],
        "by_norm": [{"norm": NO_RULE if group.norm is None else group.norm, "n": group.n,
                     "metrics": [{"key": key, "label": LABELS[key], "delta": delta, "low": low, "high": high}
                                 for key, (delta, low, high) in group.deltas.items() if key in HEADLINE]}
                    for group in groups],
    }


def compare_page(board: Leaderboard, references: Sequence[str], *, title: str = "") -> ComparePage:
    """Each run after the first against the first (``compare``'s deltas and paired bootstrap
    intervals), and every item side by side: EM flips and reason-metric moves marked."""
    if len(references) < 2:
        raise MalpyeongError("a comparison needs two or more runs")
    runs = [board.get(reference) for reference in references]
    if len({run.id for run in runs}) != len(runs):
        raise MalpyeongError("a comparison needs different runs")
    items = [board.items(run) for run in runs]
    base, base_items = runs[0], items[0]
    deltas = [_delta_summary(base, run, base_items, run_items) for run, run_items in zip(runs[1:], items[1:], strict=True)]
    by_id = [{item.item_id: item for item in run_items} for run_items in items]
    item_columns = item_metric_columns(item for run_items in items for item in run_items)
    reason_keys = [key for key, _ in item_columns if key in REASON_METRICS]
    compared = [compared_item([mapping[item.item_id] for mapping in by_id], reason_keys) for item in base_items]
    return ComparePage(runs=[run_summary(run) for run in runs], baseline=run_summary(base), deltas=deltas, items=compared,
                       item_columns=item_columns, flips=sum(item.em_flip for item in compared), threshold=DEFAULT_MOVE_THRESHOLD,
                       title=title or " vs ".join(run.name for run in runs))


def tag_runs(board: Leaderboard, tag: str) -> list[RunRecord]:
    """A tag's runs (every rule), in step order where they have steps, else oldest first."""
    runs = board.runs(tag=tag, all_rules=True)
    if not runs:
        raise MalpyeongError(f"no runs tagged {tag!r} in {board.where}")
    stepped = runs_of_training(runs)
    return stepped + sorted((run for run in runs if run.step is None), key=lambda run: run.id)


# -- training curves ------------------------------------------------------------------------------------------

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


@dataclass
class CurvePage:
    tag: str
    steps: list[int]
    runs: list[dict[str, Any]]
    series: list[dict[str, Any]]  # key, label, color, values, points (SVG coordinates), path
    width: int
    height: int
    margin: int
    y_ticks: list[tuple[float, float]]  # (value, y)
    x_ticks: list[tuple[int, float]]  # (step, x)


def curve_page(board: Leaderboard, tag: str, *, width: int = 760, height: int = 360, margin: int = 48) -> CurvePage:
    """Each metric against the training step for a tag's runs (current rules), as SVG coordinates."""
    runs = runs_of_training(board.runs(tag=tag))
    if not runs:
        raise MalpyeongError(f"no runs tagged {tag!r} with a training step under the current rules in {board.where}")
    steps = [run.step for run in runs if run.step is not None]
    low_step, high_step = min(steps), max(steps)
    span = (high_step - low_step) or 1
    values_all = [run.metrics.get(key) for key, _ in metric_columns(runs) for run in runs]
    known = [value for value in values_all if value is not None]
    low, high = min(0.0, *known) if known else 0.0, max(1.0, *known) if known else 1.0

    def x(step: int) -> float:
        return round(margin + (step - low_step) / span * (width - 2 * margin), 1) if span else margin

    def y(value: float) -> float:
        return round(height - margin - (value - low) / (high - low) * (height - 2 * margin), 1)

    series = []
    for index, (key, label) in enumerate(metric_columns(runs)):
        values = [run.metrics.get(key) for run in runs]
        points = [(x(step), y(value)) for step, value in zip(steps, values, strict=True) if value is not None]
        if not points:
            continue
        series.append({"key": key, "label": label, "color": PALETTE[index % len(PALETTE)], "values": values,
                       "points": points, "path": " ".join(f"{px},{py}" for px, py in points),
                       "bold": key == "final_score"})
    y_ticks = [(round(low + (high - low) * i / 5, 2), y(low + (high - low) * i / 5)) for i in range(6)]
    x_ticks = [(step, x(step)) for step in steps]
    return CurvePage(tag=tag, steps=steps, runs=[run_summary(run) for run in runs], series=series, width=width,
                     height=height, margin=margin, y_ticks=y_ticks, x_ticks=x_ticks)
