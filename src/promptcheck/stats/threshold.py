"""Statistics behind the verdicts: exact binomial bounds and the threshold test.

The threshold verdict answers "does this model meet the required conformance rate?" as a test
between H0: p >= threshold and H1: p <= threshold - tolerance, so that a case fails only on
evidence. See docs/statistics.md for the error rates and the simulations that check them.
The bounds are beta quantiles computed in pure Python (:mod:`promptcheck.stats.betainc`): importing
scipy for them cost half a second of every run.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from promptcheck.stats.betainc import inverse_regularized_beta


class Outcome(enum.StrEnum):
    """Verdict of one case against its threshold."""

    PASS = "pass"
    FAIL = "fail"
    UNDECIDED = "undecided"


def upper_bound(k: int, n: int, level: float) -> float:
    """Exact one-sided upper confidence bound for p at ``level`` (Clopper-Pearson)."""
    if n == 0 or k >= n:
        return 1.0
    return inverse_regularized_beta(level, k + 1, n - k)


def lower_bound(k: int, n: int, level: float) -> float:
    """Exact one-sided lower confidence bound for p at ``level`` (Clopper-Pearson)."""
    if n == 0 or k <= 0:
        return 0.0
    return inverse_regularized_beta(1.0 - level, k, n - k + 1)


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided interval; conservative, so its coverage is at least ``confidence``."""
    tail = (1.0 + confidence) / 2.0
    return lower_bound(k, n, tail), upper_bound(k, n, tail)


@dataclass(frozen=True, slots=True)
class ThresholdVerdict:
    """The rate k/n, its 95% interval, and the decision against the threshold."""

    outcome: Outcome
    k: int
    n: int
    threshold: float
    tolerance: float
    interval: tuple[float, float]
    explanation: str

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0


def threshold_verdict(
    k: int,
    n: int,
    threshold: float,
    *,
    tolerance: float = 0.05,
    alpha: float = 0.05,
    beta: float = 0.2,
) -> ThresholdVerdict:
    """Decide pass / fail / undecided from k conforming samples out of n.

    FAIL when the one-sided (1 - alpha) upper bound is below the threshold: a model that truly
    meets the threshold fails with probability at most alpha. PASS when the one-sided (1 - beta)
    lower bound is above ``threshold - tolerance``: a model at or below ``threshold - tolerance``
    passes with probability at most beta. Otherwise the samples cannot tell: UNDECIDED.

    ``threshold - tolerance`` must be above 0: at or below it no rate is "clearly not good
    enough", every model would pass, and the suite loader refuses such a case.
    """
    if threshold - tolerance <= 0.0:
        raise ValueError(
            f"threshold - tolerance = {threshold - tolerance:g} <= 0: every rate would pass"
        )
    interval = clopper_pearson(k, n)
    if n == 0:
        return ThresholdVerdict(
            Outcome.UNDECIDED, k, n, threshold, tolerance, interval, "no scored samples"
        )
    upper = upper_bound(k, n, 1.0 - alpha)
    floor = threshold - tolerance
    lower = lower_bound(k, n, 1.0 - beta)
    if upper < threshold:
        outcome = Outcome.FAIL
        why = f"{1 - alpha:.0%} upper bound {upper:.3f} < threshold {threshold:g}"
    elif lower > floor:
        outcome = Outcome.PASS
        why = f"{1 - beta:.0%} lower bound {lower:.3f} > {floor:g} (threshold - tolerance)"
    else:
        outcome = Outcome.UNDECIDED
        why = (
            f"{k}/{n} cannot tell: upper bound {upper:.3f} >= {threshold:g} and "
            f"lower bound {lower:.3f} <= {floor:g}; draw more samples"
        )
    return ThresholdVerdict(outcome, k, n, threshold, tolerance, interval, why)
