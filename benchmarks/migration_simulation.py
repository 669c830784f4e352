"""The gate's claims at the defaults a user gets, simulated: false alarms, power, inconclusive
cases, and what adaptive sampling saves.

Prints the tables of docs/statistics.md ("What the default invocation gets", "Adaptive
sampling"). Every decision is taken by promptcheck's own code: each case's budget by the plan of
``comparison.budget`` (exact power), the p-values by ``two_sample.pvalue_table`` (the same numbers
as ``exact_pvalue``), the suite-level decision by ``multiplicity.suite_adjust`` and the
Bonferroni rule of ``decide``, the stopping rules of ``sequential.ComparisonMonitor`` /
``ThresholdMonitor`` as count boundaries, and offline comparisons of adaptive runs by
``stopped.stopped_comparison``. The threshold verdict's figures are exact (binomial sums and
dynamic programming over the counts), not simulated. tests/unit/stats/ asserts the claims with
fewer runs and Monte Carlo slack.

The default invocation is ``pytest --promptcheck --promptcheck-model NEW --promptcheck-baseline
B`` with nothing else: B a model (live: both models draw the plan) or a stored run, recorded by
a default run (20 samples a case, topped up to the plan) or with 400 samples a case.

Usage: python benchmarks/migration_simulation.py [--runs 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, norm

from promptcheck.comparison.budget import Targets, case_budget, plan_case, planning_rate
from promptcheck.config import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_DETECT,
    DEFAULT_MARGIN,
    DEFAULT_POWER,
)
from promptcheck.stats.multiplicity import suite_adjust
from promptcheck.stats.power import rejection_cuts
from promptcheck.stats.sequential import ComparisonMonitor, ThresholdMonitor
from promptcheck.stats.stopped import difference_pvalue
from promptcheck.stats.threshold import Outcome, lower_bound, threshold_verdict, upper_bound
from promptcheck.stats.two_sample import exact_pvalue, pvalue_table, score_statistic

ALPHA = DEFAULT_ALPHA
BETA = DEFAULT_BETA
MARGIN = DEFAULT_MARGIN
DETECT = DEFAULT_DETECT
POWER = DEFAULT_POWER
TARGETS = Targets(ALPHA, BETA, MARGIN, DETECT, POWER)
#: The threshold verdict's tolerance (a suite's default) and the suites' threshold.
TOLERANCE = 0.05
THRESHOLD = 0.95
#: A suite's default samples: what a default run stores as a baseline.
SUITE_SAMPLES = 20
#: A stored baseline recorded with ``--promptcheck-samples 400`` (the user guide's advice).
LARGE_BASELINE = 400
ROUND = 10
#: A realistic 50-case suite: most prompts conform nearly always, several exactly always.
MIX = {1.0: 15, 0.99: 15, 0.98: 10, 0.97: 5, 0.95: 5}
#: The earlier fixed budget of docs/statistics.md: 400 stored baseline samples, 150 candidate.
N_BASELINE = 400
N_CANDIDATE = 150

Array = NDArray[np.int64]


def suite_rates(mix: dict[float, int] = MIX) -> NDArray[np.float64]:
    return np.repeat(np.array(list(mix), dtype=np.float64), list(mix.values()))


@dataclass
class Result:
    """Per-run and per-case outcomes of a simulated suite (runs x cases)."""

    regressed: NDArray[np.bool_]
    unchanged: NDArray[np.bool_]
    used: NDArray[np.float64]  # candidate samples per case
    planned: NDArray[np.float64]  # the case's budget

    def any_regressed(self, cases: slice | list[int] = slice(None)) -> float:
        return float(self.regressed[:, cases].any(axis=1).mean())

    def inconclusive(self) -> float:
        return float((~self.regressed & ~self.unchanged).mean())

    def gate_fails(self) -> float:
        """P(a gate with --promptcheck-fail-on inconclusive fails): any case not unchanged."""
        return float((~self.unchanged).any(axis=1).mean())

    def share_used(self) -> float:
        return float(self.used.sum() / self.planned.sum())


@functools.cache
def _exact(k_b: int, n_b: int, k_c: int, n_c: int, delta0: float) -> float:
    return exact_pvalue(k_b, n_b, k_c, n_c, delta0, "less")


def regression_pvalues(
    n_base: Array, n_cand: Array, k_base: Array, k_cand: Array, margin: float = MARGIN
) -> NDArray[np.float64]:
    """Exact regression p-values cell by cell, where they can matter: a p-value above alpha is
    never rejected by Holm or Benjamini-Hochberg and does not move the others' ranks, so those
    cells (found exactly, by the test's rejection region at alpha) are left at 1."""
    out = np.ones(k_base.shape)
    pairs = np.unique(np.stack([n_base.ravel(), n_cand.ravel()], axis=1), axis=0)
    for n_b, n_c in pairs:
        cells = (n_base == n_b) & (n_cand == n_c)
        cuts = rejection_cuts(int(n_b), int(n_c), -margin, ALPHA)
        small = np.zeros(k_base.shape, dtype=bool)
        small[cells] = k_cand[cells] <= cuts[k_base[cells]]
        out[small] = [
            _exact(int(a), int(n_b), int(b), int(n_c), -margin)
            for a, b in zip(k_base[small], k_cand[small], strict=True)
        ]
    return out


def shown_noninferior(
    n_base: Array, n_cand: Array, k_base: Array, k_cand: Array, level: float
) -> NDArray[np.bool_]:
    """Cell by cell: does the exact test rule out a drop of DETECT at ``level``?"""
    out = np.zeros(k_base.shape, dtype=bool)
    pairs = np.unique(np.stack([n_base.ravel(), n_cand.ravel()], axis=1), axis=0)
    for n_b, n_c in pairs:
        cells = (n_base == n_b) & (n_cand == n_c)
        cuts = rejection_cuts(int(n_b), int(n_c), -DETECT, level, "greater")
        out[cells] = k_cand[cells] >= cuts[k_base[cells]]
    return out


def fixed_outcomes(
    k_base: Array,
    n_base: Array | int,
    k_cand: Array,
    n_cand: Array | int,
    *,
    critical: NDArray[np.bool_] | None = None,
    margin: float = MARGIN,
) -> Result:
    """Fixed design on drawn counts (runs x cases): exact p-values, then the suite's rules."""
    cases = k_base.shape[-1]
    crit = np.zeros(cases, bool) if critical is None else critical
    n_b = np.broadcast_to(np.asarray(n_base), k_base.shape)
    n_c = np.broadcast_to(np.asarray(n_cand), k_base.shape)
    p_reg = regression_pvalues(n_b, n_c, k_base, k_cand, margin)
    regressed = suite_adjust(p_reg, crit) <= ALPHA
    # decide's rule: a drop of DETECT ruled out at beta over the cases (Bonferroni)
    unchanged = ~regressed & shown_noninferior(n_b, n_c, k_base, k_cand, BETA / cases)
    used = n_c.astype(np.float64)
    return Result(regressed, unchanged, used, used.copy())


# --- the default budget ------------------------------------------------------------------------


@functools.cache
def _budget(k: int | None, stored: int | None, cases: int) -> tuple[int, int]:
    """(candidate samples, baseline samples) of one case, as the live gate plans it."""
    found = case_budget(
        "case",
        threshold=THRESHOLD,
        suite_samples=SUITE_SAMPLES,
        targets=TARGETS,
        cases=cases,
        stored=None if stored is None or k is None else (k, stored),
        top_up=True,
        option=None,
    )
    if stored is None:
        return found.samples, found.samples
    return found.samples, max(stored, found.baseline_target or 0)


def budget(stored: tuple[Array, int] | None, cases: int) -> tuple[Array, Array]:
    """Each case's (candidate, baseline) samples (runs x cases): from the threshold (live), or
    from the stored baseline's counts ``(k, n)``."""
    if stored is None:
        n, _ = _budget(None, None, cases)
        return np.array(n), np.array(n)
    k, n = stored
    sizes = {int(value): _budget(int(value), n, cases) for value in np.unique(k)}
    cand = np.vectorize(lambda value: sizes[value][0])(k)
    base = np.vectorize(lambda value: sizes[value][1])(k)
    return cand, base


@dataclass
class Draw:
    """One simulated comparison's data: per case the baseline's and the candidate's budgets, the
    candidate's conforming counts per round, and the baseline's (per round when live, as a
    total when stored)."""

    n_base: Array
    cap: Array
    k_base: Array
    base_rounds: Array | None
    cand_rounds: Array


def draw(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    mode: str,
) -> Draw:
    """Draw a comparison at the default budget. ``mode``: ``live``, ``default`` (a stored
    20-sample baseline topped up to the plan) or ``large`` (a stored 400-sample baseline)."""
    cases = len(p_base)
    shape = (runs, cases)
    if mode == "live":
        n = int(budget(None, cases)[0])
        rounds = n // ROUND
        base_rounds = rng.binomial(ROUND, p_base[None, :, None], size=(*shape, rounds))
        cand_rounds = rng.binomial(ROUND, p_cand[None, :, None], size=(*shape, rounds))
        full = np.full(shape, n)
        return Draw(full, full.copy(), base_rounds.sum(axis=2), base_rounds, cand_rounds)
    stored_n = SUITE_SAMPLES if mode == "default" else LARGE_BASELINE
    k_stored = rng.binomial(stored_n, p_base, size=shape)
    cap, n_base = budget((k_stored, stored_n), cases)
    k_base = k_stored + rng.binomial(n_base - stored_n, np.broadcast_to(p_base, shape))
    rounds = int(cap.max()) // ROUND
    cand_rounds = rng.binomial(ROUND, p_cand[None, :, None], size=(*shape, rounds))
    return Draw(n_base, cap, k_base, None, cand_rounds)


def fixed_of(data: Draw, critical: NDArray[np.bool_] | None = None) -> Result:
    """The fixed design on a draw: every case draws its budget."""
    looks = np.arange(1, data.cand_rounds.shape[2] + 1) * ROUND
    k_c = np.where(looks <= data.cap[..., None], data.cand_rounds, 0).sum(axis=2)
    return fixed_outcomes(data.k_base, data.n_base, k_c, data.cap, critical=critical)


@functools.cache
def _pinned_boundary(n_base: int, looks: int, cases: int) -> Array:
    """boundary[k_baseline, look]: the pinned monitor's early-stopping rule as counts."""
    monitor = ComparisonMonitor(
        baseline=(0, n_base),
        tolerance=DETECT,
        beta=BETA / cases,
        max_samples=looks * ROUND,
        round_size=ROUND,
    )
    k_base = np.arange(n_base + 1)
    return np.stack(
        [monitor.unchanged_boundaries(n * ROUND, k_base, n_base) for n in range(1, looks + 1)],
        axis=1,
    )


@functools.cache
def _live_boundary(looks: int, cases: int) -> Array:
    """boundary[k_baseline, look]: the live monitor's rule when both models have n samples."""
    cap = looks * ROUND
    monitor = ComparisonMonitor(
        tolerance=DETECT, beta=BETA / cases, max_samples=cap, round_size=ROUND
    )
    table = np.full((cap + 1, looks), cap + 1, dtype=np.int64)
    for j in range(looks):
        n = (j + 1) * ROUND
        table[: n + 1, j] = monitor.unchanged_boundaries(n, np.arange(n + 1), n)
    return table


def adaptive_of(data: Draw, critical: NDArray[np.bool_] | None = None) -> Result:
    """The adaptive design on the same draw: rounds of ROUND, a case stops at the first look
    before its budget where ComparisonMonitor's boundary is met; at the budget the exact tests
    decide (the regression test alone, and non-inferiority by the anytime rule or the exact
    test at the rest of beta)."""
    _, cases, rounds = data.cand_rounds.shape
    crit = np.zeros(cases, bool) if critical is None else critical
    looks = np.arange(1, rounds + 1) * ROUND
    k_c = np.cumsum(data.cand_rounds, axis=2)
    if data.base_rounds is not None:
        k_b_path = np.cumsum(data.base_rounds, axis=2)
        boundary = _live_boundary(rounds, cases)[k_b_path, np.arange(rounds)]
    else:
        boundary = np.zeros(k_c.shape, dtype=np.int64)
        for n_b in np.unique(data.n_base):
            cells = data.n_base == n_b
            table = _pinned_boundary(int(n_b), rounds, cases)
            boundary[cells] = table[data.k_base[cells]]
    before_cap = looks[None, None, :] < data.cap[..., None]
    hit = (k_c >= boundary) & before_cap
    stopped = hit.any(axis=2)
    used = np.where(stopped, looks[hit.argmax(axis=2)], data.cap).astype(np.float64)
    cap_index = data.cap // ROUND - 1
    at_cap = np.take_along_axis(k_c, cap_index[..., None], axis=2)[..., 0]
    shown_at_cap = at_cap >= np.take_along_axis(boundary, cap_index[..., None], axis=2)[..., 0]
    p_reg = np.where(stopped, 1.0, regression_pvalues(data.n_base, data.cap, data.k_base, at_cap))
    late = 1.0 - ComparisonMonitor().early_share
    exact = shown_noninferior(data.n_base, data.cap, data.k_base, at_cap, late * BETA / cases)
    noninferior = stopped | shown_at_cap | exact
    regressed = suite_adjust(p_reg, crit) <= ALPHA
    return Result(regressed, ~regressed & noninferior, used, data.cap.astype(np.float64))


# --- offline comparison of adaptive runs -------------------------------------------------------


def threshold_paths(
    rng: np.random.Generator, p: NDArray[np.float64], runs: int, cap: int
) -> tuple[Array, Array]:
    """Threshold runs with ``--promptcheck-adaptive`` (ThresholdMonitor, rounds of ROUND, at
    most ``cap``): each case's (conforming, scored) counts where it stopped."""
    monitor = ThresholdMonitor(THRESHOLD, tolerance=TOLERANCE, max_samples=cap, round_size=ROUND)
    looks = np.arange(ROUND, cap + 1, ROUND)
    fail_at = np.array([monitor.boundaries(int(n))[0] for n in looks])
    pass_at = np.array([monitor.boundaries(int(n))[1] for n in looks])
    rounds = rng.binomial(ROUND, p[None, :, None], size=(runs, len(p), len(looks)))
    k = np.cumsum(rounds, axis=2)
    stop = (k <= fail_at) | (k >= pass_at)
    stop[..., -1] = True
    first = stop.argmax(axis=2)
    return np.take_along_axis(k, first[..., None], axis=2)[..., 0], looks[first]


@functools.cache
def _stopped_pvalue(k_b: int, n_b: int, k_c: int, n_c: int, base_stopped: bool) -> float:
    """``stopped_comparison``'s p_regressed where it can be <= alpha, else 1: it needs the
    candidate's upper bound below the baseline's lower one at alpha / 2 each, and anytime
    bounds are wider than Clopper-Pearson's, so where those do not separate it is above."""
    if upper_bound(k_c, n_c, 1 - ALPHA / 2) >= lower_bound(k_b, n_b, 1 - ALPHA / 2):
        return 1.0
    return difference_pvalue((k_b, n_b, base_stopped), (k_c, n_c, True), -MARGIN, upward=False)


def offline_adaptive(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    baseline_adaptive: bool,
) -> tuple[float, float]:
    """A candidate run recorded with --promptcheck-adaptive (threshold verdicts, at most 100
    samples a case) against a baseline run recorded the same way or with 400 fixed samples,
    compared offline: P(any false regression) reading the stopped counts as fixed samples (what
    ``promptcheck compare`` did) and with anytime-valid bounds (what it does now)."""
    if baseline_adaptive:
        k_b, n_b = threshold_paths(rng, p_base, runs, 100)
    else:
        k_b = rng.binomial(LARGE_BASELINE, p_base, size=(runs, len(p_base)))
        n_b = np.full(k_b.shape, LARGE_BASELINE)
    k_c, n_c = threshold_paths(rng, p_cand, runs, 100)
    as_fixed = regression_pvalues(n_b, n_c, k_b, k_c)
    anytime = np.vectorize(_stopped_pvalue)(k_b, n_b, k_c, n_c, baseline_adaptive)
    crit = np.zeros(len(p_base), bool)
    fixed_alarm = (suite_adjust(as_fixed, crit) <= ALPHA).any(axis=1).mean()
    anytime_alarm = (suite_adjust(anytime, crit) <= ALPHA).any(axis=1).mean()
    return float(fixed_alarm), float(anytime_alarm)


# --- the threshold verdict, exactly ------------------------------------------------------------


def threshold_fixed(p: float, n: int, threshold: float = THRESHOLD) -> tuple[float, float]:
    """Exact P(fail), P(pass) of the fixed-sample verdict at true rate p."""
    fail = passed = 0.0
    for k in range(n + 1):
        outcome = threshold_verdict(k, n, threshold, tolerance=TOLERANCE).outcome
        weight = float(binom.pmf(k, n, p))
        fail += weight if outcome is Outcome.FAIL else 0.0
        passed += weight if outcome is Outcome.PASS else 0.0
    return fail, passed


def threshold_sequential(
    p: float, cap: int, threshold: float = THRESHOLD, round_size: int = ROUND
) -> tuple[float, float, float]:
    """Exact P(fail), P(pass), E[samples] of ThresholdMonitor, by dynamic programming over k."""
    monitor = ThresholdMonitor(
        threshold, tolerance=TOLERANCE, max_samples=cap, round_size=round_size
    )
    alive = np.zeros(cap + 1)
    alive[0] = 1.0
    n = 0
    fail = passed = expected = 0.0
    while n < cap:
        step = min(round_size, cap - n)
        alive = np.convolve(alive, binom.pmf(np.arange(step + 1), step, p))[: cap + 1]
        n += step
        fail_at, pass_at = monitor.boundaries(n)
        ks = np.arange(cap + 1)
        failing = alive[(ks <= fail_at) & (ks <= n)].sum()
        passing = alive[(ks >= pass_at) & (ks <= n)].sum()
        alive[(ks <= fail_at) | (ks >= pass_at)] = 0.0
        fail, passed = fail + failing, passed + passing
        expected += (failing + passing) * n
    expected += alive.sum() * cap
    return fail, passed, expected


def asymptotic_size(n_base: int, n_cand: int, p_base: float, level: float) -> tuple[float, float]:
    """Real size of the normal-approximation score test and of the exact one, at Delta = 0."""
    x_b, x_c = np.meshgrid(np.arange(n_base + 1.0), np.arange(n_cand + 1.0), indexing="ij")
    z = score_statistic(x_b, n_base, x_c, n_cand, 0.0)
    weights = np.outer(
        binom.pmf(np.arange(n_base + 1), n_base, p_base),
        binom.pmf(np.arange(n_cand + 1), n_cand, p_base),
    )
    exact = pvalue_table(n_base, n_cand, 0.0, "less")
    return float(weights[norm.cdf(z) <= level].sum()), float(weights[exact <= level].sum())


# --- the tables --------------------------------------------------------------------------------


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _header(*titles: str) -> list[str]:
    return [_row(*titles), "|" + "---|" * len(titles)]


MODES = {
    "live": "live baseline (both models draw the plan)",
    "default": "stored baseline from a default run (20 samples a case, topped up to the plan)",
    "large": "stored baseline of 400 samples a case",
}


def defaults_table(rng: np.random.Generator, runs: int, mode: str) -> list[str]:
    """The claims of the default invocation for one kind of baseline: fixed and adaptive."""
    rates = suite_rates()
    m = len(rates)
    dropped = rates.copy()
    drop_case = int(np.nonzero(rates == 0.95)[0][0])
    dropped[drop_case] = 0.80
    critical = np.zeros(m, bool)
    critical[[drop_case, 0, 15, 30, 40]] = True
    others = [i for i in range(m) if i != drop_case]

    def both(
        p_b: NDArray[np.float64], p_c: NDArray[np.float64], crit: NDArray[np.bool_] | None = None
    ) -> tuple[Result, Result]:
        data = draw(rng, p_b, p_c, runs, mode=mode)
        return fixed_of(data, crit), adaptive_of(data, crit)

    null = both(rates, rates)
    flat = both(np.full(m, 0.90), np.full(m, 0.90))
    crit_null = both(rates, rates, critical)
    drop = both(rates, dropped)
    crit_drop = both(rates, dropped, critical)
    small = both(np.full(m, 1.0), np.where(np.arange(m) == 0, 0.98, 1.0))
    cells: list[tuple[str, Callable[[Result], float], tuple[Result, Result]]] = [
        ("no change: P(any case regressed)", Result.any_regressed, null),
        ("no change: P(gate fails with --fail-on inconclusive)", Result.gate_fails, null),
        ("no change: P(inconclusive) per case", Result.inconclusive, null),
        ("no change, every case at 0.90: P(any case regressed)", Result.any_regressed, flat),
        ("no change, 5 cases critical: P(any case regressed)", Result.any_regressed, crit_null),
        (
            "one case 0.95 -> 0.80: P(it is flagged regressed)",
            lambda r: float(r.regressed[:, drop_case].mean()),
            drop,
        ),
        ("... and P(any other case flagged)", lambda r: r.any_regressed(others), drop),
        (
            "one critical case 0.95 -> 0.80: P(it is flagged)",
            lambda r: float(r.regressed[:, drop_case].mean()),
            crit_drop,
        ),
        (
            "one case 1.0 -> 0.98 (below the detectable drop): P(flagged)",
            lambda r: float(r.regressed[:, 0].mean()),
            small,
        ),
    ]
    rows = _header("scenario", "fixed", "adaptive")
    rows += [
        _row(label, f"{read(pair[0]):.3f}", f"{read(pair[1]):.3f}") for label, read, pair in cells
    ]
    # the budget this gate had before it was planned: the suite default, 20 a case
    n_base = {"live": SUITE_SAMPLES, "default": SUITE_SAMPLES, "large": LARGE_BASELINE}[mode]
    k_b = rng.binomial(n_base, rates, size=(runs, m))
    k_c = rng.binomial(SUITE_SAMPLES, dropped, size=(runs, m))
    capped = fixed_outcomes(k_b, n_base, k_c, SUITE_SAMPLES)
    rows.append(
        _row(
            "the same drop, at 20 samples a case (--promptcheck-samples 20)",
            f"{capped.regressed[:, drop_case].mean():.3f}",
            "-",
        )
    )
    fixed, adaptive = null
    planned = fixed.planned.mean()
    rows.append(
        _row(
            "candidate samples per case, no change (the plan's mean)",
            f"{planned:.1f}",
            f"{adaptive.used.mean():.1f} ({adaptive.share_used():.0%})",
        )
    )
    return rows


def plan_table() -> list[str]:
    """The plan per planning rate, in a 50-case suite: live, and pinned on 20 or 400 samples."""
    rows = _header("planning rate", "live (each model)", "stored 20, topped up", "stored 400")
    for rate in (1.0, 0.99, 0.98, 0.97, 0.95, 0.93, 0.90):
        plans = [plan_case(rate, TARGETS, 50, stored, True) for stored in (0, 20, 400)]
        rows.append(
            _row(
                f"{rate:g}",
                *(f"{p.samples} (power {p.power:.2f}, unchanged {p.unchanged:.4f})" for p in plans),
            )
        )
    return rows


def offline_table(rng: np.random.Generator, runs: int) -> list[str]:
    """Offline ``promptcheck compare`` of an adaptive candidate run, nothing changed."""
    rows = _header("baseline run, suite", "stopped counts read as fixed", "anytime-valid (now)")
    rates = suite_rates()
    for adaptive in (False, True):
        suites = (
            ("realistic suite", rates),
            ("every case at 0.90", np.full(50, 0.90)),
            ("a one-case suite at 0.90", np.array([0.90])),
        )
        for label, p in suites:
            as_fixed, anytime = offline_adaptive(rng, p, p, runs, baseline_adaptive=adaptive)
            kind = "adaptive too" if adaptive else f"{LARGE_BASELINE} fixed samples"
            rows.append(_row(f"{kind}, {label}", f"{as_fixed:.3f}", f"{anytime:.3f}"))
    return rows


def topup_table(rng: np.random.Generator, runs: int) -> list[str]:
    """Why a short stored baseline is topped up to a size its outcomes do not decide: one case,
    nothing changed, a 20-sample stored baseline topped up and compared at level 0.01. Sized at
    the stored samples' lower bound (a bad start draws more), the test exceeds its level; sized
    at the threshold, as the gate does, it does not."""
    rows = _header("true rate", "top-up sized at the stored outcomes", "sized at the threshold")
    level = 0.01
    for p in (0.95, 0.90):
        k20 = rng.binomial(SUITE_SAMPLES, p, runs)
        fitted = {
            int(k): plan_case(
                planning_rate(THRESHOLD, (int(k), SUITE_SAMPLES), DETECT), TARGETS, 50, 20, True
            ).samples
            for k in np.unique(k20)
        }
        fixed = plan_case(planning_rate(THRESHOLD, None, DETECT), TARGETS, 50, 20, True).samples
        cells = []
        for n in (np.vectorize(fitted.__getitem__)(k20), np.full(runs, fixed)):
            k_b = k20 + rng.binomial(n - SUITE_SAMPLES, p)
            k_c = rng.binomial(n, p)
            rejected = np.zeros(runs, bool)
            for size in np.unique(n):
                cells_n = n == size
                cuts = rejection_cuts(int(size), int(size), 0.0, level)
                rejected[cells_n] = k_c[cells_n] <= cuts[k_b[cells_n]]
            share = rejected.mean()
            cells.append(f"{share:.4f} (+/- {2 * np.sqrt(level * (1 - level) / runs):.4f})")
        rows.append(_row(f"{p:g}", *cells))
    return rows


def threshold_tables() -> list[str]:
    """Exact operating characteristics: fixed 100 samples against the SPRT capped at 100."""
    rows = _header(
        "true rate", "fixed 100: P(fail) / P(pass)", "adaptive <= 100: P(fail) / P(pass)", "mean n"
    )
    for p in (1.0, 0.99, 0.98, 0.97, 0.95, 0.93, 0.90, 0.85, 0.80, 0.50):
        f_fail, f_pass = threshold_fixed(p, 100)
        s_fail, s_pass, used = threshold_sequential(p, 100)
        rows.append(
            _row(
                f"{p:g}",
                f"{f_fail:.3f} / {f_pass:.3f}",
                f"{s_fail:.3f} / {s_pass:.3f}",
                f"{used:.1f}",
            )
        )
    rows += [
        "",
        *_header("budget N (fixed = adaptive maximum)", "adaptive mean n, realistic suite"),
    ]
    for cap in (50, 100, 150, 200):
        total = sum(count * threshold_sequential(p, cap)[2] for p, count in MIX.items())
        mean = total / sum(MIX.values())
        rows.append(_row(cap, f"{mean:.1f} ({mean / cap:.0%})"))
    return rows


def size_table() -> list[str]:
    """Why the exact p-value: the normal approximation's real size near rates of 1."""
    rows = _header("rate (both models)", "size at 0.05: normal / exact", "at 0.001: normal / exact")
    for p in (0.5, 0.9, 0.95, 0.99, 0.995, 1.0):
        a05, e05 = asymptotic_size(N_BASELINE, N_CANDIDATE, p, 0.05)
        a001, e001 = asymptotic_size(N_BASELINE, N_CANDIDATE, p, 0.001)
        rows.append(_row(f"{p:g}", f"{a05:.4f} / {e05:.4f}", f"{a001:.5f} / {e001:.5f}"))
    return rows


def margin_table(rng: np.random.Generator, runs: int) -> list[str]:
    """What a margin costs: power for the 0.95 -> 0.80 drop at 400 vs 150 samples (fixed)."""
    rates = suite_rates()
    dropped = rates.copy()
    case = int(np.nonzero(rates == 0.95)[0][0])
    dropped[case] = 0.80
    rows = _header("margin", "P(flagged), 50-case suite", "P(flagged), one-case suite")
    for margin in (0.0, 0.02, 0.05):
        cells = []
        for p_b, p_c in ((rates, dropped), (np.array([0.95]), np.array([0.80]))):
            k_b = rng.binomial(N_BASELINE, p_b, size=(runs, len(p_b)))
            k_c = rng.binomial(N_CANDIDATE, p_c, size=(runs, len(p_b)))
            result = fixed_outcomes(k_b, N_BASELINE, k_c, N_CANDIDATE, margin=margin)
            cells.append(result.regressed[:, case if len(p_b) > 1 else 0].mean())
        rows.append(_row(f"{margin:g}", *(f"{cell:.3f}" for cell in cells)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=4000, help="simulated suites per cell")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(
        f"{args.runs} simulated runs per cell, seed {args.seed}; alpha {ALPHA}, beta {BETA}, "
        f"margin {MARGIN}, detect {DETECT}, power {POWER}, rounds of {ROUND}; suite mix {MIX}, "
        f"threshold {THRESHOLD}"
    )
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        ("The plan, 50-case suite (candidate samples a case)", plan_table),
        *(
            (
                f"Default invocation, {title}",
                functools.partial(defaults_table, rng, args.runs, mode),
            )
            for mode, title in MODES.items()
        ),
        (
            "Offline compare of two adaptive threshold runs, nothing changed: "
            "P(any case regressed)",
            functools.partial(offline_table, rng, min(args.runs, 2000)),
        ),
        (
            "A 20-sample stored baseline topped up, nothing changed: P(regressed) at level 0.01",
            functools.partial(topup_table, rng, 100 * args.runs),
        ),
        ("Threshold verdict (threshold 0.95, tolerance 0.05), exact", threshold_tables),
        (
            f"Real size of the score test at Delta = 0, {N_BASELINE} vs {N_CANDIDATE} samples",
            size_table,
        ),
        ("Margin against power, fixed design", functools.partial(margin_table, rng, args.runs)),
    ]
    for title, rows in sections:
        print(f"\n{title}:")
        print("\n".join(rows()))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
