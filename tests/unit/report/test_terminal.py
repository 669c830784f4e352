"""The failure text of a case: what it says of a judge set aside below the calibration floor."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result

from promptcheck.report.terminal import diagnostic_judges, explain


def test_a_judge_below_the_floor_is_named_as_not_gating() -> None:
    failing = case_result("reply", 10, 24, tallies=[("equals", 10, 14), ("judge", 12, 12)])
    why = "below the calibration floor: sensitivity 0.50 (lower bound 0.31 < 0.70)"
    result = dataclasses.replace(
        failing,
        properties={"diagnostic_checks": [{"index": 1, "label": "judge", "why": why}]},
    )
    text = explain(result)
    assert "[1] judge   failed 12/24 (diagnostic only: not counted in the verdict)" in text
    assert "[0] equals  failed 14/24\n" in text
    assert f"check [1] does not gate: {why}" in text
    assert "does not gate" not in explain(failing)


def test_unreadable_diagnostic_entries_are_skipped() -> None:
    result = dataclasses.replace(
        case_result("reply", 1, 2),
        properties={"diagnostic_checks": ["junk", {"index": "1"}, {"index": 2}]},
    )
    assert diagnostic_judges(result) == {2: "below the calibration floor"}
