"""The migration claims, simulated: false alarms, power, and the samples adaptive sampling saves.

Prints the tables of docs/statistics.md ("Comparing two models", "Adaptive sampling"). Every
decision is taken by promptcheck's own code: the exact p-values (``compare.pvalue_table``, the
same numbers as ``compare.exact_pvalue``), the suite-level procedure (``compare.suite_adjust``),
and the stopping rules of ``sequential.ComparisonMonitor`` / ``ThresholdMonitor`` as count
boundaries. The threshold verdict's figures are exact (binomial sums and dynamic programming over
the counts), not simulated. tests/unit/stats/test_two_sample.py and test_sequential.py assert
the claims with fewer runs and Monte Carlo slack.

Usage: python benchmarks/migration_simulation.py [--runs 4000] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import time
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.stats import binom, norm

from promptcheck.stats.multiplicity import suite_adjust
from promptcheck.stats.sequential import ComparisonMonitor, ThresholdMonitor
from promptcheck.stats.threshold import Outcome, threshold_verdict
from promptcheck.stats.two_sample import pvalue_table, score_statistic

ALPHA = 0.05
BETA = 0.2
MARGIN = 0.0
TOLERANCE = 0.05
#: The default budget: a pinned baseline keeps 400 samples per case (drawn once, reused), the
#: candidate draws 150; live comparisons draw 150 per model. Rounds of 10.
N_BASELINE = 400
N_CANDIDATE = 150
N_LIVE = 150
ROUND = 10
#: A realistic 50-case suite: most prompts conform nearly always, several exactly always.
MIX = {1.0: 15, 0.99: 15, 0.98: 10, 0.97: 5, 0.95: 5}


def suite_rates(mix: dict[float, int] = MIX) -> NDArray[np.float64]:
    return np.repeat(np.array(list(mix), dtype=np.float64), list(mix.values()))


@dataclass
class Result:
    """Per-run and per-case outcomes of a simulated suite."""

    regressed: NDArray[np.bool_]  # runs x cases
    unchanged: NDArray[np.bool_]
    used: NDArray[np.float64]  # candidate samples per case

    def any_regressed(self, cases: slice | list[int] = slice(None)) -> float:
        return float(self.regressed[:, cases].any(axis=1).mean())

    def inconclusive(self) -> float:
        return float((~self.regressed & ~self.unchanged).mean())


def _verdicts(
    p_regressed: NDArray[np.float64], noninferior: NDArray[np.bool_], critical: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    regressed = suite_adjust(p_regressed, critical) <= ALPHA
    return regressed, noninferior & ~regressed


def fixed_outcomes(
    k_base: NDArray[np.int64],
    k_cand: NDArray[np.int64],
    *,
    n_base: int = N_BASELINE,
    n_cand: int = N_CANDIDATE,
    critical: NDArray[np.bool_] | None = None,
    margin: float = MARGIN,
) -> Result:
    """Fixed design on drawn counts (runs x cases): exact p-values, then the suite procedure."""
    crit = np.zeros(k_base.shape[-1], bool) if critical is None else critical
    p_reg = pvalue_table(n_base, n_cand, -margin, "less")[k_base, k_cand]
    noninf = pvalue_table(n_base, n_cand, -TOLERANCE, "greater")[k_base, k_cand] <= BETA
    regressed, unchanged = _verdicts(p_reg, noninf, crit)
    return Result(regressed, unchanged, np.full(k_base.shape, float(n_cand)))


def simulate_fixed(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    n_base: int = N_BASELINE,
    n_cand: int = N_CANDIDATE,
    critical: NDArray[np.bool_] | None = None,
    margin: float = MARGIN,
) -> Result:
    """Fixed design: every case draws n_cand candidate samples against n_base baseline ones."""
    k_base = rng.binomial(n_base, p_base, size=(runs, len(p_base)))
    k_cand = rng.binomial(n_cand, p_cand, size=(runs, len(p_base)))
    return fixed_outcomes(
        k_base, k_cand, n_base=n_base, n_cand=n_cand, critical=critical, margin=margin
    )


@functools.cache
def _pinned_boundary(n_base: int, cap: int) -> NDArray[np.int64]:
    """boundary[k_baseline, look]: the pinned monitor's early-stopping rule as counts."""
    looks = range(ROUND, cap + 1, ROUND)
    monitor = ComparisonMonitor(baseline=(0, n_base), max_samples=cap, round_size=ROUND)
    k_base = np.arange(n_base + 1)
    return np.stack([monitor.unchanged_boundaries(n, k_base, n_base) for n in looks], axis=1)


@functools.cache
def _live_boundary(cap: int) -> NDArray[np.int64]:
    """boundary[k_baseline, look]: the live monitor's rule when both models have n samples."""
    monitor = ComparisonMonitor(max_samples=cap, round_size=ROUND)
    looks = range(ROUND, cap + 1, ROUND)
    table = np.full((cap + 1, len(looks)), cap + 1, dtype=np.int64)
    for j, n in enumerate(looks):
        table[: n + 1, j] = monitor.unchanged_boundaries(n, np.arange(n + 1), n)
    return table


def adaptive_outcomes(
    k_base: NDArray[np.int64],
    base_rounds: NDArray[np.int64] | None,
    cand_rounds: NDArray[np.int64],
    *,
    n_base: int = N_BASELINE,
    critical: NDArray[np.bool_] | None = None,
) -> Result:
    """Adaptive design on drawn data: runs x cases x rounds of conforming counts per round.

    ``base_rounds`` is None for a pinned baseline (``k_base`` conforming of ``n_base``), else the
    live baseline's counts per round (and ``k_base`` is ignored). A case stops at the first round
    where ComparisonMonitor's boundary is met; otherwise the exact tests decide at the cap.
    """
    _, cases, rounds = cand_rounds.shape
    cap = ROUND * rounds
    crit = np.zeros(cases, bool) if critical is None else critical
    looks = np.arange(ROUND, cap + 1, ROUND)
    k_c = np.cumsum(cand_rounds, axis=2)
    if base_rounds is not None:
        k_b_path = np.cumsum(base_rounds, axis=2)
        boundary = _live_boundary(cap)[k_b_path, np.arange(rounds)]
        k_b, n_b = k_b_path[:, :, -1], cap
    else:
        boundary = _pinned_boundary(n_base, cap)[k_base]
        k_b, n_b = k_base, n_base
    hit = k_c >= boundary
    stopped = hit.any(axis=2)
    used = np.where(stopped, looks[hit.argmax(axis=2)], cap).astype(np.float64)
    final_beta = ComparisonMonitor().final_beta
    at_cap = k_c[:, :, -1]
    p_reg = np.where(stopped, 1.0, pvalue_table(n_b, cap, -MARGIN, "less")[k_b, at_cap])
    p_ni = pvalue_table(n_b, cap, -TOLERANCE, "greater")[k_b, at_cap]
    noninf = stopped | (p_ni <= final_beta)
    regressed, unchanged = _verdicts(p_reg, noninf, crit)
    return Result(regressed, unchanged, used)


def draw(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    live: bool = False,
    n_base: int = N_BASELINE,
    cap: int = N_CANDIDATE,
) -> tuple[NDArray[np.int64], NDArray[np.int64] | None, NDArray[np.int64]]:
    """Conforming counts per round: (baseline total, baseline rounds if live, candidate rounds)."""
    shape = (runs, len(p_base), cap // ROUND)
    cand_rounds = rng.binomial(ROUND, p_cand[None, :, None], size=shape)
    if live:
        base_rounds = rng.binomial(ROUND, p_base[None, :, None], size=shape)
        return base_rounds.sum(axis=2), base_rounds, cand_rounds
    return rng.binomial(n_base, p_base, size=(runs, len(p_base))), None, cand_rounds


def simulate_adaptive(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    live: bool = False,
    n_base: int = N_BASELINE,
    cap: int = N_CANDIDATE,
    critical: NDArray[np.bool_] | None = None,
) -> Result:
    """Adaptive design: rounds of ROUND samples, stop early as unchanged, else exact at the cap."""
    k_base, base_rounds, cand_rounds = draw(
        rng, p_base, p_cand, runs, live=live, n_base=n_base, cap=cap
    )
    return adaptive_outcomes(k_base, base_rounds, cand_rounds, n_base=n_base, critical=critical)


def simulate_both(
    rng: np.random.Generator,
    p_base: NDArray[np.float64],
    p_cand: NDArray[np.float64],
    runs: int,
    *,
    live: bool = False,
    critical: NDArray[np.bool_] | None = None,
) -> tuple[Result, Result]:
    """Fixed and adaptive designs on the same samples (the fixed one sees all of them)."""
    n_base = N_LIVE if live else N_BASELINE
    cap = N_LIVE if live else N_CANDIDATE
    k_base, base_rounds, cand_rounds = draw(
        rng, p_base, p_cand, runs, live=live, n_base=n_base, cap=cap
    )
    fixed = fixed_outcomes(
        k_base, cand_rounds.sum(axis=2), n_base=n_base, n_cand=cap, critical=critical
    )
    adaptive = adaptive_outcomes(k_base, base_rounds, cand_rounds, n_base=n_base, critical=critical)
    return fixed, adaptive


def threshold_fixed(p: float, n: int, threshold: float = 0.95) -> tuple[float, float]:
    """Exact P(fail), P(pass) of the fixed-sample verdict at true rate p."""
    fail = passed = 0.0
    for k in range(n + 1):
        outcome = threshold_verdict(k, n, threshold, tolerance=TOLERANCE).outcome
        weight = float(binom.pmf(k, n, p))
        fail += weight if outcome is Outcome.FAIL else 0.0
        passed += weight if outcome is Outcome.PASS else 0.0
    return fail, passed


def threshold_sequential(
    p: float, cap: int, threshold: float = 0.95, round_size: int = ROUND
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


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _header(*titles: str) -> list[str]:
    return [_row(*titles), "|" + "---|" * len(titles)]


def comparison_table(rng: np.random.Generator, runs: int, live: bool) -> list[str]:
    """The claims for one mode (pinned or live baseline): fixed against adaptive."""
    rates = suite_rates()
    m = len(rates)
    dropped = rates.copy()
    drop_case = int(np.nonzero(rates == 0.95)[0][0])
    dropped[drop_case] = 0.80
    critical = np.zeros(m, bool)
    critical[[drop_case, 0, 15, 30, 40]] = True
    others = [i for i in range(m) if i != drop_case]
    cap = N_LIVE if live else N_CANDIDATE

    def both(
        p_b: NDArray[np.float64], p_c: NDArray[np.float64], crit: NDArray[np.bool_] | None = None
    ) -> tuple[Result, Result]:
        return simulate_both(rng, p_b, p_c, runs, live=live, critical=crit)

    rows = _header("scenario", "fixed", "adaptive")
    null = both(rates, rates)
    flat = both(np.full(m, 0.90), np.full(m, 0.90))
    crit_null = both(rates, rates, critical)
    drop = both(rates, dropped)
    crit_drop = both(rates, dropped, critical)
    single = both(np.array([0.95]), np.array([0.80]))
    cells = [
        ("no change, realistic suite: P(any case regressed)", [r.any_regressed() for r in null]),
        ("no change, every case at 0.90: P(any case regressed)", [r.any_regressed() for r in flat]),
        (
            "no change, 5 cases critical: P(any case regressed)",
            [r.any_regressed() for r in crit_null],
        ),
        (
            "one case 0.95 -> 0.80: P(it is flagged regressed)",
            [r.regressed[:, drop_case].mean() for r in drop],
        ),
        ("... and P(any other case flagged)", [r.any_regressed(others) for r in drop]),
        (
            "one critical case 0.95 -> 0.80: P(it is flagged)",
            [r.regressed[:, drop_case].mean() for r in crit_drop],
        ),
        ("a one-case suite 0.95 -> 0.80: P(it is flagged)", [r.regressed.mean() for r in single]),
        ("P(inconclusive) per case, no change", [r.inconclusive() for r in null]),
    ]
    rows += [_row(label, f"{fixed:.3f}", f"{adaptive:.3f}") for label, (fixed, adaptive) in cells]
    used = null[1].used.mean()
    rows.append(
        _row("candidate samples per case, no change", cap, f"{used:.1f} ({used / cap:.0%})")
    )
    return rows


def per_rate_table(rng: np.random.Generator, runs: int) -> list[str]:
    """Pinned baseline, no change, one rate at a time: where the samples are saved."""
    rows = _header(
        "rate", "adaptive mean samples", "P(stopped early)", "P(unchanged) adaptive", "fixed"
    )
    for p in (1.0, 0.99, 0.98, 0.97, 0.95, 0.90):
        rate = np.array([p])
        fixed = simulate_fixed(rng, rate, rate, runs)
        adaptive = simulate_adaptive(rng, rate, rate, runs)
        used = adaptive.used.mean()
        early = float((adaptive.used < N_CANDIDATE).mean())
        rows.append(
            _row(
                f"{p:g}",
                f"{used:.1f} ({used / N_CANDIDATE:.0%})",
                f"{early:.3f}",
                f"{adaptive.unchanged.mean():.3f}",
                f"{fixed.unchanged.mean():.3f}",
            )
        )
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
    """What a margin costs: power for the 0.95 -> 0.80 drop at the default budget (fixed)."""
    rates = suite_rates()
    dropped = rates.copy()
    case = int(np.nonzero(rates == 0.95)[0][0])
    dropped[case] = 0.80
    rows = _header("margin", "P(flagged), 50-case suite", "P(flagged), one-case suite")
    for margin in (0.0, 0.02, 0.05):
        suite = simulate_fixed(rng, rates, dropped, runs, margin=margin)
        one = simulate_fixed(rng, np.array([0.95]), np.array([0.80]), runs, margin=margin)
        rows.append(
            _row(
                f"{margin:g}",
                f"{suite.regressed[:, case].mean():.3f}",
                f"{one.regressed.mean():.3f}",
            )
        )
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
        f"margin {MARGIN}, tolerance {TOLERANCE}, rounds of {ROUND}; suite mix {MIX}"
    )
    sections = [
        (
            f"Pinned baseline ({N_BASELINE} samples a case); the candidate draws {N_CANDIDATE}",
            comparison_table(rng, args.runs, live=False),
        ),
        (
            f"Live baseline: both models draw {N_LIVE} a case",
            comparison_table(rng, args.runs, live=True),
        ),
        ("Pinned baseline, no change, by true rate", per_rate_table(rng, args.runs)),
        ("Threshold verdict (threshold 0.95, tolerance 0.05), exact", threshold_tables()),
        (
            f"Real size of the score test at Delta = 0, {N_BASELINE} vs {N_CANDIDATE} samples",
            size_table(),
        ),
        ("Margin against power, fixed design", margin_table(rng, args.runs)),
    ]
    for title, rows in sections:
        print(f"\n{title}:")
        print("\n".join(rows))
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
