"""Judges against the human labels: the 2x2 table, the floor, the corrected rate, and what the
store records for the runner."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from promptcheck.config import JudgeFloor
from promptcheck.results import Status
from promptcheck.review.calibration import (
    JudgeKey,
    calibrate,
    calibration_rows,
    floor_decision,
    judge_verdicts,
)
from promptcheck.review.workspace import ReviewWorkspace
from promptcheck.stats import clopper_pearson
from promptcheck.stats.agreement import cohen_kappa, rogan_gladen
from promptcheck.store.database import Store
from promptcheck.store.reviews import ItemKey, Rating

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.judged_runs import judged_case, record_run

P, F, U = Status.PASS, Status.FAIL, Status.UNSCORED
KEY = JudgeKey("triage", "c1", 1, "big", "judge")


def test_calibrate_counts_the_table_with_pass_as_positive() -> None:
    # (human, judge): 6 both pass, 2 judge fails a human pass, 1 judge passes a human fail,
    # 3 both fail
    pairs = [(True, True)] * 6 + [(True, False)] * 2 + [(False, True)] + [(False, False)] * 3
    c = calibrate(KEY, pairs)
    assert (c.both_pass, c.judge_fail_human_pass, c.judge_pass_human_fail, c.both_fail) == (
        6,
        2,
        1,
        3,
    )
    assert c.sensitivity.value == pytest.approx(6 / 8)
    assert c.sensitivity.interval == clopper_pearson(6, 8)
    assert c.specificity.value == pytest.approx(3 / 4)
    assert c.kappa == cohen_kappa([[6, 2], [1, 3]])
    assert (c.human_pass, c.human_fail, c.items) == (8, 4, 12)


def test_the_floor_needs_enough_labels_of_each_kind_then_the_lower_bounds() -> None:
    floor = JudgeFloor(sensitivity=0.6, specificity=0.6, min_items=10)
    few = calibrate(KEY, [(True, True)] * 30 + [(False, False)] * 9)
    decision = floor_decision(few, floor)
    assert decision.gates and not decision.calibrated and "uncalibrated" in decision.reason
    good = calibrate(KEY, [(True, True)] * 30 + [(False, False)] * 30)
    assert floor_decision(good, floor).gates  # lower bounds 0.884
    # specificity 6/12: its lower bound 0.211 is under 0.6
    poor = calibrate(KEY, [(True, True)] * 30 + [(False, False)] * 6 + [(False, True)] * 6)
    decision = floor_decision(poor, floor)
    assert not decision.gates and decision.calibrated
    assert decision.reason == (
        "below the calibration floor: specificity 95% lower bound "
        f"{clopper_pearson(6, 12)[0]:.3f} < floor 0.6"
    )
    with_kappa = JudgeFloor(sensitivity=0.0, specificity=0.0, kappa=0.5, min_items=5)
    assert floor_decision(good, with_kappa).gates  # perfect agreement: kappa 1
    decision = floor_decision(poor, with_kappa)  # kappa 0.571, its lower bound below 0.5
    assert not decision.gates and "kappa 95% lower bound" in decision.reason
    assert "specificity" not in decision.reason


def test_judge_verdicts_read_gating_and_diagnostic_judges() -> None:
    case = judged_case("c1", [("a", True, P), ("b", False, U)])
    diagnostic = {
        "index": 2,
        "label": "self_critique",
        "judge": "small",
        "why": "below the floor",
        "verdicts": {"0": ["fail", "no"], "1": ["pass", "yes"]},
    }
    case = dataclasses.replace(
        case, properties={**case.properties, "diagnostic_checks": [diagnostic]}
    )
    found = judge_verdicts("r1", case)
    item = lambda i: ItemKey("r1", "suites/triage.yaml", "c1", "small", i)  # noqa: E731
    assert found[KEY] == {item(0): True, item(1): None}
    critic = JudgeKey("triage", "c1", 2, "small", "self_critique")
    assert found[critic] == {item(0): False, item(1): True}


def test_rows_pool_runs_and_correct_each_asked_run(tmp_path: Path) -> None:
    rated = judged_case("c1", [("x", True, P)] * 6 + [("y", False, F)] * 3 + [("z", False, P)])
    later = judged_case("c1", [("x", True, P)] * 5 + [("y", False, F)] * 5)
    digests = {ItemKey("r1", "suites/triage.yaml", "c1", "small", i): "d" for i in range(10)}
    labels = [True] * 6 + [False] * 4  # humans fail the last, which the judge passed
    ratings = [
        Rating("run:r1", key, "d", "alice", "pass" if label else "fail", 1.0)
        for key, label in zip(digests, labels, strict=True)
    ]
    (row,) = calibration_rows(
        {"r1": [rated], "r2": [later]}, ratings, digests, JudgeFloor(), runs=["r2"]
    )
    c = row.calibration
    assert (c.both_pass, c.judge_pass_human_fail, c.both_fail) == (6, 1, 3)
    (rate,) = row.corrected
    assert (rate.run_id, rate.positives, rate.judged) == ("r2", 5, 10)
    assert rate.corrected == rogan_gladen(5, 10, (6, 6), (3, 4))
    assert row.recorded is None and row.decision.gates and not row.decision.calibrated


def test_locking_records_the_calibration_the_runner_reads(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    # a judge that passes every output, half of which people fail
    samples = [(f"out {i}", True, P) for i in range(24)]
    record_run(store, "r1", [judged_case("c1", samples)])
    store.save_rater("alice", "a" * 64, 0.0)
    floor = JudgeFloor(sensitivity=0.5, specificity=0.5, min_items=10)
    workspace = ReviewWorkspace(store, floor=floor, overlap=1)
    review_set = workspace.open_set("r1")
    for item in workspace.items(review_set):
        verdict = "pass" if item.sides[0].key.sample % 2 else "fail"
        workspace.rate(review_set, item, "alice", [verdict])
    assert store.ungated_judges("triage", "c1") == {}  # nothing recorded before a lock
    workspace.lock(review_set, "alice")
    (record,) = store.judge_calibrations()
    assert (record.suite, record.case_id, record.check_index, record.judge) == (
        "triage",
        "c1",
        1,
        "big",
    )
    assert not record.gates
    assert record.figures["specificity"]["value"] == 0.0
    assert store.ungated_judges("triage", "c1") == {(1, "big"): record.reason}
    assert record.reason.startswith("below the calibration floor: specificity")


def queue_scenario(sensitivity: float, specificity: float, seed: int = 1) -> tuple:
    """300 outputs, 240 truly passing; the format check is right, the judge has the given
    error rates. Raters rate in the review queue's own order (disagreements first)."""
    import random

    from promptcheck.review.items import build_items
    from promptcheck.store.reviews import ReviewSet

    rng = random.Random(seed)
    samples = []
    for i in range(300):
        truth = i < 240
        right = rng.random() < (sensitivity if truth else specificity)
        samples.append((f"o{i}", truth, P if truth == right else F))
    case = judged_case("c1", samples)
    review_set = ReviewSet("run:r1", "run", "r1", None, 1, 1.0)
    digests = {
        ItemKey("r1", "suites/triage.yaml", "c1", "small", i): f"{i:064x}" for i in range(300)
    }
    items = build_items(review_set, {"r1": [case]}, digests)

    def rows(rated: int) -> list:
        ratings = [
            Rating(
                "run:r1",
                item.sides[0].key,
                item.sides[0].output_sha256,
                "alice",
                "pass" if item.sides[0].key.sample < 240 else "fail",
                float(t),
            )
            for t, item in enumerate(items[:rated])
        ]
        return calibration_rows({"r1": [case]}, ratings, digests, JudgeFloor(), runs=["r1"])

    return rows


def test_a_good_judge_rated_in_queue_order_is_not_switched_off() -> None:
    """The queue rates disagreements first: unweighted, a judge right 90% of the time looked
    right on none of the first 30 (the audit's finding). Weighted by stratum it is estimated
    without bias, and no stratum without a label leaves it uncalibrated rather than wrong."""
    rows = queue_scenario(0.9, 0.9)
    for rated in (10, 30, 60, 100):
        (row,) = rows(rated)
        assert row.decision.gates, (rated, row.decision.reason)
        c = row.calibration
        if c.missing is None:
            low, high = c.sensitivity.interval
            assert low <= 0.9 <= high and c.specificity.interval[0] <= 0.9
    (row,) = rows(60)
    assert row.calibration.missing is None and row.decision.calibrated


def test_a_bad_judge_rated_in_queue_order_is_still_switched_off() -> None:
    rows = queue_scenario(0.4, 0.4)
    (row,) = rows(250)  # 180 or so disagreements come first
    assert row.decision.calibrated and not row.decision.gates, row.decision.reason
