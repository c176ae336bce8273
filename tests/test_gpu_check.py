"""benchmarks/gpu_check.py: its CPU run at tiny shapes works end to end, and a missing package skips a section.

The script runs in the test process through its ``main(argv)``, as ``python benchmarks/gpu_check.py`` calls it."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
SECTIONS = ("generation_batched", "generation_baseline", "bertscore", "bleurt", "grpo")


@pytest.fixture
def gpu_check(monkeypatch):
    """The script as a module, in this process; the pooled scorers it frees between sections are a
    private pool, not this test process's."""
    from malpyeong_eval.metrics import pool

    monkeypatch.setattr(pool, "_POOL", {})
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    return importlib.import_module("gpu_check")


@pytest.mark.slow
def test_tiny_cpu_run_measures_every_section(tmp_path, gpu_check, capsys, monkeypatch):
    output = tmp_path / "gpu_check.json"
    monkeypatch.chdir(tmp_path)
    status = gpu_check.main(["--tiny", "--items", "6", "--baseline-items", "3", "--pairs", "45", "--output", str(output)])
    printed = capsys.readouterr()
    assert status == 0, printed.out[-3000:] + printed.err[-3000:]
    assert "generation_batched" in printed.out and "items_per_s" in printed.out  # the table
    results = json.loads(output.read_text(encoding="utf-8"))
    assert results["device"]["kind"] == "cpu" and results["shapes_name"] == "tiny"
    assert results["versions"]["torch"] and results["versions"]["transformers"]
    assert "--tiny" in results["command"] and results["date"][:2] == "20"
    sections = results["sections"]
    assert list(sections) == list(SECTIONS)
    assert all(record["status"] == "ok" for record in sections.values()), sections
    assert all(record["peak_allocated_gib"] is None for record in sections.values())  # CPU: null, said so
    assert "null" in results["memory_note"]

    batched, baseline = sections["generation_batched"], sections["generation_baseline"]
    assert batched["items"] == 6 and baseline["items"] == 3  # what was asked, not constants
    assert batched["max_new_tokens"] == 16 and batched["stops_at_eos"] is False
    for record in (batched, baseline):
        assert record["items_per_s"] > 0 and record["seconds"] > 0
        assert record["items_per_s"] == pytest.approx(record["items"] / record["seconds"], rel=1e-2)
    assert len(batched["batch_seconds"]) == 2  # 6 items, batches of 4
    for name in ("bertscore", "bleurt"):
        record = sections[name]
        assert record["pairs"] == 45 and record["distinct_pairs"] == 45  # beyond the sample's 40: still distinct
        assert record["pairs_per_s"] > 0 and record["values_finite"]
    assert sections["bertscore"]["layer"] == 2 and sections["bertscore"]["pairs_per_s_references_cached"] > 0

    grpo = sections["grpo"]
    assert grpo["steps"] == 2 and grpo["s_per_step"] > 0 and len(grpo["step_seconds"]) == 1
    assert grpo["first_step_s"] > 0 and grpo["loss_finite"] and grpo["fits_24gb"] is None
    assert grpo["rewards"] == ["format", "contest"] and grpo["lora_r"] == 16
    reward = grpo["in_format_reward"]
    assert reward["seconds"] > 0 and reward["completions"] == grpo["completions_per_step"] == 4
    assert reward["counted_fraction"] > 0 and reward["values_finite"]  # the reward models did score
    built = results["built"]
    assert set(built) == {"policy", "bert", "bleurt"} and all(info["parameters"] > 0 for info in built.values())


@pytest.mark.parametrize(("package", "section"), [("trl", "grpo"), ("bert_score", "bertscore")])
def test_a_missing_package_skips_its_section(package, section, tmp_path, gpu_check, capsys):
    output = tmp_path / "skip.json"
    assert gpu_check.main(["--tiny", "--only", section, "--without", package, "--output", str(output)]) == 0
    record = json.loads(output.read_text(encoding="utf-8"))["sections"][section]
    assert record == {"status": "skipped", "reason": f"needs {package}, disabled by --without {package}"}
    assert "skipped" in capsys.readouterr().out
    assert sys.modules.get(package, "not imported") is not None  # disabled only while the check ran


def test_an_import_error_reads_as_not_installed(monkeypatch, gpu_check):
    monkeypatch.setitem(gpu_check.NEEDS, "grpo", ("no_such_package_here",))
    check = gpu_check.Check(args=gpu_check.parse_args(["--tiny"]), device="cpu", shapes=gpu_check.SHAPES["tiny"],
                            folder=Path("."), texts=[], without=frozenset())
    record = gpu_check.run_section(check, "grpo")
    assert record["status"] == "skipped" and "no_such_package_here, which is not installed" in record["reason"]
