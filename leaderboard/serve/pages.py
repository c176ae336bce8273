"""Rendering the pages: one Jinja2 environment (autoescaping every value) for the app and the static site."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.report import format_score

from ..db import relative_where
from .views import slug


class Urls(Protocol):
    """Where each page lives: served paths or the static site's relative files."""

    def index(self) -> str: ...
    def run(self, run_id: int) -> str: ...
    def compare_runs(self, run_ids: Sequence[int]) -> str | None: ...
    def compare_tag(self, tag: str) -> str: ...
    def curve(self, tag: str) -> str: ...
    def static(self, name: str) -> str: ...


class ServedUrls:
    """The app's paths."""

    def index(self) -> str:
        return "/"

    def run(self, run_id: int) -> str:
        return f"/run/{run_id}"

    def compare_runs(self, run_ids: Sequence[int]) -> str | None:
        return "/compare" + (f"?{urlencode([('run', i) for i in run_ids])}" if run_ids else "")

    def compare_tag(self, tag: str) -> str:
        return f"/compare?{urlencode({'tag': tag})}"

    def curve(self, tag: str) -> str:
        return f"/curve?{urlencode({'tag': tag})}"

    def static(self, name: str) -> str:
        return f"/static/{name}"


def tag_file(tag: str) -> str:
    """A tag's file name in the static site (its slug and a short hash, so two tags never collide)."""
    return f"{slug(tag)}-{hashlib.sha256(tag.encode()).hexdigest()[:8]}.html"


class SiteUrls:
    """The static site's relative links from a page ``depth`` folders below its root."""

    def __init__(self, depth: int = 0) -> None:
        self.up = "../" * depth

    def index(self) -> str:
        return f"{self.up}index.html"

    def run(self, run_id: int) -> str:
        return f"{self.up}run/{run_id}.html"

    def compare_runs(self, run_ids: Sequence[int]) -> str | None:
        return None  # any pair needs the server

    def compare_tag(self, tag: str) -> str:
        return f"{self.up}compare/{tag_file(tag)}"

    def curve(self, tag: str) -> str:
        return f"{self.up}curve/{tag_file(tag)}"

    def static(self, name: str) -> str:
        return f"{self.up}static/{name}"


_environment: Environment | None = None


def environment() -> Environment:
    """The templates, every ``{{ value }}`` HTML-escaped."""
    global _environment
    if _environment is None:
        env = Environment(loader=PackageLoader("leaderboard.serve", "templates"),
                          autoescape=select_autoescape(default=True, default_for_string=True),
                          undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.filters["score"] = format_score
        _environment = env
    return _environment


def render(template: str, urls: Urls, where: str, **context: Any) -> str:
    """A page as HTML; ``where`` is the database URL with any password masked (a SQLite file under the
    working directory shown relative to it: :func:`leaderboard.db.relative_where`)."""
    return environment().get_template(template).render(
        urls=urls, where=relative_where(where), current_rules=SCORING_RULES, static_site=isinstance(urls, SiteUrls),
        generated=context.pop("generated", ""), **context,
    )
