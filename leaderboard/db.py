"""Opening the leaderboard database: where it lives, SQLite settings, schema migrations.

The URL comes from ``--db``, else ``MALPYEONG_DB``, else one SQLite file in the
per-user data directory. SQLite runs in WAL mode with a busy timeout. A transaction that
writes takes the write lock at its start (``BEGIN IMMEDIATE``), so several evaluations
recording at once all land, one after the other. A transaction that only reads (every
connection of :func:`reader`, and the schema check when a database is opened and already up
to date) begins ``DEFERRED``: in WAL mode it reads a snapshot of the last commit and never
waits for a writer. The schema is versioned by Alembic: an older database is upgraded when
opened, a newer one is refused.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SAWarning, SQLAlchemyError

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.secrets import mask_url, without_secrets

DB_VARIABLE = "MALPYEONG_DB"
BUSY_TIMEOUT_MS = 60_000
READ_ONLY = "malpyeong_read_only"  # execution option of connections that only read (see reader)


class DatabaseError(MalpyeongError):
    """A database that cannot be opened or used; the message never shows a password."""


class DamagedDatabase(DatabaseError):
    """A database whose stored values do not decode or do not have their columns' types (edited by
    hand, written by another program): reading it can never succeed, unlike a locked or unreachable one."""


def default_url() -> str:
    """One SQLite file in the per-user data directory."""
    from platformdirs import user_data_dir

    return f"sqlite:///{Path(user_data_dir('malpyeong-eval')) / 'leaderboard.db'}"


def relative_where(url: str, folder: Path | None = None) -> str:
    """A SQLite file's URL as seen from ``folder`` (default: the working directory): ``sqlite:///board.db``
    for a file under it, which names the same file from there; any other URL unchanged."""
    prefix = "sqlite:///"
    if not url.startswith(prefix + "/"):
        return url
    try:
        return prefix + str(Path(url[len(prefix):]).relative_to(folder or Path.cwd()))
    except ValueError:  # a file elsewhere
        return url


def resolve_url(url: str | None = None) -> str:
    """``url``, else ``$MALPYEONG_DB``, else :func:`default_url`; a bare path means a SQLite file."""
    if url is not None and not url.strip():
        raise DatabaseError("--db is empty: give a database URL or a SQLite file path")
    url = url or os.environ.get(DB_VARIABLE) or default_url()
    return url if "://" in url else f"sqlite:///{Path(url).expanduser().resolve()}"


def default_not_made(url: str | None = None) -> bool:
    """Whether ``url`` names nothing (no ``--db``, no ``$MALPYEONG_DB``) and the default SQLite file does
    not exist yet: a fresh machine, where a reader finds no runs rather than a mistyped path."""
    if url is not None or os.environ.get(DB_VARIABLE):
        return False
    return not Path(make_url(default_url()).database or "").is_file()


def error_line(url: str, exc: BaseException) -> str:
    """One line of a database error: the driver's message where there is one (``DBAPIError.orig``;
    other SQLAlchemy errors have none), else the error's own, else its type; never a password."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    message = text.splitlines()[0] if text else type(exc).__name__
    return without_secrets(url, message)[:300]


def _alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", "leaderboard:migrations")
    config.attributes["connection"] = connection
    return config


def _sqlite_settings(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let the begin hook below issue BEGIN
        cursor = dbapi_connection.cursor()
        # Switching to WAL can meet SQLITE_BUSY (a new file, or a rollback-journal database whose lock
        # another process holds): short waits, retried until one busy timeout in all has passed.
        cursor.execute("PRAGMA busy_timeout = 50")
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                break
            except sqlite3.OperationalError as exc:  # only a lock is worth waiting for: a read-only folder fails at once
                if not _busy(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # Readers begin DEFERRED (a WAL snapshot, no lock to wait for); anything else may write and
        # takes the write lock first, so a transaction never fails half-way on a lock it cannot upgrade.
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Whether SQLite failed on a lock another connection holds (worth a retry), not on anything else."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+; the primary code in its low byte
    if code is not None:
        return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def reader(engine: Engine) -> Engine:
    """The same engine (pool, settings) for transactions that only read: on SQLite they begin
    DEFERRED and never wait for a writer; on PostgreSQL nothing changes (reads never wait there)."""
    return engine.execution_options(**{READ_ONLY: True})


def _parse(url: str, shown: str) -> URL:
    """``url`` parsed, or one line (the library's message may quote parts of the password)."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        raise DatabaseError(
            f"cannot open database {shown}: not a valid database URL (check the scheme and port; "
            "percent-encode '@', ':' and '/' in a password)"
        ) from None


@contextmanager
def _opening(url: str, shown: str) -> Iterator[None]:
    """Every failure to open ``url`` inside the block as one :class:`DatabaseError` line naming it masked."""
    try:
        yield
    except DatabaseError:
        raise
    except ModuleNotFoundError as exc:
        raise DatabaseError(f"cannot open database {shown}: driver {exc.name!r} is not installed (pip install 'malpyeong-eval[postgres]' for PostgreSQL)") from None
    except (ArgumentError, SQLAlchemyError, OSError, ValueError, CommandError) as exc:  # CommandError: e.g. two version rows
        raise DatabaseError(f"cannot open database {shown}: {error_line(url, exc)}") from None
    except SAWarning as exc:  # e.g. a query argument the driver ignores: refused, not a raw two-line warning
        raise DatabaseError(f"cannot open database {shown}: {error_line(url, _without_background(exc))}") from None


def _without_background(warning: SAWarning) -> Exception:
    """A SQLAlchemy warning's message without its "(Background on this warning at: URL)" link."""
    return Exception(re.sub(r"\s*\(Background on this warning at: [^)]*\)", "", str(warning)))


def open_engine(url: str | None = None, *, create: bool = True) -> Engine:
    """An engine on an up-to-date schema; every failure is a one-line :class:`DatabaseError`. ``create=False``:
    a SQLite file that does not exist is refused, not created (nor its folders)."""
    url = resolve_url(url)
    shown = mask_url(url)
    parsed = _parse(url, shown)
    with _opening(url, shown):
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            if not create and not Path(parsed.database).is_file():
                raise DatabaseError(f"cannot open database {shown}: no leaderboard database there (record a run first, or give --db)")
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"connect_timeout": 10} if parsed.get_backend_name() == "postgresql" else {}
        with warnings.catch_warnings():
            warnings.simplefilter("error", SAWarning)  # e.g. a URL argument the driver would ignore: one line (_opening)
            engine = create_engine(url, connect_args=connect_args)
        if parsed.get_backend_name() == "sqlite":
            _sqlite_settings(engine)
        _migrate(engine, shown)
        return engine


_MIGRATION_LOCK = 7_262_027  # PostgreSQL advisory lock: one process at a time checks and upgrades the schema


def _up_to_date(engine: Engine) -> bool:
    """Whether the schema is at this version's head, read without any lock (the usual case on open)."""
    with reader(engine).connect() as connection:
        script = ScriptDirectory.from_config(_alembic_config(connection))
        return MigrationContext.configure(connection).get_current_revision() == script.get_current_head()


def _driver(connection: Connection) -> Any:
    """The driver's own connection under a SQLAlchemy one (always there while it is open)."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise DatabaseError("the database connection was closed")
    return driver


def _migrate(engine: Engine, shown: str) -> None:
    if _up_to_date(engine):
        return
    with engine.connect() as connection:  # an upgrade (or a refusal): checked again under the lock
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild a SQLite table (copy, DROP, rename); with foreign keys on, dropping
            # 'runs' would cascade to every run's tags, by-type metrics and items. The pragma only takes
            # effect outside a transaction, so it is set on the driver's connection before BEGIN.
            _driver(connection).execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():  # SQLite: BEGIN IMMEDIATE serializes this already
                _migrate_in_transaction(connection, shown)
        finally:
            if sqlite:
                try:
                    _driver(connection).execute("PRAGMA foreign_keys = ON")
                except Exception:  # never back to the pool with foreign keys off
                    connection.invalidate()


def _migrate_in_transaction(connection, shown: str) -> None:
    """Check the schema version and upgrade to the head, on a connection inside its transaction."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
    script = ScriptDirectory.from_config(_alembic_config(connection))
    current = MigrationContext.configure(connection).get_current_revision()
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise DatabaseError(
            f"database {shown} has schema version {current!r}, newer than this malpyeong-eval knows "
            f"({script.get_current_head()!r}): upgrade malpyeong-eval"
        )
    if current is None and inspect(connection).has_table("runs"):
        raise DatabaseError(f"database {shown} has a 'runs' table without a schema version: not a malpyeong-eval leaderboard")
    if current != script.get_current_head():
        command.upgrade(_alembic_config(connection), "head")


def schema_version(engine: Engine) -> str | None:
    """The Alembic revision the database is at."""
    with reader(engine).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def open_read_only_engine(url: str | None = None) -> Engine:
    """An engine that cannot write: a SQLite file opened ``mode=ro`` with ``query_only``, a
    PostgreSQL session in read-only transactions. Nothing is created or migrated; a missing file
    or a schema other than this version's head is a one-line :class:`DatabaseError`.
    """
    url = resolve_url(url)
    shown = mask_url(url)
    parsed = _parse(url, shown)
    with _opening(url, shown):
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if parsed.database in (None, "", ":memory:"):
                raise DatabaseError(f"cannot open database {shown} read-only: an in-memory database holds no runs")
            path = Path(parsed.database)
            if not path.is_file():
                raise DatabaseError(f"no leaderboard database at {path} (record a run first, or give --db)")
            engine = create_engine(f"sqlite:///file:{path.resolve()}?mode=ro&uri=true")

            @event.listens_for(engine, "connect")
            def on_connect(dbapi_connection, _record):
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA query_only = ON")
                cursor.close()
        else:
            engine = create_engine(url, connect_args={"connect_timeout": 10} if backend == "postgresql" else {})
            if backend == "postgresql":
                @event.listens_for(engine, "connect")
                def read_only_session(dbapi_connection, _record):
                    cursor = dbapi_connection.cursor()
                    cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                    cursor.close()
                    dbapi_connection.commit()
        _check_head(engine, shown)
        return engine


def _check_head(engine: Engine, shown: str) -> None:
    """Refuse a database whose schema is not this version's head (read-only: no upgrade)."""
    with engine.connect() as connection:
        script = ScriptDirectory.from_config(_alembic_config(connection))
        current = MigrationContext.configure(connection).get_current_revision()
        head = script.get_current_head()
        if current is None:
            raise DatabaseError(f"database {shown} is not a malpyeong-eval leaderboard (no schema version)")
        if current != head:
            raise DatabaseError(
                f"database {shown} has schema version {current!r}, not this malpyeong-eval's {head!r}; reading it "
                "read-only cannot upgrade it: run any writing command once (malpyeong-eval leaderboard upgrades an older one)"
            )
