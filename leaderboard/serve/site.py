"""``export --format site``: the served pages written as static files that open without a server."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.outputs import output_folder

from ..store import Leaderboard
from . import views
from .app import STATIC
from .pages import SiteUrls, render, tag_file

SITE_MARKER = ".malpyeong-site"  # lists the files a site holds: an export replaces only such a folder


@dataclass
class SiteReport:
    """What was written, and the tag pages left out (with why)."""

    root: Path
    pages: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def write_site(board: Leaderboard, output: Path, *, data_files: Sequence[Path] = (), runs_dirs: Sequence[Path] = ()) -> SiteReport:
    """Write ``index.html``, one page per run, one comparison per tag with two or more comparable
    runs, one training curve per tag with steps, and the script and style sheet, as the folder ``output``:
    written beside it and swapped in whole (:func:`~malpyeong_eval.outputs.output_folder`); an existing
    folder is replaced only when it is empty or an earlier site (its :data:`SITE_MARKER` lists its files)."""
    output = Path(output)
    with output_folder(output, SITE_MARKER, "written by malpyeong-eval export --format site; its files:") as staging:
        report = _write_pages(board, staging, data_files=data_files, runs_dirs=runs_dirs)
    return SiteReport(output, [output / page.relative_to(staging) for page in report.pages], report.skipped)


def _write_pages(board: Leaderboard, output: Path, *, data_files: Sequence[Path], runs_dirs: Sequence[Path]) -> SiteReport:
    report = SiteReport(output)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    sources = views.ItemSources(data_files, runs_dirs)

    def write(relative: str, template: str, depth: int, **context) -> None:
        path = output / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(template, SiteUrls(depth), board.where, generated=generated, **context), encoding="utf-8")
        report.pages.append(path)

    board_page = views.leaderboard_page(board)
    for run in board_page.runs:
        write(f"run/{run['id']}.html", "run.html", 1, page=views.run_page(board, f"#{run['id']}", sources))
    compared = []
    for tag in board_page.comparisons:
        try:
            page = views.compare_page(board, [f"#{run.id}" for run in views.tag_runs(board, tag)], title=f"tag {tag}")
        except MalpyeongError as exc:
            report.skipped.append(f"comparison of tag {tag!r}: {exc}")
            continue
        write(f"compare/{tag_file(tag)}", "compare.html", 1, page=page)
        compared.append(tag)
    curves = []
    for tag in board_page.curves:
        try:
            curve = views.curve_page(board, tag)
        except MalpyeongError as exc:
            report.skipped.append(f"curve of tag {tag!r}: {exc}")
            continue
        write(f"curve/{tag_file(tag)}", "curve.html", 1, page=curve)
        curves.append(tag)
    board_page.comparisons, board_page.curves = compared, curves
    write("index.html", "leaderboard.html", 0, page=board_page)
    (output / "static").mkdir(parents=True, exist_ok=True)
    for asset in STATIC.iterdir():
        shutil.copyfile(asset, output / "static" / asset.name)
    return report
