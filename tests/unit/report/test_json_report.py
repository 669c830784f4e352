"""The JSON form of a comparison: versioned, complete, and faithful to the report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from promptcheck.comparison.engine import compare_results
from promptcheck.report import json_report

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result, run_summary


def test_the_document_is_versioned_and_complete() -> None:
    base = run_summary("base", "old", label="baseline", commit="abc")
    cand = run_summary("cand", "new", started_at=2_000.0)
    baseline = [
        case_result("a", 200, 200, tallies=[("json_schema", 200, 0)], tags=["critical"]),
        case_result("b", 0, 0, errors=3),
        case_result("gone", 1, 1),
    ]
    candidate = [
        case_result("a", 100, 200, tallies=[("json_schema", 100, 100)]),
        case_result("b", 150, 150),
    ]
    report = compare_results(base, baseline, cand, candidate)
    text = json_report.render(report)
    document = json.loads(text)
    assert next(iter(document)) == "format_version"
    assert document["format_version"] == json_report.FORMAT_VERSION == 2
    assert document["kind"] == "promptcheck.comparison"
    assert document["headline"] == "1 case regressed"
    assert document["baseline"]["label"] == "baseline"
    assert document["candidate"]["model"] == "new"
    assert "min_baseline_samples" not in document["settings"]
    assert (document["settings"]["detect"], document["settings"]["power"]) == (0.15, 0.8)
    assert document["baseline_strength"] == {
        "fewest_samples": 0,
        "median_samples": 200,
        "age_days": round(report.strength.age_days, 3) if report.strength else None,
        "stored": True,
        "stale": False,
    }
    assert document["budget"] is None  # offline: nothing was planned
    assert document["detectable"] == report.detectable is not None
    assert document["counts"]["regressed"] == 1 and document["counts"]["inconclusive"] == 1
    assert document["only_in_baseline"] == ["suites/a.yaml::gone"]
    assert document["warnings"] == list(report.warnings)

    a, b = document["cases"]
    row = report.rows[0]
    assert a["name"] == "suites/a.yaml::a" and a["critical"] is True
    assert a["change"] == "regressed"
    assert a["baseline"] == {
        "k": 200,
        "n": 200,
        "rate": 1.0,
        "interval": list(row.comparison.baseline_interval),
        "errors": 0,
        "unscored": 0,
    }
    assert a["difference"] == -0.5
    assert a["difference_interval"] == list(row.comparison.interval)
    assert a["p_regressed_adjusted"] == row.verdict.p_regressed_adjusted
    assert a["p_noninferior"] == row.comparison.p_noninferior
    assert a["p_noninferior_adjusted"] == row.verdict.p_noninferior_adjusted
    assert a["noninferior"] is False and a["detectable"] == row.detectable
    assert a["explanation"] == row.verdict.explanation
    (check,) = a["check_diagnosis"]
    assert (check["label"], check["side"], check["direction"]) == ("json_schema", "both", "dropped")
    assert check["candidate"]["k"] == 100

    assert b["change"] == "inconclusive"
    assert b["baseline"]["rate"] is None and b["difference"] is None
    assert b["baseline"]["errors"] == 3
