"""The ``malpyeong-eval`` command line: a thin layer over the four packages, on top of all of them.

It imports ``malpyeong_eval``, ``rewards``, ``train`` and ``leaderboard``; nothing imports it (but
``python -m malpyeong_eval`` and the entry point), which ``tests/test_layering.py`` checks.
One module per command group adds its commands to the app with ``register(app)``:
``score`` (:mod:`.score`), ``run`` (:mod:`.run`), ``retrieve`` (:mod:`.retrieve`), ``label`` (:mod:`.label`),
``demo`` (:mod:`.demo`), ``train`` and ``completions`` (:mod:`.training`) and the leaderboard's commands
(:mod:`.board`). Shared flags live in :mod:`.options`. The app is assembled on first use
(``malpyeong_eval.cli.app``).

Every user error (a broken file, a missing model, a bad flag value) is one line on stderr and
exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
import typer.main

try:  # typer >= 0.2x carries its own copy of click
    from typer._click import Command
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - older typer on click
    from click import Command  # type: ignore[assignment]
    from click import exceptions as click_errors  # type: ignore[no-redef]

from ..errors import MalpyeongError
from ..report import make_console

__all__ = ["app", "build_app", "main"]

_app: typer.Typer | None = None
_command: Command | None = None
INTERRUPTED = 130  # the exit status of a Ctrl-C


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("malpyeong-eval")
        except PackageNotFoundError:  # a source tree that is not installed
            number = "unknown (not installed)"
        print(f"malpyeong-eval {number}")
        raise typer.Exit()


def build_app() -> typer.Typer:
    """The ``malpyeong-eval`` app with every command group registered (built once)."""
    global _app
    if _app is None:
        from . import board, demo, label, retrieve, run, score, training

        app = typer.Typer(
            name="malpyeong-eval",
            help="Contest-exact scoring for the NIKL AI 말평 한국어 어문 규범 기반 생성(RAG) task.",
            no_args_is_help=True,
            pretty_exceptions_enable=False,
            add_completion=False,
        )

        @app.callback()
        def _root(
            version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_print_version,
                                                  help="Print the version and exit.")] = False,
        ) -> None:
            """Score submissions, run checkpoints, train with GRPO and keep a leaderboard."""

        for register in (score.register, run.register, retrieve.register, label.register, training.register, demo.register,
                         board.register):
            register(app)
        _app = app
    return _app


def click_command() -> Command:
    """The app as one click command, built once. (Calling the typer app rebuilds it from every command's
    signature each time, about 0.15 s, which a process running many commands, a test suite, pays each time.)"""
    global _command
    if _command is None:
        _command = typer.main.get_command(build_app())
        _flags_take_no_value(_command)
    return _command


def _flags_take_no_value(command: Command) -> None:
    """Every flag's help row without a value type (typer 0.29 shows ``--json <bool>``, as if it took a
    value): each flag of ``command`` and its subcommands, ``--help`` and ``--version`` included."""
    import typer._click as click  # typer's own copy of click, whose objects the app is made of

    for param in [*command.params, command.get_help_option(click.Context(command))]:
        if param is not None and getattr(param, "is_flag", False):
            param.metavar = ""
    for subcommand in getattr(command, "commands", {}).values():
        _flags_take_no_value(subcommand)


def __getattr__(name: str):
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _undecodable(arguments: list[str]) -> str | None:
    """The first argument that is not UTF-8 (Python holds its bad bytes as lone surrogates), shown as bytes."""
    from ..inputs import LONE_SURROGATE

    for argument in arguments:
        if LONE_SURROGATE.search(argument):
            return repr(argument.encode("utf-8", "surrogateescape"))
    return None


def main() -> None:
    """Entry point: run the app; a user error (a bad file or flag value, a usage error, an argument
    that is not UTF-8) is one line on stderr and exit status 2. The numeric libraries get as many
    threads as cores are free (:mod:`malpyeong_eval.cpu`), set before any command imports torch."""
    from ..cpu import configure_threads

    configure_threads()
    command = click_command()

    def fail(message: str, status: int = 2) -> None:
        make_console(stderr=True).print(f"error: {' '.join(message.split())}", highlight=False, markup=False,
                                        soft_wrap=True)
        sys.exit(status)

    bad = _undecodable(sys.argv[1:])
    if bad:
        fail(f"argument {bad} is not valid UTF-8 text")
    try:
        status = command.main(standalone_mode=False)
    except click_errors.NoArgsIsHelpError:  # the help is printed already
        sys.exit(2)
    except click_errors.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx else "malpyeong-eval"
        fail(f"{exc.format_message()} (see {where} --help)")
    except click_errors.ClickException as exc:
        fail(exc.format_message())
    except (typer.Abort, KeyboardInterrupt):
        status = INTERRUPTED
    except (MalpyeongError, OSError) as exc:  # OSError: e.g. an output path that cannot be written
        fail(str(exc))
    if status == INTERRUPTED:  # typer turns Ctrl-C into this status
        resume = "; the same command resumes where it stopped" if sys.argv[1:2] == ["run"] else ""
        fail(f"interrupted{resume}", INTERRUPTED)
    sys.exit(status if isinstance(status, int) else 0)
