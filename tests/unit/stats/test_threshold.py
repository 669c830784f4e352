"""The statistics behind verdicts: exact intervals, the threshold test, and its error rates.

The error-rate claims of docs/statistics.md are checked two ways: exactly (the verdict depends on k
only, so the probability of each outcome is a sum of binomial probabilities) and by a seeded
simulation. ``python tests/unit/stats/test_threshold.py`` prints both as the table of the docs.
"""

from __future__ import annotations

import functools
import math
from collections import Counter

import numpy as np
import pytest
from scipy.stats import binom, binomtest

from promptcheck.stats import (
    Outcome,
    clopper_pearson,
    lower_bound,
    threshold_verdict,
    upper_bound,
)

ALPHA = 0.05
BETA = 0.2
DRAWS = 4000
#: Monte Carlo slack: four standard errors of a rate estimated from DRAWS draws.
SLACK = 4 * math.sqrt(0.25 / DRAWS)


@pytest.mark.parametrize("n", [1, 2, 5, 20, 61])
@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_clopper_pearson_matches_scipy(n: int, confidence: float) -> None:
    for k in range(n + 1):
        expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
        low, high = clopper_pearson(k, n, confidence)
        assert low == pytest.approx(expected.low, abs=1e-9)
        assert high == pytest.approx(expected.high, abs=1e-9)


def test_one_sided_bounds_match_scipy() -> None:
    for k in range(21):
        greater = binomtest(k, 20, alternative="greater").proportion_ci(0.8, method="exact")
        less = binomtest(k, 20, alternative="less").proportion_ci(0.95, method="exact")
        assert lower_bound(k, 20, 0.8) == pytest.approx(greater.low, abs=1e-9)
        assert upper_bound(k, 20, 0.95) == pytest.approx(less.high, abs=1e-9)


def test_bounds_at_the_edges() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    assert clopper_pearson(0, 10)[0] == 0.0
    assert clopper_pearson(10, 10)[1] == 1.0
    assert upper_bound(0, 10, 0.95) == pytest.approx(1 - 0.05 ** (1 / 10))
    assert lower_bound(10, 10, 0.8) == pytest.approx(0.2 ** (1 / 10))


@pytest.mark.parametrize(
    ("k", "n", "outcome"),
    [
        (20, 20, Outcome.PASS),  # 80% lower bound 0.923 > 0.90
        (19, 20, Outcome.UNDECIDED),
        (17, 20, Outcome.UNDECIDED),  # 95% upper bound 0.958 >= 0.95
        (16, 20, Outcome.FAIL),
        (0, 20, Outcome.FAIL),
        (39, 40, Outcome.PASS),
        (0, 0, Outcome.UNDECIDED),
        (1, 1, Outcome.UNDECIDED),
    ],
)
def test_threshold_verdict_outcomes(k: int, n: int, outcome: Outcome) -> None:
    verdict = threshold_verdict(k, n, 0.95, tolerance=0.05)
    assert verdict.outcome is outcome
    assert (verdict.k, verdict.n, verdict.threshold, verdict.tolerance) == (k, n, 0.95, 0.05)
    assert verdict.interval == clopper_pearson(k, n)
    assert verdict.rate == (k / n if n else 0.0)


def test_threshold_verdict_explains_itself() -> None:
    assert threshold_verdict(0, 20, 0.95).explanation.startswith(
        "95% upper bound 0.139 < threshold"
    )
    assert threshold_verdict(20, 20, 0.95).explanation.startswith("80% lower bound 0.923 > 0.9")
    assert "19/20 cannot tell" in threshold_verdict(19, 20, 0.95).explanation
    assert threshold_verdict(0, 0, 0.95).explanation == "no scored samples"


@pytest.mark.parametrize(("threshold", "tolerance"), [(0.05, 0.05), (0.0, 0.0), (0.03, 0.05)])
def test_a_threshold_within_tolerance_of_zero_is_refused(
    threshold: float, tolerance: float
) -> None:
    """It would pass every model, one that never conforms included, with a false bound in its
    explanation; the suite loader refuses such a case, and so does the function."""
    with pytest.raises(ValueError, match="every rate would pass"):
        threshold_verdict(0, 10, threshold, tolerance=tolerance)


def test_the_smallest_positive_floor_still_fails_a_model_that_never_conforms() -> None:
    assert threshold_verdict(0, 100, 0.06, tolerance=0.05).outcome is Outcome.FAIL


def test_a_threshold_of_one_fails_on_any_failure() -> None:
    assert threshold_verdict(99, 100, 1.0, tolerance=0.01).outcome is Outcome.FAIL
    assert threshold_verdict(100, 100, 1.0, tolerance=0.01).outcome is Outcome.UNDECIDED


@functools.cache
def verdicts(n: int, threshold: float, tolerance: float) -> tuple[Outcome, ...]:
    """The verdict for every k in 0..n (it depends on k only)."""
    return tuple(
        threshold_verdict(k, n, threshold, tolerance=tolerance).outcome for k in range(n + 1)
    )


def outcome_probabilities(
    p: float, n: int, threshold: float, tolerance: float
) -> dict[Outcome, float]:
    """Exact probabilities of each verdict when the true rate is ``p``."""
    chances = dict.fromkeys(Outcome, 0.0)
    for k, outcome in enumerate(verdicts(n, threshold, tolerance)):
        chances[outcome] += float(binom.pmf(k, n, p))
    return chances


def simulated(
    p: float, n: int, threshold: float, tolerance: float, seed: int
) -> dict[Outcome, float]:
    """Rates of each verdict over DRAWS simulated runs of n samples at the true rate p."""
    by_k = verdicts(n, threshold, tolerance)
    ks = np.random.default_rng(seed).binomial(n, p, size=DRAWS)
    counts = Counter(by_k[int(k)] for k in ks)
    return {outcome: counts[outcome] / DRAWS for outcome in Outcome}


#: (samples, threshold, tolerance): the budgets of docs/statistics.md, and a looser threshold.
SETTINGS = [
    (24, 0.95, 0.05),
    (50, 0.95, 0.05),
    (100, 0.95, 0.05),
    (200, 0.95, 0.05),
    (40, 0.8, 0.1),
]
#: The true rates of the table in docs/statistics.md.
DOC_RATES = (1.0, 0.99, 0.95, 0.9, 0.85, 0.8, 0.7)


@pytest.mark.parametrize(("n", "threshold", "tolerance"), SETTINGS)
def test_a_model_at_the_threshold_fails_at_most_alpha(
    n: int, threshold: float, tolerance: float
) -> None:
    assert outcome_probabilities(threshold, n, threshold, tolerance)[Outcome.FAIL] <= ALPHA
    rates = simulated(threshold, n, threshold, tolerance, seed=n)
    assert rates[Outcome.FAIL] <= ALPHA + SLACK


@pytest.mark.parametrize(("n", "threshold", "tolerance"), SETTINGS)
def test_a_model_at_threshold_minus_tolerance_passes_at_most_beta(
    n: int, threshold: float, tolerance: float
) -> None:
    floor = threshold - tolerance
    assert outcome_probabilities(floor, n, threshold, tolerance)[Outcome.PASS] <= BETA
    rates = simulated(floor, n, threshold, tolerance, seed=1000 + n)
    assert rates[Outcome.PASS] <= BETA + SLACK


@pytest.mark.parametrize(("n", "threshold", "tolerance"), SETTINGS)
def test_the_error_rates_hold_beyond_the_boundaries(
    n: int, threshold: float, tolerance: float
) -> None:
    """Better models fail less often than alpha; worse models pass less often than beta."""
    for p in (threshold, (1 + threshold) / 2, 1.0):
        assert outcome_probabilities(p, n, threshold, tolerance)[Outcome.FAIL] <= ALPHA
    for p in (threshold - tolerance, (threshold - tolerance) / 2, 0.0):
        assert outcome_probabilities(p, n, threshold, tolerance)[Outcome.PASS] <= BETA


@pytest.mark.parametrize("n", [24, 50, 100, 200])
def test_the_simulation_agrees_with_the_exact_table(n: int) -> None:
    """Every cell of the docs' table, simulated: the exact figures are the verdicts' real rates."""
    for p in DOC_RATES:
        exact = outcome_probabilities(p, n, 0.95, 0.05)
        sim = simulated(p, n, 0.95, 0.05, seed=n)
        for outcome in Outcome:
            assert abs(sim[outcome] - exact[outcome]) <= SLACK, (n, p, outcome)


def error_rate_table() -> str:
    """docs/statistics.md's table, simulated: P(fail) / P(pass) per budget and true rate."""
    lines = [
        "| n | " + " | ".join(f"p={p:g}" for p in DOC_RATES) + " |",
        "|---|" + "---|" * len(DOC_RATES),
    ]
    for n in (24, 50, 100, 200):
        cells = []
        for p in DOC_RATES:
            sim = simulated(p, n, 0.95, 0.05, seed=n)
            cells.append(f"{sim[Outcome.FAIL]:.3f} / {sim[Outcome.PASS]:.3f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(
        f"Simulated: {DRAWS} runs per cell (numpy default_rng, seed = n); threshold 0.95, "
        f"tolerance 0.05; cells are P(fail) / P(pass).\n"
    )
    print(error_rate_table())
