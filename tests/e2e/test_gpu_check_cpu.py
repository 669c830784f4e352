"""benchmarks/gpu_check.py in its CPU mode (``--cpu --tiny``): the code a lent GPU runs, on tiny
shapes, so that the one prepared GPU check cannot rot between the rare runs on a GPU. It writes
every section with positive figures; a budget too small skips parts and says so; a part that
overruns is stopped, with its process group, and what it measured is kept."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("openai")
pytest.importorskip("peft")

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))

import gpu_check  # noqa: E402
from gpu_check_parts import junit_rows  # noqa: E402
from gpu_check_record import CheckRecord, render_markdown  # noqa: E402


def run_check(out: Path, *arguments: str, timeout: float) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--cpu", "--tiny", "--out", str(out), *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": path},
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def check(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, str]:
    """The record, the Markdown table and the printed output of one whole CPU-mode run."""
    out = tmp_path_factory.mktemp("gpu-check")
    completed = run_check(out, "--budget-seconds", "400", timeout=480)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    record = json.loads((out / "gpu_check.json").read_text())
    return record, (out / "gpu_check.md").read_text(), completed.stdout


def positive(row: dict[str, Any], *fields: str) -> None:
    for field in fields:
        assert isinstance(row[field], (int, float)) and row[field] > 0, (field, row)


def test_every_section_is_measured(check: tuple[dict[str, Any], str, str]) -> None:
    record, _, _ = check
    assert record["mode"] == {"device": "cpu", "tiny": True, "parts": list(gpu_check.PARTS)}
    environment = record["environment"]
    assert environment["torch"] and environment["transformers"] and environment["device_name"]
    assert record["finished"] and 0 < record["elapsed_seconds"] < record["budget_seconds"]
    sections = record["sections"]
    assert {part: sections[part]["status"] for part in gpu_check.PARTS} == dict.fromkeys(
        gpu_check.PARTS, "done"
    )

    tests = sections["tests"]
    names = {row["test"].split("::")[1].split("[")[0] for row in tests["rows"]}
    assert {
        "test_a_dolly_checkpoint_loads_in_half_precision_and_stops_at_end",
        "test_a_sample_does_not_depend_on_its_batch_on_cuda",
        "test_sampling_past_the_free_memory_is_a_backend_error_and_the_backend_goes_on",
        "test_a_checkpoint_larger_than_the_free_memory_is_a_backend_error",
        "test_bf16_training_on_cuda_lowers_the_loss_and_the_result_samples_there",
    } <= names
    assert all(row["outcome"] == "skipped" and "CUDA" in row["message"] for row in tests["rows"])
    assert tests["facts"]["skipped"] == len(tests["rows"]) and tests["facts"]["failed"] == 0

    sampling = sections["sampling"]
    assert sorted(row["n"] for row in sampling["rows"]) == [1, 4, 8]
    positive(sampling["facts"], "copy_bandwidth_gbps")
    for row in sampling["rows"]:
        positive(row, "promptcheck_tokens_per_s", "generate_tokens_per_s", "ratio_vs_generate",
                 "roofline_tokens_per_s", "roofline_fraction")  # fmt: skip

    serve = sections["serve"]
    assert [row["clients"] for row in serve["rows"]] == [1, 4, 2]  # the goal's rows first
    assert "http://127.0.0.1:" in serve["facts"]["url"]
    for row in serve["rows"]:
        positive(row, "requests", "completion_tokens", "tokens_per_s", "ratio_vs_one_client")
    assert serve["rows"][0]["ratio_vs_one_client"] == 1.0

    train = sections["train"]
    full, lora = train["rows"]
    assert (full["shape"], full["method"], lora["method"]) == ("tiny", "full", "lora")
    positive(train["facts"], "matmul_tflops")
    for row in (full, lora):
        positive(row, "tokens_per_s", "flops_per_token", "achieved_tflops", "mfu_measured_peak")
    # LoRA trains a few adapters and spends 4, not 6, FLOPs per frozen weight.
    assert lora["trainable_parameters"] < full["trainable_parameters"] / 5
    assert lora["flops_per_token"] < full["flops_per_token"]


def test_goals_are_shown_but_judged_on_gpu_shapes_only(
    check: tuple[dict[str, Any], str, str],
) -> None:
    record, _, _ = check
    goals = record["goals"]
    assert len(goals) == 5
    assert all(goal["met"] is None and "tiny" in goal["note"] for goal in goals)
    assert [goal["row"] for goal in goals] == ["N = 8", "N = 8", "N = 1", "4 clients", "tiny full"]


def test_the_markdown_table_holds_every_section_and_is_printed_last(
    check: tuple[dict[str, Any], str, str],
) -> None:
    record, markdown, stdout = check
    for title in ("## Goals", "## GPU tests", "## Local sampling", "## `promptcheck serve`",
                  "## Fine-tuning steps"):  # fmt: skip
        assert title in markdown
    assert markdown.count("status: **done**") == 4
    four = next(row for row in record["sections"]["serve"]["rows"] if row["clients"] == 4)
    assert f"| 4 | {four['requests']} |" in markdown
    assert "| tiny | lora | 2 x 64 |" in markdown
    assert stdout.rstrip().endswith(markdown.rstrip().splitlines()[-1])
    assert "[sampling" in stdout and "[train" in stdout  # progress, printed as it went


def test_a_budget_too_small_skips_every_part_and_says_so(tmp_path: Path) -> None:
    completed = run_check(tmp_path, "--budget-seconds", "2", timeout=120)
    assert completed.returncode == 1
    record = json.loads((tmp_path / "gpu_check.json").read_text())
    for part in gpu_check.PARTS:
        section = record["sections"][part]
        assert section["status"] == "skipped" and "of the 2 s budget left" in section["reason"]
    assert (tmp_path / "gpu_check.md").read_text().count("**skipped**") == 4


FOREVER_PART = """
import json, subprocess, sys, time
events = sys.argv[sys.argv.index("--events") + 1]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
with open(events, "a") as stream:
    stream.write(json.dumps({"event": "fact", "child": child.pid}) + "\\n")
    stream.write(json.dumps({"event": "row", "test": "t.py::t", "outcome": "passed"}) + "\\n")
time.sleep(600)
"""


def test_a_part_past_its_time_is_stopped_with_what_it_started_and_its_rows_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "forever.py"
    script.write_text(FOREVER_PART)
    monkeypatch.setattr(gpu_check, "PART_SCRIPT", script)
    record = CheckRecord(tmp_path / "out", {"device": "cpu", "tiny": True, "parts": ["tests"]}, 60)
    args = argparse.Namespace(tiny=True, out=tmp_path / "out")
    now = gpu_check.time.monotonic()
    events = tmp_path / "tests.jsonl"
    gpu_check.run_part("tests", events, now + 1, now + 3, args, "cpu", dict(os.environ), record)

    section = json.loads(record.json_path.read_text())["sections"]["tests"]
    assert section["status"] == "cut off" and "past its share of the budget" in section["reason"]
    assert section["rows"] == [{"test": "t.py::t", "outcome": "passed"}]
    child = section["facts"]["child"]
    status = Path(f"/proc/{child}/status")
    assert not status.exists() or "\tZ" in status.read_text()  # gone, or a zombie awaiting init


JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="tests.unit.backends.test_local_gpu" name="test_batch[bfloat16]"
 file="tests/unit/backends/test_local_gpu.py" time="1.5"><properties>
<property name="bfloat16 identical, mixed" value="0.859" /></properties>
<failure message="assert 0.4 &gt;= 0.5">long traceback</failure></testcase>
<testcase time="0.000" /></testsuite></testsuites>"""


def test_what_the_gpu_tests_record_reaches_the_json_and_the_markdown(tmp_path: Path) -> None:
    """On a GPU the tests record figures (record_property); on CPU they only skip, so this
    feeds the check a JUnit file as a GPU run writes it, interrupted after one failure."""
    (tmp_path / "j.xml").write_text(JUNIT)
    [row] = junit_rows(tmp_path / "j.xml")  # the placeholder of an interrupted run is left out
    assert row == {
        "test": "tests/unit/backends/test_local_gpu.py::test_batch[bfloat16]",
        "outcome": "failed",
        "message": "assert 0.4 >= 0.5",
        "seconds": 1.5,
        "properties": {"bfloat16 identical, mixed": "0.859"},
    }
    record = CheckRecord(tmp_path / "out", {"device": "cuda", "tiny": False, "parts": []}, 480)
    record.set_section("tests", {"status": "done", "rows": [row], "facts": {"failed": 1}})
    markdown = render_markdown(json.loads(record.json_path.read_text()))
    assert "| failed | assert 0.4 >= 0.5 | bfloat16 identical, mixed=0.859 |" in markdown
    goals = json.loads(record.json_path.read_text())["goals"]
    assert all(goal["met"] is None and goal["note"] == "not measured" for goal in goals)


def test_goals_are_judged_on_the_rows_of_the_gpu_shapes(tmp_path: Path) -> None:
    record = CheckRecord(tmp_path, {"device": "cuda", "tiny": False, "parts": []}, 480)
    sampling = [
        {"n": 16, "roofline_fraction": 0.9, "ratio_vs_generate": 9.0},
        {"n": 64, "roofline_fraction": 0.6, "ratio_vs_generate": 2.5},
        {"n": 1, "roofline_fraction": 0.01, "ratio_vs_generate": 0.5},
    ]
    train = [
        {"shape": "pythia-160m", "method": "full", "mfu": 0.5, "parameters": 1},
        {"shape": "dolly-v2-3b", "method": "lora", "mfu": 0.5, "parameters": 3},
        {"shape": "dolly-v2-3b", "method": "full", "mfu": 0.3, "parameters": 2},
    ]
    record.set_section("sampling", {"status": "done", "rows": sampling})
    record.set_section("train", {"status": "done", "rows": train})
    goals = json.loads(record.json_path.read_text())["goals"]
    assert [(g["row"], g["value"], g["met"]) for g in goals] == [
        ("N = 64", 0.6, True),
        ("N = 64", 2.5, True),
        ("N = 1", 0.5, False),
        (None, None, None),  # serve did not run
        ("dolly-v2-3b full", 0.3, False),
    ]
    assert "| N = 1 | 0.5 | 0.667 | **no** |" in record.markdown_path.read_text()
