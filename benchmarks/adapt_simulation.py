"""The claims of ``promptcheck adapt``'s selection, simulated with rewrites whose truth is known.

A scripted rewrite conforms at a known rate on the search values and at a known rate on the
held-out values (they differ for a rewrite fitted to the search values). Every decision is taken
by promptcheck's own code: :class:`promptcheck.stats.racing.Race` decides which rewrites stay
and which wins, :func:`promptcheck.stats.racing.confirm_threshold` whether the winner (then, if
refused, the next contender the race could not tell from it) is a fix, on samples drawn round by
round as ``adapt`` draws them. Two claims (docs/adapt.md):

* P(a useless rewrite is declared a fix) <= 0.05: a rewrite is useless when its held-out rate is
  at or below ``threshold - tolerance`` (0.90). The baseline is the naive selection that
  declares the race's winner a fix on the race's own samples (the same threshold test at the
  same level): the winner's curse in numbers.
* The race spends <= 50% of the samples of evaluating every rewrite at the full budget (the
  named baseline: K rewrites x the per-rewrite maximum).

tests/unit/stats/test_adapt_simulation.py runs the same engine with fewer runs and Monte Carlo
slack. Usage: python benchmarks/adapt_simulation.py [--runs 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from promptcheck.stats.racing import (
    CONFIRM_CONTENDERS,
    CONFIRM_LEVEL,
    RACE_ALPHA,
    Race,
    confirm_threshold,
    fix_probability,
    minimum_conforming,
    passes_threshold,
)

THRESHOLD = 0.95
TOLERANCE = 0.05
FLOOR = round(THRESHOLD - TOLERANCE, 12)
#: adapt's defaults on a suite of ``samples: 100``: the race draws up to 100 per rewrite in
#: rounds of 10, the held-out test draws 100.
MAX_SAMPLES = 100
ROUND = 10
PLANNED = 100


@dataclass(frozen=True)
class Scenario:
    """Rewrites as (search rate, held-out rate) pairs; ``useless`` marks a scenario in which no
    rewrite is a fix (every held-out rate at or below the floor)."""

    name: str
    rewrites: tuple[tuple[float, float], ...]

    @property
    def useless(self) -> bool:
        return all(held <= FLOOR for _, held in self.rewrites)


def _same(*rates: float) -> tuple[tuple[float, float], ...]:
    return tuple((rate, rate) for rate in rates)


#: Where a false fix is most likely: every rewrite exactly at the floor (the race cannot drop any
#: and the naive rule picks the luckiest), and a rewrite fitted to the search values.
USELESS = (
    Scenario("six rewrites, all at the floor 0.90", _same(*[0.90] * 6)),
    Scenario(
        "one fitted to the search values (1.0 there, 0.90 held out), five at 0.5",
        ((1.0, 0.90), *_same(*[0.5] * 5)),
    ),
    Scenario("six rewrites at 0.85", _same(*[0.85] * 6)),
    Scenario(
        "two fitted to the search values (1.0 there, 0.90 held out), four at 0.5",
        ((1.0, 0.90), (1.0, 0.90), *_same(*[0.5] * 4)),
    ),
)
#: Where the race should save samples: shapes of a migration, two of them the search rates the
#: six operators had on the known truth (docs/adapt.md: the data-first tiny Dolly).
EFFICIENCY = (
    Scenario("one working rewrite (0.99) among six, the rest at 0.3", _same(0.99, *[0.3] * 5)),
    Scenario(
        "two working (1.0, 0.98), one at 0.9, three at 0", _same(0.0, 1.0, 0.9, 0.98, 0.0, 0.0)
    ),
    Scenario(
        "as on the known truth's ticket-json: 1.0, 1.0, 0.86, 0.55, 0, 0",
        _same(0.0, 0.55, 1.0, 0.86, 0.0, 1.0),
    ),
    Scenario(
        "as on the known truth's contact-json: 0.98, 0.96, 0.96, 0.1, 0, 0",
        _same(0.0, 0.1, 0.98, 0.96, 0.0, 0.96),
    ),
    Scenario(
        "the race's likely winner fitted to the search values (1.0 there, 0.5 held out), "
        "one that works (1.0), four at 0",
        ((1.0, 0.5), (1.0, 1.0), *_same(*[0.0] * 4)),
    ),
    Scenario("none works: six rewrites at 0.2", _same(*[0.2] * 6)),
)


@dataclass
class Outcome:
    """What one scenario gave over ``runs`` simulated cases."""

    runs: int
    fixed: int = 0
    naive_fixed: int = 0
    useless_fixed: int = 0
    race_samples: int = 0
    confirm_samples: int = 0

    def rate(self, count: int) -> float:
        return count / self.runs


def simulate_case(
    scenario: Scenario, rng: np.random.Generator, *, alpha: float = RACE_ALPHA
) -> tuple[bool, bool, bool, int, int]:
    """One case: (declared a fix, naive rule's verdict, the rewrite declared a fix is useless,
    race samples, held-out samples). As ``adapt`` does, the race's contenders go to the
    held-out test in turn, each at the level split between them, until one is a fix."""
    names = [f"r{i}" for i in range(len(scenario.rewrites))]
    race = Race(names, floor=FLOOR, alpha=alpha, max_samples=MAX_SAMPLES, round_size=ROUND)
    counts = {name: [0, 0] for name in names}
    spent = 0
    result = None
    while result is None:
        wanted = race.next_round()
        for name, count in wanted.items():
            search_rate = scenario.rewrites[names.index(name)][0]
            counts[name][0] += int(rng.binomial(count, search_rate))
            counts[name][1] += count
            spent += count
        result = race.update({name: (counts[name][0], counts[name][1]) for name in wanted})
    if result.winner is None:
        return False, False, False, spent, 0
    k_search, n_search = counts[result.winner]
    naive = passes_threshold(k_search, n_search, THRESHOLD, TOLERANCE, CONFIRM_LEVEL)
    contenders = result.contenders(CONFIRM_CONTENDERS, FLOOR)
    level = CONFIRM_LEVEL / len(contenders)
    held_out = 0
    for name in contenders:
        held_rate = scenario.rewrites[names.index(name)][1]
        k = n = 0
        decision = None
        while decision is None:
            step = min(ROUND, PLANNED - n)
            k += int(rng.binomial(step, held_rate))
            n += step
            decision = confirm_threshold(
                k, n, PLANNED, threshold=THRESHOLD, tolerance=TOLERANCE, level=level
            )
        held_out += n
        if decision.fixed:
            return True, naive, held_rate <= FLOOR, spent, held_out
    return False, naive, False, spent, held_out


def simulate(scenario: Scenario, runs: int, seed: int) -> Outcome:
    rng = np.random.default_rng(seed)
    outcome = Outcome(runs)
    for _ in range(runs):
        fixed, naive, useless, race, confirm = simulate_case(scenario, rng)
        outcome.fixed += fixed
        outcome.naive_fixed += naive
        outcome.useless_fixed += useless
        outcome.race_samples += race
        outcome.confirm_samples += confirm
    return outcome


def full_budget(scenario: Scenario) -> int:
    """The named baseline: every rewrite evaluated at the per-rewrite maximum."""
    return len(scenario.rewrites) * MAX_SAMPLES


def interval(count: int, runs: int) -> str:
    """A Monte Carlo estimate with its 95% normal interval."""
    p = count / runs
    half = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / runs)
    return f"{p:.3f} ± {half:.3f}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    minimum = minimum_conforming(PLANNED, THRESHOLD, TOLERANCE, CONFIRM_LEVEL)
    print(
        f"threshold {THRESHOLD}, tolerance {TOLERANCE} (floor {FLOOR:g}); race alpha {RACE_ALPHA} "
        f"over all rewrites, at most {MAX_SAMPLES} samples a rewrite in rounds of {ROUND}; "
        f"held-out test of {PLANNED} samples at level {CONFIRM_LEVEL}: a fix needs "
        f"{minimum}/{PLANNED}"
    )
    print(
        f"exact: P(declared a fix) at a held-out rate of {FLOOR:g} = "
        f"{fix_probability(FLOOR, PLANNED, minimum):.4f}; at 0.99: "
        f"{fix_probability(0.99, PLANNED, minimum):.3f}; at 1.0: 1\n"
    )
    print("Useless rewrites only: P(declared a fix), adapt against the naive rule")
    print("| scenario | adapt: P(fix) | naive (winner's own samples): P(fix) |")
    print("|---|---|---|")
    for index, scenario in enumerate(USELESS):
        result = simulate(scenario, args.runs, args.seed + index)
        print(
            f"| {scenario.name} | {interval(result.fixed, args.runs)} "
            f"| {interval(result.naive_fixed, args.runs)} |"
        )
    print("\nRace samples against evaluating every rewrite at the full budget (the baseline)")
    print(
        "| scenario | P(declared a fix) | race samples (mean) | full budget | ratio "
        "| held-out samples (mean) |"
    )
    print("|---|---|---|---|---|---|")
    ratios = []
    for index, scenario in enumerate(EFFICIENCY):
        result = simulate(scenario, args.runs, args.seed + 100 + index)
        mean = result.race_samples / args.runs
        ratio = mean / full_budget(scenario)
        ratios.append(ratio)
        print(
            f"| {scenario.name} | {interval(result.fixed, args.runs)} | {mean:.1f} "
            f"| {full_budget(scenario)} | {ratio:.1%} | {result.confirm_samples / args.runs:.1f} |"
        )
    print(f"\nmean ratio over these scenarios: {np.mean(ratios):.1%} (goal <= 50%)")
    print(
        f"({args.runs} runs per scenario, seed {args.seed}, {time.perf_counter() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
