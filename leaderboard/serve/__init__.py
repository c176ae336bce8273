"""The leaderboard in the browser: ``malpyeong-eval serve`` (a Starlette app, read-only) and
``export --format site`` (the same pages as static files).

- :mod:`.views` — what each page shows, read through :class:`~leaderboard.store.Leaderboard`;
- :mod:`.pages` — one Jinja2 environment (autoescaped) and the two kinds of links;
- :mod:`.app` — the app (:func:`create_app`) and :func:`serve`;
- :mod:`.site` — :func:`write_site`.

Templates, script and style sheet ship in the package; nothing is fetched at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app", "serve", "write_site"]

if TYPE_CHECKING:
    from .app import create_app, serve
    from .site import write_site


def __getattr__(name: str) -> Any:
    if name in ("create_app", "serve"):
        from . import app

        return getattr(app, name)
    if name == "write_site":
        from .site import write_site

        return write_site
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
