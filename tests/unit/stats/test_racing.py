"""Racing rewrites and confirming the winner: the rules, the exact error rate, curtailment.

The false-fix rate is checked exactly (binomial sums, against scipy), curtailment by replaying
seeded sequences against the fixed-size decision, and the race by its stopping rules and by the
simultaneous coverage of its bounds (the property that keeps the best rewrite in the race).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from promptcheck.stats.racing import (
    Race,
    anytime_bounds,
    confirm_noninferior,
    confirm_threshold,
    fix_probability,
    minimum_conforming,
    passes_threshold,
)
from promptcheck.stats.threshold import Outcome, threshold_verdict
from promptcheck.stats.two_sample import compare_rates


@pytest.mark.parametrize("planned", [10, 30, 49, 50, 100, 150, 400])
@pytest.mark.parametrize(("threshold", "tolerance"), [(0.95, 0.05), (0.9, 0.1), (1.0, 0.05)])
def test_the_minimum_is_where_the_threshold_verdict_starts_to_pass(
    planned: int, threshold: float, tolerance: float
) -> None:
    minimum = minimum_conforming(planned, threshold, tolerance)
    for k in range(planned + 1):
        verdict = threshold_verdict(k, planned, threshold, tolerance=tolerance, beta=0.05)
        assert (verdict.outcome is Outcome.PASS) == (k >= minimum), k


@pytest.mark.parametrize("planned", range(5, 301, 7))
@pytest.mark.parametrize(("threshold", "tolerance"), [(0.95, 0.05), (0.8, 0.1), (0.99, 0.02)])
def test_a_useless_rewrite_is_declared_a_fix_at_most_five_percent_of_the_time(
    planned: int, threshold: float, tolerance: float
) -> None:
    """Exactly, at every budget: the worst useless rewrite sits at the floor."""
    minimum = minimum_conforming(planned, threshold, tolerance)
    floor = threshold - tolerance
    for rate in (floor, floor - 0.05, floor / 2):
        probability = fix_probability(rate, planned, minimum)
        assert probability <= 0.05 + 1e-12
        assert probability == pytest.approx(binom.sf(minimum - 1, planned, rate), abs=1e-9)


def test_fix_probability_edges() -> None:
    assert fix_probability(0.5, 10, 0) == 1.0
    assert fix_probability(0.5, 10, 11) == 0.0
    assert fix_probability(1.0, 10, 10) == 1.0
    assert fix_probability(0.0, 10, 1) == 0.0
    assert fix_probability(0.99, 100, minimum_conforming(100, 0.95, 0.05)) > 0.99


def test_passing_is_the_suite_verdict_at_beta_equal_to_the_level() -> None:
    assert passes_threshold(96, 100, 0.95, 0.05, 0.05)
    assert not passes_threshold(95, 100, 0.95, 0.05, 0.05)
    # the gate's own PASS (beta 0.2) is weaker: 95/100 passes there
    assert threshold_verdict(95, 100, 0.95, tolerance=0.05).outcome is Outcome.PASS


@pytest.mark.parametrize("rate", [0.85, 0.93, 0.97, 1.0])
def test_curtailment_never_changes_the_decision(rate: float) -> None:
    rng = np.random.default_rng(7)
    planned = 60
    minimum = minimum_conforming(planned, 0.95, 0.05)
    for _ in range(200):
        outcomes = rng.random(planned) < rate
        decision = None
        n = 0
        while decision is None:
            n += 10
            decision = confirm_threshold(
                int(outcomes[:n].sum()), n, planned, threshold=0.95, tolerance=0.05
            )
        assert decision.fixed == (outcomes.sum() >= minimum)
        assert decision.stopped_early == (n < planned)
        assert decision.minimum == minimum and decision.planned == planned


def test_confirmation_reasons_and_intervals() -> None:
    fixed = confirm_threshold(100, 100, 100, threshold=0.95, tolerance=0.05)
    assert fixed is not None and fixed.fixed and not fixed.stopped_early
    assert fixed.interval[1] == 1.0 and fixed.bound > 0.9
    assert "lower bound above 0.9" in fixed.reason
    failed = confirm_threshold(5, 10, 100, threshold=0.95, tolerance=0.05)
    assert failed is not None and not failed.fixed and failed.stopped_early
    assert "cannot be reached" in failed.reason
    assert confirm_threshold(10, 10, 100, threshold=0.95, tolerance=0.05) is None
    never = confirm_threshold(5, 5, 5, threshold=0.95, tolerance=0.05)
    assert never is not None and not never.fixed and "can never clear" in never.reason


def test_noninferiority_follows_the_exact_test() -> None:
    baseline = (80, 100)  # a baseline below its threshold: the goal is to match it
    minimum = None
    for k in range(101):
        shown = compare_rates(80, 100, k, 100, tolerance=0.05).p_noninferior <= 0.05
        if shown and minimum is None:
            minimum = k
    assert minimum is not None
    decision = confirm_noninferior(minimum, 100, 100, baseline=baseline, tolerance=0.05, level=0.05)
    assert decision is not None and decision.fixed and decision.minimum == minimum
    early = confirm_noninferior(0, 30, 100, baseline=baseline, tolerance=0.05)
    assert early is not None and not early.fixed and early.stopped_early


def draw(race: Race, rates: dict[str, float], rng: np.random.Generator) -> None:
    counts = {name: [0, 0] for name in rates}
    while race.result is None:
        wanted = race.next_round()
        for name, count in wanted.items():
            counts[name][0] += int(rng.binomial(count, rates[name]))
            counts[name][1] += count
        race.update({name: (counts[name][0], counts[name][1]) for name in wanted})


def test_the_race_drops_the_beaten_and_the_survivor_wins() -> None:
    race = Race(["good", "bad", "half"], floor=0.9)
    draw(race, {"good": 1.0, "bad": 0.0, "half": 0.5}, np.random.default_rng(1))
    result = race.result
    assert result is not None and result.winner == "good"
    assert result.reason == "the other rewrites were eliminated"
    assert not result.arm("bad").alive and "upper bound" in result.arm("bad").reason
    assert result.arm("bad").n == 10  # ten failures are enough against ten successes
    assert race.next_round() == {}


def test_a_lone_rewrite_races_until_good_enough_or_hopeless() -> None:
    good = Race(["only"], floor=0.9)
    draw(good, {"only": 1.0}, np.random.default_rng(2))
    assert good.result is not None and good.result.winner == "only"
    assert good.result.reason.startswith("its lower bound")
    assert good.result.arm("only").n == 40  # forty successes put the bound at 0.904 > 0.9
    hopeless = Race(["only"], floor=0.9)
    draw(hopeless, {"only": 0.2}, np.random.default_rng(3))
    assert hopeless.result is not None and hopeless.result.winner is None
    assert hopeless.result.reason.startswith("no rewrite can reach 0.9")


def test_rewrites_that_work_equally_well_stop_once_the_leader_is_good_enough() -> None:
    """Ties cannot be broken by elimination; the leader's own bound ends the race early."""
    race = Race(["a", "b", "c", "bad"], floor=0.9, max_samples=100)
    draw(race, {"a": 1.0, "b": 1.0, "c": 1.0, "bad": 0.0}, np.random.default_rng(5))
    result = race.result
    assert result is not None and result.winner == "a"
    assert result.reason.startswith("its lower bound")
    assert [arm.n for arm in result.arms] == [40, 40, 40, 10]
    assert result.arm("b").reason.startswith("a won: its lower bound")
    # the simultaneous bound that elimination uses is still below the floor there
    assert result.arm("a").lower < 0.9


def test_ties_at_the_floor_run_to_the_maximum_and_the_best_rate_wins() -> None:
    race = Race(["a", "b"], floor=0.9, max_samples=40)
    draw(race, {"a": 0.9, "b": 0.92}, np.random.default_rng(4))
    result = race.result
    assert result is not None and result.winner is not None
    assert result.reason.startswith("every rewrite drew its 40 samples")
    assert all(arm.n == 40 for arm in result.arms)
    winner = result.arm(result.winner)
    assert winner.rate == max(arm.rate for arm in result.arms)


def test_a_race_stopped_from_outside_keeps_its_leader() -> None:
    race = Race(["a", "b"], floor=0.9)
    race.update({"a": (10, 10), "b": (9, 10)})
    result = race.stop("the sample budget is spent")
    assert result.winner == "a" and result.reason.startswith("the sample budget is spent")
    assert race.stop("again") is result
    empty = Race(["a"], floor=0.9).stop("nothing drawn")
    assert empty.winner is None


def test_race_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="distinct"):
        Race(["a", "a"], floor=0.9)
    with pytest.raises(ValueError, match="alpha"):
        Race(["a"], floor=0.9, alpha=0.0)
    race = Race(["a"], floor=0.9)
    assert race.update({"a": (9, 10)}) is None
    with pytest.raises(ValueError, match="cumulative"):
        race.update({"a": (8, 12)})


def test_every_bound_of_a_race_holds_at_every_look_together() -> None:
    """Simultaneous coverage (what keeps the best rewrite in): over seeded races of six arms
    with known rates, some bound misses its arm's rate at some look in at most alpha of runs."""
    rng = np.random.default_rng(11)
    rates = [0.9, 0.95, 0.97, 0.99, 0.8, 0.6]
    level = 0.05 / (2 * len(rates))
    runs, missed = 300, 0
    for _ in range(runs):
        outcomes = rng.random((len(rates), 100)) < np.array(rates)[:, None]
        failed = False
        for n in range(10, 101, 10):
            for arm, rate in enumerate(rates):
                lower, upper = anytime_bounds(int(outcomes[arm, :n].sum()), n, level)
                failed |= not lower <= rate <= upper
        missed += failed
    assert missed / runs <= 0.05 + 4 * np.sqrt(0.05 * 0.95 / runs)


def test_contenders_are_the_winner_then_the_undecided_best_first() -> None:
    race = Race(["a", "b", "c", "bad"], floor=0.9, max_samples=100)
    draw(race, {"a": 1.0, "b": 1.0, "c": 1.0, "bad": 0.0}, np.random.default_rng(5))
    result = race.result
    assert result is not None
    assert result.contenders(3, 0.9) == ("a", "b", "c")
    assert result.contenders(2, 0.9) == ("a", "b")
    assert result.contenders(1, 0.9) == ("a",)
    assert result.contenders(3, 1.0) == ("a",)  # b and c cannot clear this floor
    eliminated = Race(["x", "y"], floor=0.5)
    draw(eliminated, {"x": 1.0, "y": 0.0}, np.random.default_rng(6))
    assert eliminated.result is not None and eliminated.result.contenders(2, 0.5) == ("x",)
    lost = Race(["only"], floor=0.9)
    draw(lost, {"only": 0.1}, np.random.default_rng(7))
    assert lost.result is not None and lost.result.contenders(2, 0.9) == ()
