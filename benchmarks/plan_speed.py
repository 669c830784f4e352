"""How fast a comparison is planned: a 50-case suite, cold and warm, against a naive baseline.

The gate plans every comparison before sampling it, and ``promptcheck plan`` prints the same
plan, so planning must be quick. The plan searches sample sizes, and each size needs the exact
test's rejection region (``stats.power.rejection_cuts``: a bisection over the test statistic,
each step one exact tail probability). The named baseline is the obvious way to the same
numbers: every exact p-value of the size (``two_sample.pvalue_table``), then the region. Both
give identical plans (checked here); the ratio is printed. "Warm" is the second plan of the same
suite in the same process, served by the cut-off cache; "kept" is a new process's first plan
with the cut-offs the gate keeps beside the run store (``comparison.budget.kept_cuts``).

Usage: python benchmarks/plan_speed.py [--seed 0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from migration_simulation import MIX, SUITE_SAMPLES, TARGETS, THRESHOLD

from promptcheck.comparison.budget import Budget, CaseInput, budget_for, kept_cuts
from promptcheck.results import CaseResult
from promptcheck.stats import Outcome, ThresholdVerdict, power
from promptcheck.stats.two_sample import pvalue_table


def naive_cuts(
    n_baseline: int, n_candidate: int, delta0: float, level: float, alternative: str = "less"
) -> np.ndarray:
    """The rejection region from every exact p-value of the size: the baseline method."""
    table = pvalue_table(n_baseline, n_candidate, delta0, alternative)  # type: ignore[arg-type]
    rejected = table <= level
    counts = rejected.sum(axis=1)
    return counts - 1 if alternative == "less" else n_candidate + 1 - counts


def stored_case(case_id: str, k: int, n: int) -> CaseResult:
    """A stored baseline case: what planning reads of it is its counts."""
    verdict = ThresholdVerdict(Outcome.PASS, k, n, THRESHOLD, 0.05, (0.0, 1.0), "")
    return CaseResult("suite", "suites/s.yaml", case_id, "old", (), verdict)


def suite(stored: int | None, rng: np.random.Generator) -> list[CaseInput]:
    """The realistic 50-case suite against a live baseline (None) or a stored one."""
    rates = np.repeat(np.array(list(MIX)), list(MIX.values()))
    cases = []
    for i, rate in enumerate(rates):
        result: CaseResult | None = None
        if stored is not None:
            result = stored_case(f"c{i}", int(rng.binomial(stored, rate)), stored)
        cases.append(CaseInput(f"c{i}", THRESHOLD, SUITE_SAMPLES, result, True))
    return cases


def timed(cases: list[CaseInput]) -> tuple[float, Budget]:
    """The budget of ``cases`` at the default targets, and the seconds it took."""
    start = time.perf_counter()
    found = budget_for(cases, TARGETS, None)
    return time.perf_counter() - start, found


def clear() -> None:
    power.forget_cuts()
    pvalue_table.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        "| 50-case suite, baseline | naive: every p-value (s) | cut-offs, cold (s) | "
        "ratio | warm (s) | kept, new process (s) | kept / cold |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, stored in (("live", None), ("stored, 400 a case", 400)):
        cases = suite(stored, np.random.default_rng(args.seed))
        clear()
        with mock.patch.object(power, "rejection_cuts", naive_cuts):
            naive, expected = timed(cases)
        clear()
        with tempfile.TemporaryDirectory() as directory:
            with kept_cuts(Path(directory)):
                cold, found = timed(cases)
            warm, again = timed(cases)
            clear()  # a new process: nothing in memory, the file beside the store
            with kept_cuts(Path(directory)):
                kept, reread = timed(cases)
        assert found == expected == again == reread, "every way must give the same plan"
        print(
            f"| {label} | {naive:.2f} | {cold:.2f} | {naive / cold:.1f}x | {warm:.3f} | "
            f"{kept:.3f} | {kept / cold:.3f} |"
        )


if __name__ == "__main__":
    main()
