"""A stored baseline's guarantee, conditionally: how often does one reused baseline raise a false
alarm, across the candidates compared with it?

The false-alarm rate of a comparison (at most alpha) is an average over baselines as well as
candidates. A stored baseline is drawn once and reused for every candidate, so what a team lives
with is the rate *given its baseline*: a lucky baseline (drawn above its true rates) makes every
unchanged candidate look worse, again and again. This script draws many baselines of the
realistic 50-case suite, plans each comparison as the gate does (``comparison.budget``), and for
each baseline simulates many unchanged candidates: the distribution over baselines of the
conditional rate of any false regression.

Usage: python benchmarks/baseline_strength.py [--baselines 300] [--candidates 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np
from migration_simulation import ALPHA, MIX, SUITE_SAMPLES, TARGETS, THRESHOLD, regression_pvalues

from promptcheck.comparison.budget import case_budget
from promptcheck.stats.multiplicity import suite_adjust


@functools.cache
def candidate_samples(k: int, n: int, cases: int) -> int:
    """The candidate's budget against a stored (k, n) case, as the gate plans it."""
    return case_budget(
        "case",
        threshold=THRESHOLD,
        suite_samples=SUITE_SAMPLES,
        targets=TARGETS,
        cases=cases,
        stored=(k, n),
        top_up=True,
        option=None,
    ).samples


def conditional_rates(
    rng: np.random.Generator, n_base: int, baselines: int, candidates: int
) -> np.ndarray:
    """P(any false regression | baseline) for ``baselines`` stored baselines of ``n_base``."""
    rates = np.repeat(np.array(list(MIX), dtype=np.float64), list(MIX.values()))
    cases = len(rates)
    found = np.empty(baselines)
    critical = np.zeros(cases, bool)
    for b in range(baselines):
        k_base = rng.binomial(n_base, rates)
        n_cand = np.array([candidate_samples(int(k), n_base, cases) for k in k_base])
        k_cand = rng.binomial(n_cand, rates, size=(candidates, cases))
        shape = k_cand.shape
        p = regression_pvalues(
            np.full(shape, n_base),
            np.broadcast_to(n_cand, shape),
            np.broadcast_to(k_base, shape),
            k_cand,
        )
        found[b] = (suite_adjust(p, critical) <= ALPHA).any(axis=1).mean()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baselines", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()
    print(
        f"{args.baselines} stored baselines of the realistic 50-case suite, {args.candidates} "
        f"unchanged candidates each, seed {args.seed}; candidates draw the gate's plan"
    )
    print(
        "\n| baseline samples a case | mean (the guarantee) | median | 90th pct | 99th pct | "
        "max | P(rate > 0.05) | P(rate > 0.10) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for n_base in (190, 400, 1000):
        found = conditional_rates(rng, n_base, args.baselines, args.candidates)
        cells = [
            found.mean(),
            *np.percentile(found, [50, 90, 99]),
            found.max(),
            (found > 0.05).mean(),
            (found > 0.10).mean(),
        ]
        print(f"| {n_base} | " + " | ".join(f"{value:.3f}" for value in cells) + " |")
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
