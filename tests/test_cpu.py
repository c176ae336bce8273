"""The command line gives torch as many threads as cores are free, and waiting threads sleep
(malpyeong_eval/cpu.py; the slowdown it prevents is measured by benchmarks/demo_timing.py)."""

import os
import sys

import pytest

from malpyeong_eval.cpu import free_cores, thread_settings


@pytest.mark.parametrize(("cores", "load", "free"), [(2, 0.1, 2), (2, 0.6, 1), (2, 6.4, 1), (16, 3.2, 13), (1, 0.0, 1),
                                                     (4, 0.0, 4)])
def test_free_cores_are_the_affinity_less_the_load(cores, load, free):
    assert free_cores(cores, load) == free


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
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 9.0, 9.0))  # a busy machine: one thread
    monkeypatch.setattr(sys, "argv", ["malpyeong-eval", "--version"])
    with pytest.raises(SystemExit):
        main()
    assert "malpyeong-eval" in capsys.readouterr().out
    assert (os.environ["OMP_NUM_THREADS"], os.environ["MKL_NUM_THREADS"], os.environ["OMP_WAIT_POLICY"]) == ("1", "1", "PASSIVE")


def test_torch_imported_already_gets_the_count_directly(monkeypatch):
    import torch

    from malpyeong_eval.cpu import configure_threads

    before = torch.get_num_threads()
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2})
    try:
        environ: dict[str, str] = {}
        assert configure_threads(environ)["OMP_NUM_THREADS"] == "3" and environ["OMP_WAIT_POLICY"] == "PASSIVE"
        assert torch.get_num_threads() == 3
    finally:
        torch.set_num_threads(before)
