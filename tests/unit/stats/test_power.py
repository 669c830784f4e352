"""Budget planning: the exact power of the regression test, plans, and detectable drops.

The references are independent of the module's shortcuts: rejection regions from the p-value
table (every outcome's exact p-value), powers by summing binomial probabilities over every
outcome, and a seeded simulation of the test itself for the plan.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

from promptcheck.stats.power import (
    detectable_drop,
    first_rejection_level,
    forget_cuts,
    known_cuts,
    plan_budget,
    regression_power,
    rejection_cuts,
    remember_cuts,
    unchanged_probability,
)
from promptcheck.stats.two_sample import Alternative, exact_pvalue, pvalue_table

CASES = [
    (150, 150, 0.0, 0.001),
    (400, 90, -0.15, 0.004),
    (40, 30, -0.02, 0.01),
    (20, 20, 0.0, 0.05),
    (7, 13, -0.1, 0.2),
    (5, 5, 0.0, 0.01),
    (1, 3, 0.0, 0.5),
]


@pytest.mark.parametrize("alternative", ["less", "greater"])
@pytest.mark.parametrize(("n_b", "n_c", "delta0", "level"), CASES)
def test_the_cuts_are_the_exact_tests_rejection_region(
    n_b: int, n_c: int, delta0: float, level: float, alternative: Alternative
) -> None:
    rejected = pvalue_table(n_b, n_c, delta0, alternative) <= level
    cuts = rejection_cuts(n_b, n_c, delta0, level, alternative)
    counts = np.arange(n_c + 1)
    for k_b in range(n_b + 1):
        region = counts <= cuts[k_b] if alternative == "less" else counts >= cuts[k_b]
        assert (rejected[k_b] == region).all()
    assert not cuts.flags.writeable
    assert rejection_cuts(n_b, n_c, delta0, level, alternative) is cuts  # kept


def test_single_pvalues_agree_at_the_edge_of_the_region() -> None:
    cuts = rejection_cuts(400, 150, 0.0, 0.001)
    for k_b in (380, 390, 400):
        cut = int(cuts[k_b])
        assert exact_pvalue(k_b, 400, cut, 150, 0.0, "less") <= 0.001
        assert exact_pvalue(k_b, 400, cut + 1, 150, 0.0, "less") > 0.001


def brute_power(rate: float, n_b: int, n_c: int, drop: float, level: float) -> float:
    """Sum over every outcome of the binomial probability times the exact test's decision."""
    weights = np.outer(
        binom.pmf(np.arange(n_b + 1), n_b, rate),
        binom.pmf(np.arange(n_c + 1), n_c, max(rate - drop, 0.0)),
    )
    return float(weights[pvalue_table(n_b, n_c, 0.0, "less") <= level].sum())


@pytest.mark.parametrize(
    ("rate", "n_b", "n_c", "drop", "level"),
    [(0.95, 60, 40, 0.15, 0.01), (1.0, 30, 50, 0.1, 0.001), (0.7, 25, 25, 0.3, 0.05)],
)
def test_power_is_the_sum_over_every_outcome(
    rate: float, n_b: int, n_c: int, drop: float, level: float
) -> None:
    found = regression_power(rate, n_b, n_c, drop, level)
    assert found == pytest.approx(brute_power(rate, n_b, n_c, drop, level), abs=1e-12)


def test_unchanged_probability_is_the_sum_over_every_outcome() -> None:
    rate, n_b, n_c, tolerance, level = 0.96, 50, 40, 0.15, 0.01
    weights = np.outer(
        binom.pmf(np.arange(n_b + 1), n_b, rate), binom.pmf(np.arange(n_c + 1), n_c, rate)
    )
    shown = pvalue_table(n_b, n_c, -tolerance, "greater") <= level
    found = unchanged_probability(rate, n_b, n_c, tolerance, level)
    assert found == pytest.approx(float(weights[shown].sum()), abs=1e-12)


def test_a_plan_is_the_fewest_samples_that_reach_the_target() -> None:
    level = first_rejection_level(0.05, 50)
    plan = plan_budget(0.95, drop=0.15, target=0.8, level=level)
    assert plan.reached and plan.samples % 10 == 0
    assert plan.samples == plan.baseline_samples  # live: both models draw it
    assert plan.power == regression_power(0.95, plan.samples, plan.samples, 0.15, level) >= 0.8
    fewer = plan.samples - 10
    assert regression_power(0.95, fewer, fewer, 0.15, level) < 0.8
    # the documented figure: 150 a model, power 0.83 (docs/statistics.md)
    assert (plan.samples, round(plan.power, 2)) == (150, 0.83)


def test_a_plan_holds_up_in_a_simulation_of_the_test() -> None:
    """Draw both samples at the plan and run the exact test: the power is as computed."""
    level, runs = 0.01, 3000
    plan = plan_budget(0.9, drop=0.2, target=0.8, level=level)
    rng = np.random.default_rng(3)
    k_b = rng.binomial(plan.baseline_samples, 0.9, runs)
    k_c = rng.binomial(plan.samples, 0.7, runs)
    table = pvalue_table(plan.baseline_samples, plan.samples, 0.0, "less")
    simulated = float((table[k_b, k_c] <= level).mean())
    assert simulated == pytest.approx(plan.power, abs=4 * math.sqrt(0.25 / runs))


def test_a_large_stored_baseline_needs_fewer_candidate_samples() -> None:
    level = 0.001
    live = plan_budget(0.95, drop=0.15, target=0.8, level=level)
    pinned = plan_budget(0.95, drop=0.15, target=0.8, level=level, baseline=400)
    assert pinned.samples < live.samples and pinned.baseline_samples == 400
    short = plan_budget(0.95, drop=0.15, target=0.8, level=level, baseline=20)
    assert short.baseline_samples == short.samples  # topped up to the candidate's samples
    stuck = plan_budget(0.95, drop=0.15, target=0.8, level=level, baseline=20, top_up=False)
    assert not stuck.reached and stuck.baseline_samples == 20 and stuck.power < 0.8


def test_asking_for_unchanged_cases_costs_samples() -> None:
    level, m = 0.001, 50
    alone = plan_budget(0.95, drop=0.15, target=0.8, level=level, baseline=400)
    both = plan_budget(
        0.95, drop=0.15, target=0.8, level=level, baseline=400, unchanged=(0.2 / m, 1 - 0.05 / m)
    )
    assert both.samples > alone.samples
    assert both.unchanged is not None and both.unchanged >= 1 - 0.05 / m
    assert unchanged_probability(0.95, 400, both.samples - 10, 0.15, 0.2 / m) < 1 - 0.05 / m


def test_the_detectable_drop_inverts_the_power() -> None:
    level = 0.001
    drop = detectable_drop(0.95, 150, 150, target=0.8, level=level)
    assert drop is not None and drop < 0.15
    assert regression_power(0.95, 150, 150, drop, level) >= 0.8
    assert regression_power(0.95, 150, 150, drop - 0.002, level) < 0.8
    # twenty samples a case, the suite default, against a twenty-sample baseline
    weak = detectable_drop(0.95, 20, 20, target=0.8, level=level)
    assert weak is not None and weak > 0.5
    assert detectable_drop(0.95, 2, 2, target=0.8, level=level) is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 1.5},
        {"drop": 0.0},
        {"drop": 0.05, "margin": 0.05},
        {"target": 1.0},
        {"step": 0},
        {"cap": 5},
    ],
)
def test_bad_plans_are_refused(kwargs: dict[str, float]) -> None:
    args: dict[str, float] = {"rate": 0.95, "drop": 0.15, "target": 0.8, "level": 0.01}
    args.update(kwargs)
    rate = args.pop("rate")
    with pytest.raises(ValueError):
        plan_budget(rate, **args)  # type: ignore[arg-type]


def test_levels_and_sizes_are_checked() -> None:
    assert first_rejection_level(0.05, 50) == pytest.approx(0.001)
    with pytest.raises(ValueError):
        first_rejection_level(0.05, 0)
    with pytest.raises(ValueError):
        rejection_cuts(0, 10, 0.0, 0.05)
    with pytest.raises(ValueError):
        rejection_cuts(10, 10, 0.0, 1.0)
    assert regression_power(0.9, 0, 10, 0.1, 0.05) == 0.0


def test_remembered_cut_offs_are_checked_before_they_are_used() -> None:
    forget_cuts()
    cuts = rejection_cuts(20, 20, 0.0, 0.05)
    kept = known_cuts()
    forget_cuts()
    key = (20, 20, 0.0, 0.05, "less")
    bad = {
        (20, 20, 0.0, 0.07, "less"): [0] * 20,  # one short
        (20, 20, 0.0, 0.08, "less"): [30] * 21,  # beyond the counts
        (20, 20, 0.0, 0.09, "less"): list(range(21, 0, -1)),  # falling
        (20, 20, 0.0, 0.1, "sideways"): [0] * 21,
    }
    assert remember_cuts({**bad, key: kept[key]}) == 1
    assert known_cuts() == {key: list(cuts)}
    assert (rejection_cuts(20, 20, 0.0, 0.05) == cuts).all()
