"""Comparing two recorded runs: matching cases, the verdicts, per-check diagnosis, warnings.

The statistics themselves are tested in tests/unit/stats/; here the reference for every number is
a direct call of ``compare_rates`` and ``decide`` on the counts, so what is checked is that the
right counts reach them and that what comes back is reported faithfully.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from promptcheck.comparison.adaptive import with_record
from promptcheck.comparison.engine import (
    CompareSettings,
    ComparisonReport,
    Side,
    compare_results,
)
from promptcheck.errors import ConfigError, StoreError
from promptcheck.report.comparison_text import text_lines
from promptcheck.results import CaseResult
from promptcheck.stats import (
    Change,
    ComparisonMonitor,
    compare_rates,
    decide,
    stopped_comparison,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result, run_summary

BASE = run_summary("base-run", "old", started_at=1_000.0, commit="a" * 40)
CAND = run_summary("cand-run", "new", started_at=2_000.0, commit="b" * 40)


def compare(
    baseline: list[CaseResult],
    candidate: list[CaseResult],
    settings: CompareSettings | None = None,
) -> ComparisonReport:
    return compare_results(BASE, baseline, CAND, candidate, settings)


def test_cases_are_matched_by_suite_path_and_id_and_the_rest_listed() -> None:
    baseline = [
        case_result("gone", 150, 150),
        case_result("kept", 150, 150),
        case_result("kept", 150, 150, suite_path="suites/b.yaml"),
    ]
    candidate = [
        case_result("kept", 150, 150, suite_path="suites/b.yaml"),
        case_result("kept", 150, 150),
        case_result("new", 150, 150),
    ]
    report = compare(baseline, candidate)
    assert [row.name for row in report.rows] == ["suites/a.yaml::kept", "suites/b.yaml::kept"]
    assert report.only_in_baseline == ("suites/a.yaml::gone",)
    assert report.only_in_candidate == ("suites/a.yaml::new",)
    assert report.counts == {
        "regressed": 0,
        "improved": 0,
        "inconclusive": 0,
        "unchanged": 2,
        "compared": 2,
        "only_in_baseline": 1,
        "only_in_candidate": 1,
    }
    assert any("compared on the 2 cases both runs hold; 2 other(s)" in w for w in report.warnings)


def test_one_broken_case_regresses_and_nothing_else_does() -> None:
    names = ["a", "b", "c", "d"]
    baseline = [case_result(name, 200, 200) for name in names]
    candidate = [case_result(name, 200 if name != "c" else 150, 200) for name in names]
    report = compare(baseline, candidate)
    changes = {row.case_id: row.change for row in report.rows}
    assert changes == {
        "a": Change.UNCHANGED,
        "b": Change.UNCHANGED,
        "c": Change.REGRESSED,
        "d": Change.UNCHANGED,
    }
    assert [row.case_id for row in report.failing("regressed")] == ["c"]
    assert report.headline == "1 case regressed"
    assert not report.warnings


def test_rows_carry_exactly_what_compare_rates_and_decide_give() -> None:
    baseline = [
        case_result("x", 390, 400, tags=["critical"]),
        case_result("y", 400, 400),
        case_result("z", 120, 150),
    ]
    candidate = [case_result("x", 130, 150), case_result("y", 149, 150, tags=["critical"])]
    candidate.append(case_result("z", 148, 150))
    settings = CompareSettings(margin=0.01, detect=0.06, alpha=0.1)
    report = compare(baseline, candidate, settings)
    expected = {
        f"suites/a.yaml::{b.case_id}": compare_rates(
            b.verdict.k, b.verdict.n, c.verdict.k, c.verdict.n, margin=0.01, tolerance=0.06
        )
        for b, c in zip(baseline, candidate, strict=True)
    }
    # critical when either run tags the case
    verdicts = decide(expected, critical={"suites/a.yaml::x", "suites/a.yaml::y"}, alpha=0.1)
    for row in report.rows:
        assert row.verdict == verdicts[row.name]
    by_id = {row.case_id: row for row in report.rows}
    assert by_id["x"].change is Change.REGRESSED and by_id["x"].verdict.critical
    assert by_id["z"].change is Change.IMPROVED
    assert by_id["y"].tags == ("critical",)


def test_small_samples_are_inconclusive_and_fail_only_when_asked() -> None:
    report = compare([case_result("a", 8, 8)], [case_result("a", 8, 8)])
    assert report.rows[0].change is Change.INCONCLUSIVE
    assert report.failing("regressed") == ()
    assert report.failing("inconclusive") == report.rows
    assert report.headline == "no regression found; 1 case inconclusive"


def test_a_short_baseline_is_reported() -> None:
    report = compare(
        [case_result("a", 40, 40), case_result("b", 200, 200)],
        [case_result("a", 100, 100), case_result("b", 150, 150)],
    )
    [weak] = [w for w in report.warnings if "can detect" in w]
    [fewer] = [w for w in report.warnings if "baseline" in w]
    a, b = report.rows
    assert a.detectable is not None and b.detectable is not None
    assert a.detectable > 0.15 > b.detectable
    assert report.detectable == a.detectable
    assert weak.startswith(f"these samples can detect drops of {a.detectable:.2f} or more")
    assert fewer.startswith("the baseline has fewer scored samples than the candidate in ")
    assert "suites/a.yaml::a" in fewer and "::b" not in fewer
    row = report.rows[0]
    assert row.notes == ("the baseline has fewer scored samples (40) than the candidate (100)",)


def test_an_all_errored_side_is_inconclusive_with_its_errors_counted() -> None:
    report = compare([case_result("a", 0, 0, errors=5)], [case_result("a", 150, 150)])
    row = report.rows[0]
    assert row.change is Change.INCONCLUSIVE
    assert row.baseline_errors == 5 and row.candidate_errors == 0
    assert "no scored samples in the baseline (5 of 5 errored)" in row.notes
    assert any(w.startswith("no scored samples on one side") for w in report.warnings)


def test_runs_that_do_not_fit_together_are_reported() -> None:
    base = run_summary("late", started_at=5_000.0, suites={"s.yaml": "1", "t.yaml": "2"})
    cand = run_summary("early", finished=False, suites={"s.yaml": "1", "t.yaml": "3"})
    case = case_result("a", 150, 150)
    report = compare_results(base, [case], cand, [case])
    text = "\n".join(report.warnings)
    assert "the baseline run late started after the candidate early" in text
    assert "run early never finished" in text
    assert "suite file(s) changed between the runs: t.yaml;" in text
    same = compare_results(base, [case], base, [case])
    assert "run late is compared with itself" in same.warnings


def test_no_case_in_common_compares_nothing() -> None:
    report = compare([case_result("a", 150, 150)], [case_result("b", 150, 150)])
    assert report.rows == ()
    assert report.headline == "no case in common: nothing compared"
    assert any("no case in common" in w for w in report.warnings)


def test_checks_that_failed_are_diagnosed_without_adjustment() -> None:
    tallies_b = [("equals", 200, 0), ("json_schema", 199, 1), ("regex", 200, 0)]
    tallies_c = [("equals", 200, 0), ("json_schema", 120, 80), ("length", 200, 0)]
    report = compare(
        [case_result("a", 199, 200, tallies=tallies_b)],
        [case_result("a", 120, 200, tallies=tallies_c)],
    )
    checks = report.rows[0].checks
    assert [(c.index, c.label, c.side) for c in checks] == [
        (1, "json_schema", Side.BOTH),
        (2, "length", Side.CANDIDATE),
        (2, "regex", Side.BASELINE),
    ]
    schema = checks[0]
    assert schema.direction == "dropped"
    assert schema.comparison == compare_rates(199, 200, 120, 200, tolerance=0.15)
    assert checks[1].comparison is None and checks[1].direction == ""


def test_a_case_twice_in_one_run_is_refused() -> None:
    twice = [case_result("a", 1, 1, model="x"), case_result("a", 1, 1, model="y")]
    with pytest.raises(StoreError, match=r"holds case suites/a.yaml::a more than once"):
        compare(twice, [case_result("a", 1, 1)])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"margin": 0.2, "detect": 0.15}, "the drop to detect must be above the margin"),
        ({"margin": 0.05, "detect": 0.05}, "the drop to detect must be above the margin"),
        ({"margin": -0.1}, "margin must be in"),
        ({"detect": 1.0}, "the drop to detect must be above the margin"),
        ({"alpha": 0.0}, "alpha must be in"),
        ({"beta": 1.5}, "beta must be in"),
        ({"power": 1.0}, "power must be in"),
    ],
)
def test_bad_settings_are_config_errors(settings: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CompareSettings(**settings)


def test_terminal_text_puts_the_worst_news_first() -> None:
    names = ["a-same", "b-better", "c-broken"]
    baseline = [case_result(n, 150 if n != "b-better" else 100, 150) for n in names]
    candidate = [case_result(n, 150 if n != "c-broken" else 90, 150) for n in names]
    candidate.append(case_result("d-new", 150, 150))
    lines = text_lines(compare(baseline, candidate))
    assert lines[0] == f"baseline  base-run (model old, commit {'a' * 12})"
    assert lines[1] == f"candidate cand-run (model new, commit {'b' * 12})"
    table = [line for line in lines if line.startswith("  suites/")]
    assert [line.split()[0] for line in table] == [
        "suites/a.yaml::c-broken",
        "suites/a.yaml::b-better",
        "suites/a.yaml::a-same",
    ]
    assert table[0].split()[1:5] == ["REGRESSED", "150/150", "=", "100.0%"]
    assert "3 cases compared: 1 regressed, 1 improved, 0 inconclusive, 1 unchanged" in lines
    assert "only in the candidate (not compared): suites/a.yaml::d-new" in lines
    assert lines[-1] == "verdict: 1 case regressed"
    # what the baseline is worth and what its samples can detect come before the table
    assert lines[3] == (
        "baseline strength: 150 scored samples a case (fewest 150), stored, recorded 0.0 "
        "day(s) before the candidate"
    )
    assert lines[4].startswith("these samples detect drops of 0.17 or more with power 0.8")


def stopped_early(result: CaseResult) -> CaseResult:
    """``result`` as an adaptive run records a case whose sampling stopped before its maximum."""
    adaptive = {"used": result.verdict.n, "max": 150, "stopped_early": True, "reason": "pass"}
    return dataclasses.replace(result, properties={"adaptive": adaptive})


def test_a_case_an_adaptive_run_drew_is_compared_with_anytime_valid_bounds() -> None:
    """Its stopped count is no fixed sample: read as one, it would raise false alarms."""
    baseline = [case_result("a", 150, 150), case_result("b", 150, 150)]
    candidate = [stopped_early(case_result("a", 40, 40)), case_result("b", 150, 150)]
    report = compare(baseline, candidate)
    by_id = {row.case_id: row for row in report.rows}
    assert by_id["a"].stopped_early == ("candidate",) and by_id["b"].stopped_early == ()
    a = by_id["a"].comparison
    assert a.method == "anytime" and by_id["b"].comparison.method == "exact"
    assert a == stopped_comparison(
        150,
        150,
        40,
        40,
        baseline_stopped=False,
        candidate_stopped=True,
        tolerance=0.15,
        note=a.note,
    )
    assert "sampled adaptively in the candidate run" in a.note
    [warning] = [w for w in report.warnings if "adaptive" in w]
    assert warning.startswith("adaptive sampling drew suites/a.yaml::a in one of the runs")
    assert "anytime-valid bounds" in warning
    assert not any("adaptive" in w for w in compare(baseline, baseline).warnings)


def test_a_stopped_count_flagged_by_the_fixed_test_is_not_flagged_by_the_valid_one() -> None:
    """A candidate stopped by its threshold monitor after failing 5 of its first 10 samples:
    read as a fixed sample against a 400-sample baseline it is a clear regression; but the
    monitor stops exactly when a case looks bad, and the anytime-valid bounds account for it."""
    baseline = [case_result("a", 360, 400)]
    candidate = [stopped_early(case_result("a", 6, 10))]
    fixed = compare_rates(360, 400, 6, 10, tolerance=0.15)
    assert fixed.p_regressed < 0.05
    report = compare(baseline, candidate)
    assert report.rows[0].comparison.p_regressed > fixed.p_regressed
    assert report.rows[0].change is not Change.REGRESSED


def test_a_recorded_sequential_comparison_is_read_back_for_its_baseline_run_only() -> None:
    monitor = ComparisonMonitor(baseline=(150, 150), tolerance=0.15, max_samples=150)
    assert monitor.update(40, 40) is not None
    sequential = monitor.comparison()
    candidate = [with_record(stopped_early(case_result("a", 40, 40)), sequential, BASE.id)]
    report = compare([case_result("a", 150, 150)], candidate)
    assert report.rows[0].comparison == sequential
    other = run_summary("other-run", "old", started_at=1_500.0)
    elsewhere = compare_results(other, [case_result("a", 150, 150)], CAND, candidate)
    assert elsewhere.rows[0].comparison.method == "anytime"
    different = compare([case_result("a", 149, 150)], candidate)
    assert different.rows[0].comparison.method == "anytime"
