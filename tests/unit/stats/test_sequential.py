"""Adaptive sampling: the e-process, confidence sequences, both monitors, and the claims.

Validity under optional stopping is checked exactly where it can be: the probability that a
boundary is ever crossed is computed by dynamic programming over the counts, for every n up to a
horizon and for irregular rounds, not estimated. The claims of docs/statistics.md are simulated
with the engine of benchmarks/migration_simulation.py, after a check that the engine stops and
decides exactly as the monitors do when replayed sample by sample.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np
import pytest
from scipy.stats import binom

from promptcheck.stats.multiplicity import Change, decide
from promptcheck.stats.sequential import (
    EARLY_SHARE,
    ComparisonMonitor,
    Decision,
    ThresholdMonitor,
    confidence_sequence,
    log_evidence_above,
    lower_bound_anytime,
    upper_bound_anytime,
)
from promptcheck.stats.threshold import Outcome, lower_bound, upper_bound
from promptcheck.stats.two_sample import Comparison, exact_pvalue

ALPHA = 0.05
BETA = 0.2
DETECT = 0.15
RUNS = 1500
SLACK = 4 * math.sqrt(0.25 / RUNS)


def crossing_probability(
    p: float, schedule: Sequence[int], boundary: Callable[[int], np.ndarray]
) -> float:
    """Exact P(a count boundary is ever met), looking after each round of ``schedule``.

    ``boundary(n)`` marks, among k = 0..n conforming samples, those that stop.
    """
    alive = np.array([1.0])
    n, total = 0, 0.0
    for step in schedule:
        alive = np.convolve(alive, binom.pmf(np.arange(step + 1), step, p))
        n += step
        stop = np.asarray(boundary(n))
        total += float(alive[stop].sum())
        alive = np.where(stop, 0.0, alive)
    return total


IRREGULAR = [3, 1, 17, 5, 40, 2, 9, 1, 1, 30, 11, 50, 4, 26]


# --- the e-process and the confidence sequences ------------------------------------------------


@pytest.mark.parametrize("n", [1, 3, 10, 40])
@pytest.mark.parametrize("floor", [0.2, 0.9, 0.99])
def test_the_evidence_is_a_martingale_at_the_null(n: int, floor: float) -> None:
    """E[e-value] = 1 exactly when p = floor, and <= 1 below it (a supermartingale)."""
    k = np.arange(n + 1)
    evidence = np.exp(log_evidence_above(k, n, floor))
    assert float(np.sum(binom.pmf(k, n, floor) * evidence)) == pytest.approx(1.0, rel=1e-9)
    for p in (floor / 2, floor - 0.01):
        assert float(np.sum(binom.pmf(k, n, p) * evidence)) <= 1.0 + 1e-12


def test_the_evidence_falls_as_the_floor_rises() -> None:
    floors = np.linspace(0.01, 0.999, 200)
    for k, n in [(10, 10), (95, 100), (3, 10), (0, 5)]:
        assert np.all(np.diff(log_evidence_above(k, n, floors)) <= 1e-12)
    assert log_evidence_above(5, 5, 1.0) == -np.inf
    assert log_evidence_above(0, 20, 0.5) <= 0.0


@pytest.mark.parametrize("n", [1, 10, 50, 150])
@pytest.mark.parametrize("level", [0.02, 0.1, 0.2])
def test_anytime_bounds_are_wider_than_fixed_ones(n: int, level: float) -> None:
    """The price of validity at every n: never tighter than Clopper-Pearson at the same level."""
    k = np.arange(n + 1)
    anytime = lower_bound_anytime(k, n, level)
    fixed = np.array([lower_bound(int(i), n, 1.0 - level) for i in k])
    assert np.all(anytime <= fixed + 1e-12)
    assert np.allclose(upper_bound_anytime(k, n, level), 1.0 - lower_bound_anytime(n - k, n, level))


@pytest.mark.parametrize("p", [1.0, 0.99, 0.95, 0.7, 0.3])
@pytest.mark.parametrize("level", [0.05, 0.2])
def test_the_lower_bound_holds_at_every_n_at_once(p: float, level: float) -> None:
    """P(the bound ever exceeds p, looking after every sample up to 300) <= level, exactly.

    The bound exceeds p only where the e-process rejects p, so the exact probability that the
    e-process ever rejects p bounds it; the second half checks that implication directly.
    """

    def rejects(n: int) -> np.ndarray:
        return np.asarray(log_evidence_above(np.arange(n + 1), n, p) >= -math.log(level))

    assert crossing_probability(p, [1] * 300, rejects) <= level
    for n in (5, 40, 300):
        above = lower_bound_anytime(np.arange(n + 1), n, level) > p
        assert np.all(rejects(n)[above])


def test_confidence_sequence_edges() -> None:
    low, high = confidence_sequence(95, 100)
    assert low < 0.95 < high
    assert confidence_sequence(100, 100)[1] == 1.0
    assert confidence_sequence(0, 10)[0] == 0.0


# --- ThresholdMonitor --------------------------------------------------------------------------


def test_threshold_boundaries() -> None:
    monitor = ThresholdMonitor(0.95)
    assert monitor.boundaries(30) == (23, 30)
    assert monitor.boundaries(50) == (42, 49)
    assert monitor.boundaries(100) == (88, 95)
    assert monitor.boundaries(29)[1] == 30  # no pass before 30 samples
    strict = ThresholdMonitor(1.0)
    assert strict.boundaries(31) == (30, 32)  # any failure fails; 32 successes pass
    assert strict.boundaries(32) == (31, 32)


def test_a_perfect_case_passes_after_thirty_samples() -> None:
    monitor = ThresholdMonitor(0.95, max_samples=100, round_size=10)
    rounds = []
    decision = None
    while decision is None:
        rounds.append(monitor.next_round())
        decision = monitor.update(sum(rounds), sum(rounds))
    assert rounds == [10, 10, 10]
    assert decision == Decision("pass", 30, 100, True, decision.reason)
    assert decision.saved == 70 == monitor.saved and monitor.used == 30
    assert monitor.next_round() == 0
    assert monitor.update(40, 40) is decision  # decided stays decided
    verdict = monitor.verdict()
    assert verdict.outcome is Outcome.PASS and (verdict.k, verdict.n) == (30, 30)
    assert verdict.interval == confidence_sequence(30, 30)
    assert "likelihood ratio of p = 0.9 to p = 0.95 is 0.198 <= beta = 0.2" in verdict.explanation


def test_threshold_fail_undecided_and_finish() -> None:
    failing = ThresholdMonitor(0.95)
    assert failing.update(5, 10) is not None and failing.verdict().outcome is Outcome.FAIL
    slow = ThresholdMonitor(0.95, max_samples=20)
    assert slow.update(9, 10) is None
    decision = slow.update(19, 20)
    assert decision is not None and decision.outcome == "undecided" and not decision.stopped_early
    cut = ThresholdMonitor(0.95)
    assert cut.finish(9, 10).outcome == "undecided"
    with pytest.raises(RuntimeError):
        ThresholdMonitor(0.95).verdict()


def test_threshold_edge_settings() -> None:
    with pytest.raises(ValueError, match="every rate would pass"):
        ThresholdMonitor(0.05, tolerance=0.05)
    assert ThresholdMonitor(1.0).update(9, 10) is not None  # a failure at threshold 1 fails
    with pytest.raises(ValueError, match="tolerance"):
        ThresholdMonitor(0.95, tolerance=0.0)
    with pytest.raises(ValueError):
        ThresholdMonitor(0.95, max_samples=0)
    monitor = ThresholdMonitor(0.95)
    monitor.update(5, 6)
    with pytest.raises(ValueError, match="cumulative"):
        monitor.update(4, 6)


SETTINGS = [(0.95, 0.05), (0.8, 0.1), (1.0, 0.05), (0.99, 0.02)]
SCHEDULES = {"every sample": [1] * 300, "rounds of 10": [10] * 30, "irregular": IRREGULAR}


@pytest.mark.parametrize(("threshold", "tolerance"), SETTINGS)
@pytest.mark.parametrize("schedule", SCHEDULES.values(), ids=SCHEDULES.keys())
def test_the_threshold_monitor_keeps_alpha_and_beta(
    threshold: float, tolerance: float, schedule: list[int]
) -> None:
    """Exact error rates, however the rounds fall, at the hypotheses and beyond them."""
    monitor = ThresholdMonitor(threshold, tolerance=tolerance, max_samples=sum(schedule))

    def fails(n: int) -> np.ndarray:
        return np.arange(n + 1) <= monitor.boundaries(n)[0]

    def passes(n: int) -> np.ndarray:
        return np.arange(n + 1) >= monitor.boundaries(n)[1]

    def either(n: int) -> np.ndarray:
        return np.asarray(fails(n) | passes(n))

    for p in (threshold, (1 + threshold) / 2, 1.0):
        # Ignoring the pass boundary can only add failures: an upper bound on P(fail).
        assert crossing_probability(p, schedule, fails) <= ALPHA + 1e-12
    floor = threshold - tolerance
    for p in (floor, floor / 2):
        assert crossing_probability(p, schedule, passes) <= BETA + 1e-12
    assert crossing_probability(1.0 if threshold < 1 else 0.5, schedule, either) > 0.99


def test_the_monitor_object_behaves_as_its_boundaries_say(sim: ModuleType) -> None:
    """Replaying ThresholdMonitor.update on seeded paths agrees with the exact computation."""
    rng = np.random.default_rng(5)
    for p in (0.99, 0.93):
        outcomes = {"pass": 0, "fail": 0, "undecided": 0}
        used = 0
        for _ in range(RUNS):
            monitor = ThresholdMonitor(0.95, max_samples=100)
            k = n = 0
            decision = None
            while decision is None:
                step = monitor.next_round()
                k += int(rng.binomial(step, p))
                n += step
                decision = monitor.update(k, n)
            outcomes[decision.outcome] += 1
            used += decision.n
        fail, passed, expected = sim.threshold_sequential(p, 100)
        assert outcomes["fail"] / RUNS == pytest.approx(fail, abs=SLACK)
        assert outcomes["pass"] / RUNS == pytest.approx(passed, abs=SLACK)
        assert used / RUNS == pytest.approx(expected, rel=0.03)


def test_threshold_claim_samples_and_error_rates(sim: ModuleType) -> None:
    """At a budget of 100: at most 60% of the samples on a realistic suite, errors no worse."""
    total = sum(count * sim.threshold_sequential(p, 100)[2] for p, count in sim.MIX.items())
    assert total / sum(sim.MIX.values()) <= 0.6 * 100
    seq_fail, _, _ = sim.threshold_sequential(0.95, 100)
    _, seq_pass, _ = sim.threshold_sequential(0.90, 100)
    fixed_fail, _ = sim.threshold_fixed(0.95, 100)
    _, fixed_pass = sim.threshold_fixed(0.90, 100)
    assert seq_fail <= min(ALPHA, fixed_fail)
    assert seq_pass <= min(BETA, fixed_pass)


# --- ComparisonMonitor -------------------------------------------------------------------------


def test_a_perfect_candidate_against_a_perfect_pinned_baseline_stops_at_fifty() -> None:
    monitor = ComparisonMonitor(baseline=(400, 400))
    assert monitor.pinned and monitor.candidate_floor() == pytest.approx(0.95)
    assert [monitor.unchanged_at_least(n) for n in (40, 50, 60)] == [41, 50, 60]
    decision = None
    n = 0
    while decision is None:
        n += monitor.next_round()
        decision = monitor.update(n, n)
    assert (decision.outcome, decision.n, decision.saved, decision.stopped_early) == (
        "unchanged",
        50,
        100,
        True,
    )
    c = monitor.comparison()
    assert c.p_regressed == 1.0 and c.p_noninferior <= monitor.beta
    assert c.method == "sequential"
    assert c.candidate_interval == confidence_sequence(50, 50)
    assert "stopped after 50 samples" in c.note
    assert decide({"case": c})["case"].change is Change.UNCHANGED


def test_a_regression_runs_to_the_cap_and_is_decided_exactly() -> None:
    monitor = ComparisonMonitor(baseline=(380, 400), max_samples=150)
    k = 0
    decision = None
    for n in range(10, 151, 10):
        k += 8
        decision = monitor.update(k, n)
        if n < 150:
            assert decision is None
    assert decision is not None and decision.outcome == "final" and decision.saved == 0
    c = monitor.comparison()
    assert c.p_regressed == exact_pvalue(380, 400, 120, 150, 0.0, "less") < 1e-5
    assert c.p_noninferior > monitor.beta
    assert decide({"case": c})["case"].change is Change.REGRESSED


def test_at_the_maximum_the_exact_test_decides_even_where_the_early_rule_holds() -> None:
    """A drop smaller than the tolerance, seen only at the maximum: the early rule would call it
    unchanged (p_regressed = 1), but the exact test at the maximum flags it."""
    monitor = ComparisonMonitor(baseline=(400, 400), tolerance=0.15, max_samples=150)
    assert monitor.unchanged_at_least(150) <= 143
    decision = monitor.update(143, 150)
    assert decision is not None and decision.outcome == "final" and not decision.stopped_early
    c = monitor.comparison()
    assert c.p_regressed == exact_pvalue(400, 400, 143, 150, 0.0, "less") < 0.001
    # the anytime rule held, so the drop of the tolerance is still ruled out
    assert c.p_noninferior <= monitor.beta
    assert decide({"case": c})["case"].change is Change.REGRESSED


def test_the_noninferiority_pvalue_is_valid_at_any_stop() -> None:
    """At Delta = -tolerance, the anytime p-value of non-inferiority falls to a level at some n
    with probability at most that level: computed exactly (over the pinned baseline's count
    and every candidate path), through the count boundary the p-value is read from."""
    tolerance, level, rounds = 0.15, 0.05, [10] * 30
    monitor = ComparisonMonitor(
        baseline=(380, 400), tolerance=tolerance, beta=level / EARLY_SHARE, max_samples=300
    )
    # the p-value and the count boundary agree: shown at ``level`` exactly where k >= boundary
    for n in (40, 120):
        at_least = monitor.unchanged_at_least(n)
        for k, shown in ((at_least, True), (at_least - 1, False)):
            probe = ComparisonMonitor(baseline=(380, 400), tolerance=tolerance, max_samples=300)
            probe._advance(k, n, None, None)
            assert (probe.noninferiority_pvalue() <= level * 1.01) is shown
    k_bases = np.arange(340, 401)
    weights = binom.pmf(k_bases, 400, 0.95)
    looks = range(10, 301, 10)
    table = {n: monitor.unchanged_boundaries(n, k_bases, 400) for n in looks}
    total = 0.0
    for j in range(len(k_bases)):
        crossing = crossing_probability(
            0.95 - tolerance, rounds, lambda n, j=j: np.arange(n + 1) >= table[n][j]
        )
        total += weights[j] * crossing
    assert total <= level


def test_an_improvement_stops_early_and_is_reported() -> None:
    monitor = ComparisonMonitor(baseline=(200, 400))
    decision = monitor.update(20, 20)
    assert decision is not None and decision.stopped_early
    p = monitor.improvement_pvalue()
    assert p < 0.001
    assert decide({"case": monitor.comparison()})["case"].change is Change.IMPROVED


def test_the_improvement_pvalue_is_the_least_level_that_shows_it() -> None:
    """Validity then follows from that of the bounds (tested above) and the union bound."""
    monitor = ComparisonMonitor(baseline=(340, 400))
    monitor.finish(60, 60)
    p = monitor.improvement_pvalue()
    share = monitor.baseline_share

    def shown(level: float) -> bool:
        lower = float(lower_bound_anytime(60, 60, level * (1 - share)))
        return lower - upper_bound(340, 400, 1 - level * share) > 0.0

    assert 0.0 < p < 1.0
    assert shown(p * 1.001)
    assert not shown(p / 1.05)


def test_a_live_baseline_is_sampled_alongside() -> None:
    monitor = ComparisonMonitor(max_samples=150)
    assert not monitor.pinned
    with pytest.raises(ValueError, match="live baseline"):
        monitor.update(10, 10)
    decision = None
    n = 0
    while decision is None:
        n += monitor.next_round()
        decision = monitor.update(n, n, n, n)
    assert decision.outcome == "unchanged" and decision.n == 50
    c = monitor.comparison()
    assert (c.k_baseline, c.n_baseline) == (50, 50)
    assert c.baseline_interval == confidence_sequence(50, 50)


def test_comparison_monitor_misuse() -> None:
    pinned = ComparisonMonitor(baseline=(390, 400))
    with pytest.raises(ValueError, match="pinned"):
        pinned.update(10, 10, 380, 400)
    assert pinned.update(10, 10, 390, 400) is None
    with pytest.raises(RuntimeError):
        pinned.comparison()
    final = pinned.finish(15, 20)
    assert final.outcome == "final" and final.n == 20
    with pytest.raises(ValueError):
        ComparisonMonitor(margin=0.1, tolerance=0.05)
    with pytest.raises(ValueError):
        ComparisonMonitor(tolerance=0.0)


# --- the claims, simulated ---------------------------------------------------------------------


def replay(
    k_base: int | None,
    base_rounds: Sequence[int] | None,
    cand_rounds: Sequence[int],
    cases: int,
) -> tuple[int, Comparison]:
    """Run a ComparisonMonitor round by round on given counts: (samples used, comparison)."""
    pinned = base_rounds is None
    monitor = ComparisonMonitor(
        baseline=None if k_base is None else (k_base, 400),
        tolerance=DETECT,
        beta=BETA / cases,
        max_samples=10 * len(cand_rounds),
    )
    k_c = k_b = n = 0
    decision = None
    for i, step in enumerate(cand_rounds):
        assert monitor.next_round() == 10
        k_c += step
        n += 10
        if pinned:
            decision = monitor.update(k_c, n)
        else:
            assert base_rounds is not None
            k_b += base_rounds[i]
            decision = monitor.update(k_c, n, k_b, n)
        if decision is not None:
            break
    assert decision is not None
    return decision.n, monitor.comparison()


def fixed_cap_draw(
    sim: ModuleType,
    rng: np.random.Generator,
    p_base: np.ndarray,
    p_cand: np.ndarray,
    runs: int,
    live: bool,
) -> object:
    """A draw with every case's budget at 150 (live: both models; pinned: 400 stored)."""
    shape = (runs, len(p_base), 15)
    cand_rounds = rng.binomial(10, p_cand[None, :, None], size=shape)
    base_rounds = rng.binomial(10, p_base[None, :, None], size=shape) if live else None
    k_base = (
        base_rounds.sum(axis=2)
        if base_rounds is not None
        else rng.binomial(400, p_base, size=shape[:2])
    )
    n_base = np.full(shape[:2], 150 if live else 400)
    return sim.Draw(n_base, np.full(shape[:2], 150), k_base, base_rounds, cand_rounds)


@pytest.mark.parametrize("live", [False, True], ids=["pinned", "live"])
def test_the_simulation_engine_stops_and_decides_as_the_monitor_does(
    sim: ModuleType, live: bool
) -> None:
    rng = np.random.default_rng(13 + live)
    rates = np.array([1.0, 0.99, 0.98, 0.95, 0.95, 0.9])
    cand = rates.copy()
    cand[4] = 0.80
    cand[2] = 0.93
    critical = np.array([False, False, False, False, True, False])
    data = fixed_cap_draw(sim, rng, rates, cand, 3, live)
    engine = sim.adaptive_of(data, critical)
    for run in range(3):
        comparisons: dict[str, Comparison] = {}
        for i in range(len(rates)):
            used, comparisons[str(i)] = replay(
                None if live else int(data.k_base[run, i]),
                None if data.base_rounds is None else list(data.base_rounds[run, i]),
                list(data.cand_rounds[run, i]),
                len(rates),
            )
            assert used == engine.used[run, i]
        verdicts = decide(comparisons, critical={"4"})
        for i in range(len(rates)):
            change = verdicts[str(i)].change
            assert (change is Change.REGRESSED) == engine.regressed[run, i]
            if change is not Change.IMPROVED:
                assert (change is Change.UNCHANGED) == engine.unchanged[run, i]


@pytest.mark.parametrize("live", [False, True], ids=["pinned", "live"])
def test_stopping_early_only_removes_alarms(sim: ModuleType, live: bool) -> None:
    """On the same samples, every case the adaptive design flags, the fixed design flags too."""
    rng = np.random.default_rng(17)
    rates = np.full(50, 0.9)
    rates[:10] = 0.97
    data = fixed_cap_draw(sim, rng, rates, rates, 300, live)
    adaptive = sim.adaptive_of(data)
    fixed = sim.fixed_of(data)
    assert not np.any(adaptive.regressed & ~fixed.regressed)


#: Suites simulated for the claims at the default budget (fewer than the docs' 4,000).
CLAIM_RUNS = 600
CLAIM_SLACK = 4 * math.sqrt(0.25 / CLAIM_RUNS)


@pytest.mark.parametrize("mode", ["large", "live"])
def test_adaptive_claims_at_the_default_budget(sim: ModuleType, mode: str) -> None:
    """No false alarm in >= 95% of suites, power >= 0.8, an unchanged suite fails a gate on
    inconclusive cases in <= 10% of runs, and at most 60% of the planned budget drawn."""
    rng = np.random.default_rng(31 + len(mode))
    rates = sim.suite_rates()
    bound = ALPHA + 4 * math.sqrt(ALPHA * (1 - ALPHA) / CLAIM_RUNS)
    null = sim.adaptive_of(sim.draw(rng, rates, rates, CLAIM_RUNS, mode=mode))
    assert null.any_regressed() <= bound
    assert null.gate_fails() <= 0.10 + 4 * math.sqrt(0.1 * 0.9 / CLAIM_RUNS)
    assert null.share_used() <= 0.6
    dropped = rates.copy()
    case = int(np.nonzero(rates == 0.95)[0][0])
    dropped[case] = 0.80
    drop = sim.adaptive_of(sim.draw(rng, rates, dropped, CLAIM_RUNS, mode=mode))
    assert drop.regressed[:, case].mean() >= 0.8 - CLAIM_SLACK


@pytest.mark.parametrize("live", [False, True], ids=["pinned", "live"])
@pytest.mark.parametrize(("p_base", "p_cand"), [(0.95, 0.80), (1.0, 0.85)])
def test_a_drop_of_the_tolerance_is_rarely_called_unchanged(
    sim: ModuleType, live: bool, p_base: float, p_cand: float
) -> None:
    """The unchanged verdict's own guarantee: at Delta = -tolerance, at most beta of runs."""
    rng = np.random.default_rng(41)
    data = fixed_cap_draw(sim, rng, np.array([p_base]), np.array([p_cand]), RUNS, live)
    result = sim.adaptive_of(data)
    assert result.unchanged.mean() <= BETA + 4 * math.sqrt(BETA * (1 - BETA) / RUNS)
