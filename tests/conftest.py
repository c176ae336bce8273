"""Shared fixtures: offline Hub, the packaged sample data, tiny local scorer models."""

from __future__ import annotations

import json
import os
import sys
import tempfile

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # no Hub here: a model that is not local must fail fast
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One BLAS/OpenMP thread per process, for this one and the processes the tests start (they inherit it):
# the tests' models are tiny, and torch's default of a thread per core spends more on synchronising
# than on arithmetic (on a shared 2-core machine under load: a 16-step GRPO run 91 s with 2 threads,
# 47 s with 1; the hand-written BLEURT pass 73 ms a pair with 2, 3 ms with 1). Set either to override.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
if "torch" in sys.modules:  # imported by a plugin before this file: the variable came too late
    sys.modules["torch"].set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
# Output to a pipe is as wide as COLUMNS says (malpyeong_eval.report.piped_width): one width for every test,
# with or without pytest-xdist (whose workers set COLUMNS=80). tests/test_ranking.py renders 80, 100 and 120.
os.environ["COLUMNS"] = "100"
# trackio keeps its projects here for the whole session (read when trackio is first imported), never in ~/.cache
os.environ["TRACKIO_DIR"] = tempfile.mkdtemp(prefix="malpyeong-test-trackio-")

from malpyeong_eval.data import sample_path  # noqa: E402

# Modules whose module-scoped fixtures are expensive: under pytest-xdist each is sent whole to one
# worker, so they are built once (split across two workers, each would build them).
WHOLE_MODULES = {
    "tests/test_train.py": "the GRPO run its tests share",
    "tests/test_served.py": "the transformers serve server and the local predictions",
    "tests/test_serve.py": "the filled database, its server and the browser",
    "tests/test_context.py": "the policy trained to cite",
    "tests/test_official_scoring.py": "the reference scores",
}


@pytest.hookimpl(optionalhook=True)  # an xdist hook: no error where xdist is absent
def pytest_xdist_make_scheduler(config, log):
    """``--dist load`` (pyproject's addopts), except that each of :data:`WHOLE_MODULES` is one unit of
    work; the units with the most tests go first, single tests fill in around them. (xdist's own
    ``loadgroup`` does this by a mark, but it renames node ids through an attribute pytest 9 no
    longer reads, so its groups are silently split.)"""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WholeModulesScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in WHOLE_MODULES else nodeid

    return WholeModulesScheduling(config, log)


def pytest_collection_modifyitems(items) -> None:
    """The slow tests first (a stable sort: otherwise in collection order). The scheduler hands out the
    whole modules first, then single tests in this order, so a long test no longer starts last and keeps
    one worker busy after the other has finished."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per reason tests were skipped, with how many (pyproject's ``-rfE`` lists failures and
    errors only: a line per skipped test drowned the summary)."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in sorted(reasons.items(), key=lambda entry: -entry[1]):
        terminalreporter.write_line(f"skipped {count}: {reason}")


@pytest.fixture(scope="session")
def sample_texts() -> list[str]:
    """Every gold and predicted answer of the packaged sample."""
    texts = []
    for name in ("gold", "submission"):
        texts += [item["output"]["answer"] for item in json.loads(sample_path(name).read_text(encoding="utf-8"))]
    return texts


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, sample_texts) -> str:
    from malpyeong_eval.tiny_models import build_tiny_bert

    return str(build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), sample_texts))


@pytest.fixture(scope="session")
def tiny_bleurt(tmp_path_factory, sample_texts) -> str:
    from malpyeong_eval.tiny_models import build_tiny_bleurt

    return str(build_tiny_bleurt(tmp_path_factory.mktemp("tiny-bleurt"), sample_texts))


@pytest.fixture(scope="session")
def tiny_policy(tmp_path_factory, sample_texts) -> str:
    """A tiny Qwen2 chat model with a BPE vocabulary of the sample's answers and questions."""
    from malpyeong_eval.data import load_items
    from malpyeong_eval.tiny_models import build_tiny_qwen2

    questions = [item.question for item in load_items(sample_path("gold"))]
    return str(build_tiny_qwen2(tmp_path_factory.mktemp("tiny-qwen2"), sample_texts + questions))


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``malpyeong-eval ARGS`` in-process; returns (exit status, stdout, stderr)."""
    from malpyeong_eval.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["malpyeong-eval", *args])
        with pytest.raises(SystemExit) as info:
            main()
        captured = capsys.readouterr()
        return info.value.code, captured.out, captured.err

    return run


@pytest.fixture(scope="session")
def run_cli():
    """``cli`` for module- and session-scoped fixtures (an expensive run that several tests read):
    ``run_cli(*ARGS)`` runs ``malpyeong-eval ARGS`` in-process; returns (exit status, stdout, stderr)."""
    from cli_support import run_cli

    return run_cli
