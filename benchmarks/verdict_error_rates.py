"""Exact operating characteristic of the threshold verdict: P(fail) and P(pass) by true rate.

Not a simulation: for each sample size n the verdict is computed for every k in 0..n and the
binomial probabilities of the k's leading to each outcome are summed. The figures are the ones
in docs/statistics.md; the simulation test in tests/unit/stats/test_threshold.py checks them
independently.
Usage: python benchmarks/verdict_error_rates.py [--threshold 0.95] [--tolerance 0.05]
"""

from __future__ import annotations

import argparse

from scipy.stats import binom

from promptcheck.stats import Outcome, threshold_verdict

RATES = (1.0, 0.99, 0.95, 0.90, 0.85, 0.80, 0.70)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=0.95)
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--sizes", type=int, nargs="+", default=[24, 50, 100, 200])
    args = parser.parse_args()
    header = " | ".join(f"p={p:g}" for p in RATES)
    print(f"threshold {args.threshold}, tolerance {args.tolerance}, alpha 0.05, beta 0.2")
    print(f"| n | fails when k <= | passes when k >= | {header} |")
    print("|---" * (3 + len(RATES)) + "|")
    for n in args.sizes:
        outcomes = [
            threshold_verdict(k, n, args.threshold, tolerance=args.tolerance).outcome
            for k in range(n + 1)
        ]
        fail_at = max((k for k in range(n + 1) if outcomes[k] is Outcome.FAIL), default=-1)
        pass_at = min((k for k in range(n + 1) if outcomes[k] is Outcome.PASS), default=n + 1)
        cells = []
        for p in RATES:
            fail = sum(binom.pmf(k, n, p) for k in range(n + 1) if outcomes[k] is Outcome.FAIL)
            passed = sum(binom.pmf(k, n, p) for k in range(n + 1) if outcomes[k] is Outcome.PASS)
            cells.append(f"{fail:.3f} / {passed:.3f}")
        print(f"| {n} | {fail_at} | {pass_at} | " + " | ".join(cells) + " |")
    print("cells: P(fail) / P(pass); the rest is P(undecided)")


if __name__ == "__main__":
    main()
