"""The command line gives torch as many threads as cores are free, and waiting threads sleep
(malpyeong_eval/cpu.py; the slowdown it prevents is measured by benchmarks/demo_timing.py)."""

import os
import sys

import pytest

from malpyeong_eval import cpu
from malpyeong_eval.cpu import free_cores, running_elsewhere, thread_settings


@pytest.mark.parametrize(("cores", "load", "free"), [(2, 0.1, 2), (2, 0.6, 1), (2, 6.4, 1), (16, 3.2, 13), (1, 0.0, 1),
                                                     (4, 0.0, 4)])
def test_free_cores_are_the_affinity_less_the_load(cores, load, free):
    assert free_cores(cores, load) == free


@pytest.mark.parametrize(("line", "elsewhere"), [("0.91 1.02 1.37 1/108 29057", 0), ("3.10 2.20 1.00 3/231 5012", 2)])
def test_other_work_is_counted_now_not_by_the_lagging_average(tmp_path, line, elsewhere):
    """The first line: just after a job ended the one-minute average is near 1 while nothing else runs."""
    (tmp_path / "loadavg").write_text(line + "\n")
    assert running_elsewhere(tmp_path / "loadavg") == elsewhere


def test_without_a_runnable_count_the_load_average_stands_in(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1.5, 1.0, 1.0))
    assert running_elsewhere(tmp_path / "missing") == 1.5


def test_the_user_s_thread_settings_win():
    assert thread_settings({}, cores=2, load=0.0) == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2",
                                                       "OMP_WAIT_POLICY": "PASSIVE"}
    assert thread_settings({}, cores=2, load=5.0)["OMP_NUM_THREADS"] == "1"
    # only OMP_NUM_THREADS given: MKL follows it; a given wait policy stays
    assert thread_settings({"OMP_NUM_THREADS": "3", "OMP_WAIT_POLICY": "ACTIVE"}, cores=2, load=0.0) == {"MKL_NUM_THREADS": "3"}
    assert thread_settings({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}) == {}


def test_the_command_line_sets_them_before_a_command_runs(monkeypatch, capsys):
    from malpyeong_eval.cli import main

    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(cpu, "running_elsewhere", lambda: 9)  # a busy machine: one thread
    monkeypatch.setattr(sys, "argv", ["malpyeong-eval", "--version"])
    with pytest.raises(SystemExit):
        main()
    assert "malpyeong-eval" in capsys.readouterr().out
    assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"], os.environ["OMP_WAIT_POLICY"]) == ("1", "1", "PASSIVE")


def test_torch_imported_already_gets_the_count_directly(monkeypatch):
    import torch

    from malpyeong_eval.cpu import configure_threads

    before = torch.get_num_threads()
    monkeypatch.setattr(cpu, "running_elsewhere", lambda: 0)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    try:
        environ: dict[str, str] = {}
        assert configure_threads(environ)["OMP_NUM_THREADS"] == "3" and environ["OMP_WAIT_POLICY"] == "PASSIVE"
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
