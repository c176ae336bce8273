"""The one writer of every file and folder the tool writes for a user (``-o``, submissions, results, sites, plots).

A file is written whole or not at all: the bytes go to a new file beside the target, which is then
renamed over it. Only a regular file (or nothing) is ever replaced: a folder, a device (``/dev/null``,
``/dev/full``), a FIFO or a socket is refused with one line, before any work where the command checks
early (:func:`check_output`), and again just before the rename. A symbolic link is followed: its target
is written and the link stays a link (what the user pointed it at is what they meant). An existing
file keeps its mode (and, where allowed, its owner); a new one gets the usual ``0666`` less the umask.
On any error (a full disk included) the new file is removed and the previous one is left as it was.

A folder (``export --format site``) is written beside the target and swapped in (:func:`output_folder`);
an existing folder is replaced only when it is empty or holds nothing but the files the tool wrote
there before (listed in its marker file), else refused.

:func:`spreadsheet_cell` makes a CSV cell inert (OWASP's CSV injection rule); every CSV goes through it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import MalpyeongError

__all__ = ["OutputError", "check_output", "output_folder", "spreadsheet_cell", "write_output"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP: what a spreadsheet may read as a formula
NEW_FILE_MODE = 0o666  # less the umask, as open() creates a file
_SHOWN_FOREIGN = 3  # how many of a folder's unknown files a refusal names


class OutputError(MalpyeongError):
    """An output that cannot be written; nothing the user had was changed."""


def _target(path: Path) -> Path:
    """Where the bytes land: ``path``, or the file a symbolic link at ``path`` points to (followed to its end)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _refuse_non_regular(shown: Path, target: Path) -> os.stat_result | None:
    """The target's ``stat`` when it is a regular file, ``None`` when there is none; else one line."""
    try:
        info = target.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(f"{shown}: cannot write ({exc.strerror or type(exc).__name__})") from None
    if stat.S_ISDIR(info.st_mode):
        raise OutputError(f"{shown}: is a directory, expected an output file name")
    if not stat.S_ISREG(info.st_mode):
        raise OutputError(f"{shown}: not a regular file (a device, pipe or socket); refusing to write over it, give a file name")
    return info


def check_output(path: str | Path | None, *, make_parents: bool = False) -> None:
    """One line unless :func:`write_output` can write ``path``: a folder, a device, a FIFO or a socket is
    refused, and a missing folder unless ``make_parents`` (the writer then creates it). ``None`` (no output
    asked for) passes: a command checks its optional ``-o`` before its work in one call."""
    if path is None:
        return
    path = Path(path)
    target = _target(path)
    _refuse_non_regular(path, target)
    if not target.parent.is_dir() and not make_parents:
        raise OutputError(f"{path}: folder {target.parent} does not exist")


def _temporary_beside(target: Path) -> tuple[int, Path]:
    """A new file beside ``target`` (same folder, so the rename never crosses file systems), opened for writing."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                           NEW_FILE_MODE), candidate
        except FileExistsError:
            continue


def _keep_mode(handle: int, info: os.stat_result | None) -> None:
    """Give the new file the replaced one's mode, and its owner where this process may."""
    if info is None:
        return
    os.fchmod(handle, stat.S_IMODE(info.st_mode))
    if hasattr(os, "fchown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.fchown(handle, info.st_uid, info.st_gid)
        except PermissionError:  # not ours to give away: the file becomes the writer's, as any new one
            pass


def write_output(path: str | Path, data: str | bytes, *, encoding: str = "utf-8", make_parents: bool = False) -> Path:
    """Write ``data`` (text in ``encoding``, or bytes) to ``path`` whole or not at all; returns ``path``.

    Refuses (:class:`OutputError`, one line) what :func:`check_output` refuses; on any failure the
    new file is removed and whatever was at ``path`` is left exactly as it was."""
    check_output(path, make_parents=make_parents)
    path = Path(path)
    target = _target(path)
    raw = data.encode(encoding) if isinstance(data, str) else data
    try:
        if make_parents:
            target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = _temporary_beside(target)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); nothing was written") from None
    try:
        try:
            _keep_mode(handle, _refuse_non_regular(path, target))
            view = memoryview(raw)
            while view:
                view = view[os.write(handle, view):]
            os.fsync(handle)
        finally:
            os.close(handle)
        _refuse_non_regular(path, target)  # nothing but a regular file may have appeared there meanwhile
        os.replace(temporary, target)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); "
                              "the previous file, if any, is unchanged") from None
        raise
    return path


def _listed(folder: Path, marker: str) -> set[str]:
    """The files (relative paths) a folder's marker says the tool wrote there."""
    lines = (folder / marker).read_text(encoding="utf-8", errors="replace").splitlines()[1:]
    return {line for line in lines if line}


def _files(folder: Path) -> set[str]:
    """Every entry under ``folder`` that is not a folder (files, links, anything else), as relative paths."""
    found = set()
    for root, directories, names in os.walk(folder):
        for name in names + [d for d in directories if os.path.islink(os.path.join(root, d))]:
            found.add(os.path.relpath(os.path.join(root, name), folder))
    return found


def _check_replaceable(path: Path, marker: str) -> bool:
    """Whether ``path`` exists as a folder the tool may replace (empty, or only its own files); else one line."""
    if not path.exists() and not path.is_symlink():
        return False
    if path.is_symlink() or not path.is_dir():
        raise OutputError(f"{path}: exists and is not a folder; give a new folder name")
    present = _files(path)
    if not present:
        return True
    if (path / marker).is_file() and not (path / marker).is_symlink():
        foreign = sorted(present - _listed(path, marker) - {marker})
    else:
        foreign = sorted(present)
    if foreign:
        shown = ", ".join(foreign[:_SHOWN_FOREIGN]) + (" ..." if len(foreign) > _SHOWN_FOREIGN else "")
        raise OutputError(f"{path}: holds files malpyeong-eval did not write ({shown}); give a new or empty folder")
    return True


def _new_folder_beside(path: Path, label: str) -> Path:
    while True:
        candidate = path.with_name(f".{path.name}.{label}-{secrets.token_hex(4)}")
        try:
            candidate.mkdir(mode=0o777)  # less the umask, as any new folder
            return candidate
        except FileExistsError:
            continue


@contextmanager
def output_folder(path: str | Path, marker: str, header: str = "written by malpyeong-eval; its files:") -> Iterator[Path]:
    """A new folder beside ``path`` to write into; when the block ends without error it replaces ``path``.

    ``path`` must be new, empty, or a folder the tool wrote before (its ``marker`` file lists every file
    in it); one holding anything else is refused before the block runs. The marker, listing what the
    block wrote, is added. On any error the new folder is removed and ``path`` is left as it was."""
    path = Path(path)
    replacing = _check_replaceable(path, marker)
    if not path.parent.is_dir():
        raise OutputError(f"{path}: folder {path.parent} does not exist")
    try:
        staging = _new_folder_beside(path, "new")
    except OSError as exc:
        raise OutputError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); nothing was written") from None
    try:
        yield staging
        written = sorted(_files(staging) - {marker})
        (staging / marker).write_text(header + "\n" + "".join(f"{name}\n" for name in written), encoding="utf-8")
        if replacing:
            _check_replaceable(path, marker)  # nothing of the user's may have arrived meanwhile
            os.chmod(staging, stat.S_IMODE(path.stat().st_mode))  # the folder keeps its mode, as a file does
            old = path.with_name(f".{path.name}.old-{secrets.token_hex(4)}")
            os.rename(path, old)
            try:
                os.rename(staging, path)
            except BaseException:
                os.rename(old, path)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(staging, path)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{path}: cannot write ({exc.strerror or type(exc).__name__}); "
                              "the previous folder, if any, is unchanged") from None
        raise


def spreadsheet_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that begins with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return (a formula, e.g. ``=HYPERLINK(...)``) gets a leading ``'``, as OWASP recommends."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value
