"""Counts that adaptive sampling stopped, compared after the fact: valid however they stopped.

The claim checked: with nothing changed, a case whose candidate was sampled by the threshold
monitor (which stops early exactly when the case looks bad) is flagged regressed at a level with
at most that probability, where reading the stopped count as a fixed sample is not.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from promptcheck.stats.sequential import ThresholdMonitor, lower_bound_anytime
from promptcheck.stats.stopped import difference_pvalue, side_bound, stopped_comparison
from promptcheck.stats.threshold import clopper_pearson, lower_bound, upper_bound
from promptcheck.stats.two_sample import exact_pvalue


def stopped_count(rng: np.random.Generator, p: float, cap: int = 100) -> tuple[int, int]:
    """One case of a threshold run with --promptcheck-adaptive: where its monitor stopped."""
    monitor = ThresholdMonitor(0.95, max_samples=cap)
    k = n = 0
    while True:
        step = monitor.next_round()
        if step == 0:
            return k, n
        k += int(rng.binomial(step, p))
        n += step
        if monitor.update(k, n) is not None:
            return k, n


@functools.cache
def fixed_regression_pvalue(k_b: int, n_b: int, k_c: int, n_c: int) -> float:
    return exact_pvalue(k_b, n_b, k_c, n_c, 0.0, "less")


@functools.cache
def anytime_regression_pvalue(k_b: int, n_b: int, k_c: int, n_c: int, level: float) -> float:
    """The anytime p-value where it can be <= level, else 1: it needs the candidate's upper
    bound below the baseline's lower one at level / 2 each, and anytime bounds are wider than
    Clopper-Pearson's, so where Clopper-Pearson's do not separate it is above the level."""
    if upper_bound(k_c, n_c, 1 - level / 2) >= lower_bound(k_b, n_b, 1 - level / 2):
        return 1.0
    return difference_pvalue((k_b, n_b, True), (k_c, n_c, True), 0.0, upward=False)


def test_two_stopped_runs_compared_keep_the_level() -> None:
    """Both runs recorded with --promptcheck-adaptive, nothing changed, at p = 0.9 where the
    monitor often stops after a bad start (and passes lucky ones at 30 samples)."""
    rng = np.random.default_rng(5)
    level, runs = 0.05, 2000
    fixed = anytime = 0
    for _ in range(runs):
        k_b, n_b = stopped_count(rng, 0.9)
        k_c, n_c = stopped_count(rng, 0.9)
        fixed += fixed_regression_pvalue(k_b, n_b, k_c, n_c) <= level
        anytime += anytime_regression_pvalue(k_b, n_b, k_c, n_c, level) <= level
    slack = 4 * math.sqrt(level * (1 - level) / runs)
    assert anytime / runs <= level + slack
    # the reason for all this: read as fixed samples, the stopped counts exceed the level
    assert fixed / runs > level


def test_the_pvalue_is_the_least_level_the_bounds_show() -> None:
    base, cand = (360, 400, False), (20, 30, True)
    p = difference_pvalue(base, cand, 0.0, upward=False)

    def shown(level: float) -> bool:
        high_c = float(1 - lower_bound_anytime(10, 30, level / 2))
        low_b = 1 - upper_bound(40, 400, 1 - level / 2)
        return high_c - low_b < 0.0

    assert 0.0 < p < 1.0
    assert shown(p * 1.001)
    assert not shown(p / 1.05)


def test_a_fixed_side_is_bounded_by_clopper_pearson() -> None:
    c = stopped_comparison(
        360, 400, 30, 30, baseline_stopped=False, candidate_stopped=True, tolerance=0.15
    )
    assert c.baseline_interval == clopper_pearson(360, 400)
    assert c.candidate_interval != clopper_pearson(30, 30)  # anytime-valid: wider
    assert c.candidate_interval[0] < clopper_pearson(30, 30)[0]
    assert c.method == "anytime"
    levels = np.array([0.05])
    assert side_bound(0, 0, levels, upper=True, stopped=True)[0] == 1.0
    assert side_bound(5, 5, levels, upper=True, stopped=False)[0] == 1.0


@pytest.mark.parametrize("stopped", [False, True])
def test_no_samples_cannot_be_compared(stopped: bool) -> None:
    c = stopped_comparison(0, 0, 5, 5, baseline_stopped=stopped, candidate_stopped=True)
    assert c.p_regressed == c.p_improved == c.p_noninferior == 1.0
    assert c.interval == (-1.0, 1.0)


def test_a_clear_drop_is_still_shown() -> None:
    c = stopped_comparison(
        400, 400, 30, 60, baseline_stopped=False, candidate_stopped=True, tolerance=0.15
    )
    assert c.p_regressed < 1e-4 and c.p_noninferior == 1.0
    same = stopped_comparison(
        400, 400, 100, 100, baseline_stopped=True, candidate_stopped=True, tolerance=0.15
    )
    assert same.p_regressed == 1.0 and same.p_noninferior < 0.01
