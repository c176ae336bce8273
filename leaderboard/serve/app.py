"""The ``serve`` web app (Starlette): the leaderboard, runs, comparisons and training curves, read-only."""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from malpyeong_eval.errors import MalpyeongError

from ..db import DatabaseError
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


def create_app(board: Leaderboard, *, data_files: Sequence[Path] = (), runs_dirs: Sequence[Path] = (),
               allowed_hosts: Sequence[str] | None = LOOPBACK_NAMES) -> Starlette:
    """The app over ``board`` (open it ``read_only=True``). ``allowed_hosts``: the Host headers
    answered (loopback names by default, so a page elsewhere cannot reach it by DNS rebinding); ``None``: any."""
    urls = ServedUrls()
    sources = views.ItemSources(data_files, runs_dirs)

    def page(template: str, status_code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(render(template, urls, board.where, **context), status_code=status_code)

    def guarded(handler):
        def endpoint(request: Request) -> Response:
            try:
                return handler(request)
            except DatabaseError as exc:
                return page("error.html", 503, status="database unavailable", message=str(exc))
            except MalpyeongError as exc:
                return page("error.html", 404, status="not found", message=str(exc))
        return endpoint

    def leaderboard(request: Request) -> Response:
        return page("leaderboard.html", page=views.leaderboard_page(board))

    def run(request: Request) -> Response:
        return page("run.html", page=views.run_page(board, f"#{request.path_params['run_id']}", sources))

    def compare(request: Request) -> Response:
        tag = request.query_params.get("tag")
        if tag:
            references = [f"#{run.id}" for run in views.tag_runs(board, tag)]
            title = f"tag {tag}"
        else:
            references = [f"#{value.lstrip('#')}" for value in request.query_params.getlist("run")]
            title = ""
        return page("compare.html", page=views.compare_page(board, references, title=title))

    def curve(request: Request) -> Response:
        tag = request.query_params.get("tag")
        if not tag:
            raise MalpyeongError("a training curve needs ?tag=TAG")
        return page("curve.html", page=views.curve_page(board, tag))

    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    return Starlette(
        routes=[
            Route("/", guarded(leaderboard)),
            Route("/run/{run_id:int}", guarded(run)),
            Route("/compare", guarded(compare)),
            Route("/curve", guarded(curve)),
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
