"""A comparison's budget: which rate a case is planned at, what it draws, what a cap detects,
and what a plan costs at a model's recorded pace."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from promptcheck.comparison.budget import (
    Budget,
    CaseInput,
    Targets,
    baseline_draws,
    budget_for,
    case_budget,
    kept_cuts,
    plan_case,
    planning_rate,
)
from promptcheck.comparison.costs import Estimate, pace
from promptcheck.stats import detectable_drop, lower_bound
from promptcheck.stats.power import forget_cuts, known_cuts

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.case_results import case_result, run_summary

TARGETS = Targets(alpha=0.05, beta=0.2, margin=0.0, detect=0.15, power=0.8)


def test_rates_round_towards_the_rate_that_needs_the_most_samples() -> None:
    assert planning_rate(0.95, None, 0.15) == pytest.approx(0.95)
    assert planning_rate(0.957, None, 0.15) == pytest.approx(0.95)  # down, above 0.575
    assert planning_rate(0.301, None, 0.15) == pytest.approx(0.31)  # up, below it
    bound = lower_bound(390, 400, 0.8)
    assert planning_rate(0.95, (390, 400), 0.15) == pytest.approx(int(bound * 100) / 100)
    assert planning_rate(0.95, (400, 400), 0.15) < 1.0


def test_a_live_case_draws_its_threshold_plan_on_both_models() -> None:
    found = case_budget(
        "a",
        threshold=0.95,
        suite_samples=20,
        targets=TARGETS,
        cases=50,
        stored=None,
        top_up=True,
        option=None,
    )
    expected = plan_case(0.95, TARGETS, 50, 0, True)
    assert (found.samples, found.plan) == (expected.samples, expected)
    assert not found.from_baseline and not found.short and found.detectable is None
    assert baseline_draws(found) == found.samples


def test_a_suite_that_asks_for_more_than_the_plan_gets_it() -> None:
    found = case_budget(
        "a",
        threshold=0.95,
        suite_samples=1000,
        targets=TARGETS,
        cases=3,
        stored=None,
        top_up=True,
        option=None,
    )
    assert found.samples == 1000 and found.plan.samples < 1000


def test_a_short_stored_baseline_is_topped_up_to_a_size_its_outcomes_do_not_decide() -> None:
    """However its 20 stored samples came out, the top-up and the candidate's size are the
    same: a size chosen after seeing outcomes would bias the exact test."""
    sizes = {
        (found.samples, found.baseline_target)
        for k in range(10, 21)
        for found in [
            case_budget(
                "a",
                threshold=0.95,
                suite_samples=20,
                targets=TARGETS,
                cases=50,
                stored=(k, 20),
                top_up=True,
                option=None,
            )
        ]
    }
    ((samples, target),) = sizes
    assert target == samples > 20
    assert plan_case(0.95, TARGETS, 50, 20, True).samples == samples


def test_a_long_stored_baseline_plans_the_candidate_at_its_lower_bound() -> None:
    perfect, worse = (
        case_budget(
            "a",
            threshold=0.95,
            suite_samples=20,
            targets=TARGETS,
            cases=50,
            stored=(k, 400),
            top_up=True,
            option=None,
        )
        for k in (400, 370)
    )
    for found in (perfect, worse):
        assert found.from_baseline and found.baseline_target is None
        assert baseline_draws(found) == 0
    assert perfect.samples < worse.samples  # a perfect baseline needs fewer candidate samples
    rate = planning_rate(0.95, (370, 400), 0.15)
    assert worse.plan == plan_case(rate, TARGETS, 50, 400, top_up=False)


def test_a_cap_below_the_plan_states_the_drop_it_detects() -> None:
    found = case_budget(
        "a",
        threshold=0.95,
        suite_samples=20,
        targets=TARGETS,
        cases=50,
        stored=None,
        top_up=True,
        option=20,
    )
    assert found.samples == 20 and found.short
    assert found.detectable == detectable_drop(0.95, 20, 20, target=0.8, level=0.001)
    budget = Budget(TARGETS, (found,), 20)
    assert budget.weakest == found.detectable
    assert any(
        f"this run can detect drops of {found.detectable:.2f} or more" in line
        for line in budget.lines()
    )


def test_a_baseline_that_cannot_be_topped_up_limits_the_plan() -> None:
    found = case_budget(
        "a",
        threshold=0.95,
        suite_samples=20,
        targets=TARGETS,
        cases=50,
        stored=(20, 20),
        top_up=False,
        option=None,
    )
    assert found.baseline_target is None and found.short
    assert found.detectable is None or found.detectable > 0.15


def test_a_baseline_stopped_by_adaptive_sampling_plans_as_if_nothing_were_stored() -> None:
    stopped = dataclasses.replace(
        case_result("a", 30, 30),
        properties={"adaptive": {"used": 30, "max": 100, "stopped_early": True, "reason": ""}},
    )
    budget = budget_for(
        [CaseInput("a", 0.95, 20, stopped, True), CaseInput("b", 0.95, 20, None, True)],
        TARGETS,
        None,
    )
    a, b = budget.cases
    assert a.samples == b.samples and a.baseline_target == a.samples
    assert not a.from_baseline


def test_pace_averages_the_recorded_usage_per_sample() -> None:
    runs = [
        dataclasses.replace(
            run_summary("r1", "m", started_at=0.0),
            samples=100,
            finished_at=50.0,
            usage={"requests": 100, "prompt_tokens": 1_000, "completion_tokens": 500},
        ),
        dataclasses.replace(
            run_summary("r2", "m", started_at=0.0),
            samples=100,
            finished_at=150.0,
            usage={"requests": 50, "prompt_tokens": 3_000, "completion_tokens": 500, "cost": 1.0},
        ),
        dataclasses.replace(run_summary("other", "x"), samples=10),
    ]
    found = pace("m", runs, prices=(1.0, 2.0))
    assert found.runs == 2
    assert found.requests == pytest.approx(0.75)
    assert found.tokens == pytest.approx(25.0)
    # r1 priced from its tokens (1,000 x 1 + 500 x 2 per 1,000), r2 from its recorded cost
    assert found.cost == pytest.approx((2.0 + 1.0) / 200)
    assert found.seconds == pytest.approx(1.0)
    assert found.estimate(10) == Estimate(10, 7.5, 250.0, 0.15, 10.0)
    unknown = pace("m", runs[:1])
    assert unknown.cost is None and unknown.estimate(5).cost is None
    assert pace("nobody", runs) == pace("nobody", [])


def test_cut_offs_are_kept_beside_the_store_and_a_damaged_file_is_ignored(tmp_path: Path) -> None:
    cases = [CaseInput("a", 0.95, 20, None, True), CaseInput("b", 0.9, 20, None, True)]
    with kept_cuts(tmp_path):
        first = budget_for(cases, TARGETS, None)
    kept = tmp_path / "power-cache.json"
    data = json.loads(kept.read_text(encoding="utf-8"))
    assert data["entries"] and data["identity"]["format"] == 1
    forget_cuts()
    with kept_cuts(tmp_path):
        assert known_cuts()  # read back before planning
        assert budget_for(cases, TARGETS, None) == first
    # a foreign or damaged file is ignored, never an error
    for text in ("{not json", json.dumps({"identity": {"format": 0}, "entries": [[1]]})):
        kept.write_text(text, encoding="utf-8")
        forget_cuts()
        with kept_cuts(tmp_path):
            assert not known_cuts()
            assert budget_for(cases, TARGETS, None) == first
    blocked = tmp_path / "file"
    blocked.write_text("", encoding="utf-8")
    with kept_cuts(blocked / "below"):  # cannot be written: planning goes on
        assert budget_for(cases, TARGETS, None) == first
