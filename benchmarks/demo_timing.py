"""The demo's wall time as whole processes: cold (tiny models built) and warm (reused), on an idle
machine and beside a CPU-bound neighbour, with the command line's thread settings and with torch's
own defaults (a thread per core, OpenMP's spinning wait) — the cause of the slowdown under load.

    python benchmarks/demo_timing.py [--steps 20] [--neighbours N] [--only new|torch-defaults]

"new" is ``malpyeong-eval demo`` as a user runs it (:mod:`malpyeong_eval.cpu` sets the threads);
"torch defaults" runs the same command through its click object, without that step, in a process
whose thread variables are unset. The neighbour is N busy Python processes (default: one per core).
Each case starts from an empty cache (cold) and runs again on it (warm), each in its own database
and folder. Prints a table and the loaded/idle ratios.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from malpyeong_eval.cpu import running_elsewhere
from train.demo import DEMO_STEPS

MODES = {
    "new": [str(Path(sys.executable).with_name("malpyeong-eval"))],  # this environment's, activated or not
    "torch-defaults": [sys.executable, "-c", "import sys; from malpyeong_eval.cli import click_command; "
                       "sys.exit(click_command().main(sys.argv[1:], standalone_mode=True))"],
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")


def _spin() -> None:
    while True:
        pass


@contextmanager
def neighbours(count: int):
    """``count`` CPU-bound processes for the duration of the block."""
    workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    try:
        time.sleep(1.0 if count else 0.0)
        yield
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join()


def demo_seconds(mode: str, folder: Path, cache: Path, steps: int) -> float:
    """One demo as a whole process in ``folder`` with its model cache at ``cache``."""
    environ = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    environ.update(XDG_CACHE_HOME=str(cache), XDG_DATA_HOME=str(folder / "data"), HF_HUB_OFFLINE="1",
                   MALPYEONG_DB=f"sqlite:///{folder / 'demo.db'}")
    command = [*MODES[mode], "demo", "--steps", str(steps), "--output-dir", str(folder / "out")]
    started = time.perf_counter()
    done = subprocess.run(command, env=environ, cwd=folder, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{mode} demo failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEMO_STEPS, help=f"GRPO steps (the demo's default: {DEMO_STEPS})")
    parser.add_argument("--neighbours", type=int, default=len(os.sched_getaffinity(0)),
                        help="CPU-bound processes beside the loaded runs (default: one per core)")
    parser.add_argument("--only", choices=sorted(MODES), help="time one mode only")
    args = parser.parse_args()
    modes = [args.only] if args.only else list(MODES)
    print(f"{len(os.sched_getaffinity(0))} cores; other work running before: {running_elsewhere():.0f} "
          f"(load average {os.getloadavg()[0]:.2f}); demo --steps {args.steps}")
    results: dict[tuple[str, str, str], float] = {}
    for load, count in (("idle", 0), (f"{args.neighbours} neighbours", args.neighbours)):
        for mode in modes:
            with tempfile.TemporaryDirectory() as scratch, neighbours(count):
                cache = Path(scratch) / "cache"
                for temperature in ("cold", "warm"):
                    folder = Path(scratch) / temperature
                    folder.mkdir()
                    results[(load, mode, temperature)] = seconds = demo_seconds(mode, folder, cache, args.steps)
                    print(f"{load:>14}  {mode:>14}  {temperature}  {seconds:7.1f} s", flush=True)
    loaded = f"{args.neighbours} neighbours"
    for mode in modes:
        for temperature in ("cold", "warm"):
            ratio = results[(loaded, mode, temperature)] / results[("idle", mode, temperature)]
            print(f"{mode} {temperature}: loaded/idle = {ratio:.2f}")


if __name__ == "__main__":
    main()
