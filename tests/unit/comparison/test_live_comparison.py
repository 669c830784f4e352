"""The live comparison's pure parts: resolving ``--promptcheck-baseline`` and the report."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from promptcheck.comparison.engine import CompareSettings, compare_results
from promptcheck.comparison.live import (
    build_report,
    needs_top_up,
    resolve_baseline,
    row_for,
    top_up_size,
)
from promptcheck.errors import ConfigError
from promptcheck.stats import Change, ComparisonMonitor
from promptcheck.store.database import RunInfo, Store

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result, run_summary

BASE = run_summary("base-run", "old", started_at=1_000.0)
CAND = run_summary("cand-run", "new", started_at=2_000.0)


def test_without_sequential_comparisons_the_report_is_the_offline_one() -> None:
    baseline = [case_result("a", 150, 150), case_result("b", 150, 150)]
    candidate = [case_result("a", 100, 150), case_result("b", 150, 150)]
    settings = CompareSettings()
    live = build_report(BASE, baseline, CAND, candidate, settings)
    assert live == compare_results(BASE, baseline, CAND, candidate, settings)
    assert [row.change for row in live.rows] == [Change.REGRESSED, Change.UNCHANGED]


def test_sequential_comparisons_replace_the_fixed_ones_before_the_suite_decision() -> None:
    baseline = [case_result("a", 60, 60), case_result("b", 150, 150)]
    candidate = [case_result("a", 60, 60), case_result("b", 150, 150)]
    monitor = ComparisonMonitor(max_samples=150)
    assert monitor.update(60, 60, 60, 60) is not None  # stopped early: unchanged
    sequential = {"suites/a.yaml::a": monitor.comparison()}
    report = build_report(
        BASE, baseline, CAND, candidate, CompareSettings(), sequential, ["a note"]
    )
    row = row_for(report, "suites/a.yaml", "a")
    assert row is not None
    assert row.comparison.method == "sequential"
    assert row.change == Change.UNCHANGED
    other = row_for(report, "suites/a.yaml", "b")
    assert other is not None and other.comparison.method == "exact"
    assert report.warnings[-1] == "a note"
    assert row_for(report, "suites/a.yaml", "missing") is None


def test_a_live_comparison_of_an_early_stop_does_not_warn_about_anytime_bounds() -> None:
    """Offline, an early-stopped case is compared with anytime-valid bounds (a warning says so);
    live, its comparison is the sequential one, and the warning would be false."""
    adaptive = {"used": 60, "max": 150, "stopped_early": True, "reason": "unchanged"}
    baseline = [case_result("a", 60, 60), case_result("b", 150, 150)]
    candidate = [
        dataclasses.replace(case_result("a", 60, 60), properties={"adaptive": adaptive}),
        case_result("b", 150, 150),
    ]
    settings = CompareSettings()
    offline = build_report(BASE, baseline, CAND, candidate, settings)
    assert any("adaptive sampling drew suites/a.yaml::a" in w for w in offline.warnings)
    monitor = ComparisonMonitor(max_samples=150, tolerance=0.15)
    assert monitor.update(60, 60, 60, 60) is not None
    sequential = {"suites/a.yaml::a": monitor.comparison()}
    live = build_report(BASE, baseline, CAND, candidate, settings, sequential)
    assert not any("adaptive" in w for w in live.warnings)


def test_a_baseline_shorter_than_the_plan_or_stopped_adaptively_needs_topping_up() -> None:
    stored = case_result("a", 10, 10)
    assert needs_top_up(stored, 40)
    assert not needs_top_up(stored, 10)
    adaptive = {"used": 30, "max": 100, "stopped_early": True, "reason": "pass"}
    stopped = dataclasses.replace(case_result("a", 30, 30), properties={"adaptive": adaptive})
    assert needs_top_up(stopped, 20)
    # to a size fixed before any sample was seen: its maximum, or the budget when larger
    assert top_up_size(stopped, 20) == 100
    assert top_up_size(stopped, 190) == 190


def test_a_configured_model_is_a_live_baseline(tmp_path: Path) -> None:
    baseline = resolve_baseline("old", ["old", "new"], tmp_path / "none.db")
    assert baseline.live and baseline.model == "old"


def test_a_stored_run_is_found_by_label(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with Store(path) as store:
        store.create_run(RunInfo("run-1", "s", "old", {}, 1.0, label="blessed"))
        store.record_case("run-1", case_result("a", 5, 5, model="old"))
    baseline = resolve_baseline("blessed", ["new"], path)
    assert not baseline.live
    assert baseline.run is not None and baseline.run.id == "run-1"
    assert baseline.model == "old"
    assert list(baseline.cases) == [("suites/a.yaml", "a")]


def test_an_unknown_baseline_says_what_exists(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no run store at") as missing:
        resolve_baseline("nope", ["new", "old"], tmp_path / "none.db")
    assert "defined models: new, old" in str(missing.value)
    path = tmp_path / "store.db"
    Store(path).close()
    with pytest.raises(ConfigError, match="no run id, id prefix or label matches 'nope'"):
        resolve_baseline("nope", ["new"], path)
