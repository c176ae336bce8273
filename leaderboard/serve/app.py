"""The ``serve`` web app (Starlette): the leaderboard, runs, comparisons and training curves, read-only."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from malpyeong_eval.errors import MalpyeongError

from ..db import DamagedDatabase, DatabaseError
from ..store import Leaderboard
from . import views
from .pages import ServedUrls, render

STATIC = Path(__file__).parent / "static"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",  # a reload always reads the database again
}


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``127.0.0.1``, ``::1``, ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response: no inline script can run, no framing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *((k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items())]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Pages:
    """The app's pages over one board: each handler reads through :mod:`.views` and renders a template."""

    def __init__(self, board: Leaderboard, sources: views.ItemSources) -> None:
        self.board, self.sources, self.urls = board, sources, ServedUrls()

    def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(render(template, self.urls, self.board.where, **context), status_code=status_code)

    def guarded(self, handler: Callable[[Request], Response]) -> Callable[[Request], Response]:
        """``handler`` with its refusals as error pages (with the security headers, like every page):
        a damaged database 500, one that cannot be read now 503, an unknown run or tag 404."""
        def endpoint(request: Request) -> Response:
            try:
                return handler(request)
            except DamagedDatabase as exc:
                return self.page("error.html", 500, status="damaged database", message=str(exc))
            except DatabaseError as exc:
                return self.page("error.html", 503, status="database unavailable", message=str(exc))
            except MalpyeongError as exc:
                return self.page("error.html", 404, status="not found", message=str(exc))
        return endpoint

    def leaderboard(self, request: Request) -> Response:
        return self.page("leaderboard.html", page=views.leaderboard_page(self.board))

    def run(self, request: Request) -> Response:
        return self.page("run.html", page=views.run_page(self.board, f"#{request.path_params['run_id']}", self.sources))

    def compare(self, request: Request) -> Response:
        tag = request.query_params.get("tag")
        if tag:
            references = [f"#{run.id}" for run in views.tag_runs(self.board, tag)]
            title = f"tag {tag}"
        else:
            references = [f"#{value.lstrip('#')}" for value in request.query_params.getlist("run")]
            title = ""
        return self.page("compare.html", page=views.compare_page(self.board, references, title=title))

    def curve(self, request: Request) -> Response:
        tag = request.query_params.get("tag")
        if not tag:
            raise MalpyeongError("a training curve needs ?tag=TAG")
        return self.page("curve.html", page=views.curve_page(self.board, tag))


def create_app(board: Leaderboard, *, data_files: Sequence[Path] = (), runs_dirs: Sequence[Path] = (),
               allowed_hosts: Sequence[str] | None = LOOPBACK_NAMES) -> Starlette:
    """The app over ``board`` (open it ``read_only=True``). ``allowed_hosts``: the Host headers
    answered (loopback names by default, so a page elsewhere cannot reach it by DNS rebinding); ``None``: any."""
    pages = Pages(board, views.ItemSources(data_files, runs_dirs))
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=[
            Route("/", pages.guarded(pages.leaderboard)),
            Route("/run/{run_id:int}", pages.guarded(pages.run)),
            Route("/compare", pages.guarded(pages.compare)),
            Route("/curve", pages.guarded(pages.curve)),
            Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        ],
        middleware=middleware,
    )


def _listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (``0``: a free port the system picks), before anything announces it;
    one line when it cannot be (a busy port, an address not of this machine)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        listener = socket.socket(family, kind, proto)
    except OSError as exc:
        raise MalpyeongError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as exc:
        listener.close()
        raise MalpyeongError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return listener


def _check_host(host: str) -> None:
    """Refuse an IPv4 address written as IPv6 (``::ffff:127.0.0.1``): uvicorn cannot serve it, and it is
    not the loopback a Host header can name."""
    try:
        mapped = getattr(ipaddress.ip_address(host.strip("[]")), "ipv4_mapped", None)
    except ValueError:  # a name
        return
    if mapped is not None:
        raise MalpyeongError(f"--host {host}: an IPv4 address written as IPv6; give --host {mapped}")


def serve(db: str | None, host: str = "127.0.0.1", port: int = 8765, *, data_files: Sequence[Path] = (),
          runs_dirs: Sequence[Path] = ()) -> None:
    """Open the database read-only and serve the app until Ctrl-C (a warning first when not on loopback).
    The port is bound before the address is printed, so the line names the port really served (``--port 0``)."""
    import uvicorn

    if not 0 <= port <= 65535:
        raise MalpyeongError(f"--port {port}: choose a port from 0 to 65535")
    _check_host(host)
    board = Leaderboard(db, read_only=True)
    loopback = is_loopback(host)
    if not loopback:
        where = f"port {port}" if port else "the port it takes"
        print(f"warning: serving on {host}, not loopback: anyone who can reach this machine on {where} can read "
              "every run and model output (there is no login); use --host 127.0.0.1 to keep it local", file=sys.stderr)
    listener = _listen(host, port)
    app = create_app(board, data_files=data_files, runs_dirs=runs_dirs, allowed_hosts=LOOPBACK_NAMES if loopback else None)
    shown = f"[{host}]" if ":" in host else host
    print(f"serving {board.where} read-only on http://{shown}:{listener.getsockname()[1]}/ (Ctrl-C stops)",
          file=sys.stderr, flush=True)
    with listener:
        uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)).run(sockets=[listener])
