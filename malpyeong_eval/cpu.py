"""How many CPU threads torch, MKL and OpenMP use: the cores this process may run on that are free.

By default they start one thread per core this process may use, and OpenMP's threads spin while they
wait for each other. Where other work holds the cores, a spinning thread burns the time slice its
partner needs, and every parallel operation waits for a thread that is not running: the demo's tiny
models ran many times slower beside a CPU-bound neighbour instead of two or three times
(``benchmarks/demo_timing.py`` measures it). So the command line, before torch is imported and unless
the user set them, sets ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS`` to the free cores (the cores of
the affinity mask less the threads of other work running at that instant, at least one) and
``OMP_WAIT_POLICY=PASSIVE`` (a waiting thread sleeps instead of spinning). A script or notebook can call
:func:`configure_threads` itself, before it imports torch.

Other work is counted at that instant (Linux's runnable count in ``/proc/loadavg``), not by the
one-minute load average: that average lags, so right after a previous job ended an idle machine
looked busy and the demo ran on one thread, a quarter slower.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

__all__ = ["configure_threads", "free_cores", "running_elsewhere", "thread_settings"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def running_elsewhere(loadavg: Path = Path("/proc/loadavg")) -> float:
    """The threads of other work running or ready to run now: Linux's runnable count less this
    process; elsewhere, the one-minute load average (0 where the system has none)."""
    try:
        runnable = int(loadavg.read_text().split()[3].split("/")[0])
    except (OSError, IndexError, ValueError):
        return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    return max(0, runnable - 1)


def free_cores(cores: int | None = None, load: float | None = None) -> int:
    """The cores this process may run on (``cores``: its affinity mask) that other work does not hold
    (``load``: :func:`running_elsewhere`), at least one."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None:
        load = running_elsewhere()
    return max(1, min(cores, cores - round(load)))


def thread_settings(environ: MutableMapping[str, str] | None = None, cores: int | None = None,
                    load: float | None = None) -> dict[str, str]:
    """The variables :func:`configure_threads` would set: the thread counts (both the user's
    ``OMP_NUM_THREADS`` when only it is given) and the wait policy, each only where it is not set."""
    environ = os.environ if environ is None else environ
    given = environ.get("OMP_NUM_THREADS") or environ.get("MKL_NUM_THREADS")
    threads = given if given else str(free_cores(cores, load))
    settings = {name: threads for name in THREAD_VARIABLES if not environ.get(name)}
    if not environ.get("OMP_WAIT_POLICY"):
        settings["OMP_WAIT_POLICY"] = "PASSIVE"
    return settings


def configure_threads(environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set :func:`thread_settings` in ``environ`` (the process's by default) and return what was set.
    OpenMP reads the variables when torch is first imported; where torch is imported already, its
    thread count is set directly (the wait policy then stays as it was)."""
    environ = os.environ if environ is None else environ
    settings = thread_settings(environ)
    environ.update(settings)
    torch = sys.modules.get("torch")
    if torch is not None and "OMP_NUM_THREADS" in settings:
        torch.set_num_threads(int(settings["OMP_NUM_THREADS"]))
    return settings
