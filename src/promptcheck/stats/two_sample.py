"""Baseline against candidate, per case and across a suite: did the conformance rate drop?

A move to another model changes many cases a little and, sometimes, a few cases a lot. A gate that a
reviewer can trust must (1) flag a case only on evidence that its rate dropped, with an error rate
that holds at the rates prompts really have (0.95 to exactly 1.0, where the normal approximation
breaks), and (2) keep the chance of a false alarm anywhere in a suite of fifty cases at alpha.

Per case, with Delta = p_candidate - p_baseline:

* regressed: a one-sided test of H0 Delta >= -margin against Delta < -margin. The statistic is the
  Miettinen-Nurminen score statistic; its p-value is exact and unconditional (the largest tail
  probability over the nuisance rate on the null boundary), so the test holds its size at every
  sample size and every rate, including rates of 1.0. The asymptotic normal p-value of the same
  statistic does not: near p = 1 its real size exceeds nominal, 2.7 times over at the level
  0.001 that a 50-case suite works at (400 vs 150 samples at p = 0.99; docs/statistics.md).
* improved: the mirror test of H0 Delta <= margin.
* unchanged: neither, and the candidate is shown to be no worse than ``tolerance`` below the
  baseline (the p-value ``p_noninferior`` of H0 Delta <= -tolerance; the suite decides at which
  level, :func:`promptcheck.stats.multiplicity.decide`); the analogue of the threshold verdict's
  PASS. Otherwise inconclusive.

Across a suite, :func:`promptcheck.stats.multiplicity.decide` turns these comparisons into
verdicts with false alarms controlled. numpy and scipy are imported inside functions: importing
promptcheck must stay cheap.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from promptcheck.stats.threshold import clopper_pearson

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

Alternative = Literal["less", "greater"]

#: Points of the grid over which the nuisance rate is maximised. They are spaced evenly in
#: arcsin(sqrt(p)), so they crowd near 0 and 1 where binomial probabilities change fastest.
GRID_POINTS = 512
#: Score statistics closer than this are ties (they differ only by rounding).
_TIE = 1e-9


@dataclass(frozen=True, slots=True)
class Comparison:
    """One case (or one check, for diagnosis) on two models, before multiplicity control.

    ``p_regressed``, ``p_improved`` and ``p_noninferior`` (of H0 "the candidate is ``tolerance``
    or more below the baseline") are unadjusted p-values; :func:`decide` adjusts them across the
    suite. ``method`` is ``exact`` for a fixed number of samples, ``sequential`` for a case
    sampled adaptively against its baseline, ``anytime`` for counts that adaptive sampling stopped
    and that are read afterwards (then the intervals are anytime-valid, hence wider).
    """

    k_baseline: int
    n_baseline: int
    k_candidate: int
    n_candidate: int
    margin: float
    tolerance: float
    baseline_interval: tuple[float, float]
    candidate_interval: tuple[float, float]
    interval: tuple[float, float]
    p_regressed: float
    p_improved: float
    p_noninferior: float
    method: str = "exact"
    note: str = ""

    @property
    def baseline_rate(self) -> float:
        return self.k_baseline / self.n_baseline if self.n_baseline else 0.0

    @property
    def candidate_rate(self) -> float:
        return self.k_candidate / self.n_candidate if self.n_candidate else 0.0

    @property
    def difference(self) -> float:
        """Candidate rate minus baseline rate: negative when the candidate conforms less."""
        return self.candidate_rate - self.baseline_rate


def _check_counts(k: int, n: int, what: str) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"{what}: need 0 <= k <= n, got k={k}, n={n}")


def _check_margins(margin: float, tolerance: float) -> None:
    if not 0.0 <= margin <= tolerance < 1.0:
        raise ValueError(
            f"need 0 <= margin <= tolerance < 1, got margin={margin}, tolerance={tolerance}"
        )


@functools.lru_cache(maxsize=64)
def _normal_quantile(probability: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(probability))


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval: the building block of Newcombe's interval."""
    _check_counts(k, n, "wilson_interval")
    if n == 0:
        return 0.0, 1.0
    z = _normal_quantile((1.0 + confidence) / 2.0)
    rate = k / n
    centre = (k + z * z / 2.0) / (n + z * z)
    half = z * math.sqrt(n * rate * (1.0 - rate) + z * z / 4.0) / (n + z * z)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(
    k_baseline: int, n_baseline: int, k_candidate: int, n_candidate: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p_candidate - p_baseline (his method 10, 1998).

    It combines the two Wilson intervals, so unlike the Wald interval it stays inside [-1, 1],
    is not degenerate when a rate is 0 or 1, and covers close to its nominal level.
    """
    if n_baseline == 0 or n_candidate == 0:
        return -1.0, 1.0
    low_b, high_b = wilson_interval(k_baseline, n_baseline, confidence)
    low_c, high_c = wilson_interval(k_candidate, n_candidate, confidence)
    rate_b, rate_c = k_baseline / n_baseline, k_candidate / n_candidate
    diff = rate_c - rate_b
    lower = diff - math.hypot(rate_c - low_c, high_b - rate_b)
    upper = diff + math.hypot(high_c - rate_c, rate_b - low_b)
    return max(-1.0, lower), min(1.0, upper)


def _restricted_mle(
    x_b: NDArray[np.float64],
    n_b: int,
    x_c: NDArray[np.float64],
    n_c: int,
    delta0: float,
) -> NDArray[np.float64]:
    """Baseline rate maximising the likelihood under p_candidate = p_baseline + delta0.

    The log-likelihood is concave in the baseline rate on the admissible interval, so its
    derivative is decreasing and bisection on its sign finds the maximum; bisection only evaluates
    interior points, so counts of 0 or n (rates of exactly 0 or 1) need no special case.
    """
    import numpy as np

    shape = np.broadcast(x_b, x_c).shape
    low = np.full(shape, max(0.0, -delta0))
    high = np.full(shape, min(1.0, 1.0 - delta0))
    for _ in range(52):
        mid = (low + high) / 2.0
        cand = mid + delta0
        slope = x_c / cand - (n_c - x_c) / (1.0 - cand) + x_b / mid - (n_b - x_b) / (1.0 - mid)
        rising = slope > 0.0
        low = np.where(rising, mid, low)
        high = np.where(rising, high, mid)
    result: NDArray[np.float64] = (low + high) / 2.0
    return result


def score_statistic(
    x_baseline: ArrayLike, n_baseline: int, x_candidate: ArrayLike, n_candidate: int, delta0: float
) -> NDArray[np.float64]:
    """Miettinen-Nurminen score statistic for H0 p_candidate - p_baseline = delta0 (vectorised).

    The difference of the observed rates, minus delta0, divided by its standard error evaluated at
    the maximum-likelihood rates under H0 (not at the observed rates, which would give a zero
    variance when both rates are 1), with the factor N / (N - 1) of Miettinen and Nurminen (1985).
    Negative values say the candidate is below baseline + delta0. Increasing in the candidate's
    count and decreasing in the baseline's, which the exact p-value relies on.
    """
    import numpy as np

    x_b = np.asarray(x_baseline, dtype=np.float64)
    x_c = np.asarray(x_candidate, dtype=np.float64)
    p_b = _restricted_mle(x_b, n_baseline, x_c, n_candidate, delta0)
    p_c = p_b + delta0
    total = n_baseline + n_candidate
    variance = p_c * (1.0 - p_c) / n_candidate + p_b * (1.0 - p_b) / n_baseline
    variance = variance * (total / (total - 1.0) if total > 1 else 1.0)
    gap = x_c / n_candidate - x_b / n_baseline - delta0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0.0, gap / np.sqrt(variance), 0.0)
    z = np.where(np.abs(gap) < 1e-12, 0.0, z)
    result: NDArray[np.float64] = z
    return result


def nuisance_grid(delta0: float, points: int = GRID_POINTS) -> NDArray[np.float64]:
    """Baseline rates on the null boundary p_candidate = p_baseline + delta0, both in [0, 1]."""
    import numpy as np

    low, high = max(0.0, -delta0), min(1.0, 1.0 - delta0)
    angles = np.linspace(math.asin(math.sqrt(low)), math.asin(math.sqrt(high)), points)
    grid: NDArray[np.float64] = np.clip(np.sin(angles) ** 2, low, high)
    return grid


def binomial_pmf(n: int, rates: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(X = x) for x = 0..n (columns) at each rate (rows); exact at rates of 0 and 1."""
    import numpy as np
    from scipy.special import gammaln, xlog1py, xlogy

    x = np.arange(n + 1, dtype=np.float64)[None, :]
    p = rates[:, None]
    log_choose = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)
    pmf: NDArray[np.float64] = np.exp(log_choose + xlogy(x, p) + xlog1py(n - x, -p))
    return pmf


def exact_pvalue(
    k_baseline: int,
    n_baseline: int,
    k_candidate: int,
    n_candidate: int,
    delta0: float,
    alternative: Alternative,
) -> float:
    """Exact unconditional p-value of the score test of p_candidate - p_baseline against delta0.

    ``less`` tests H0 Delta >= delta0 against Delta < delta0; ``greater`` the mirror. The p-value
    is the largest probability, over the baseline rate on the boundary Delta = delta0, of a score
    statistic at least as extreme as the one observed (Chan 1998). Because the statistic is
    monotone in both counts, the rejection region is Barnard-convex and the boundary is where the
    size peaks (Röhmel and Mansmann 1999), so the test holds its level over the whole of H0.

    Cost: the statistic is monotone in the candidate's count, so each baseline count has one
    cut-off and the tail probability is a sum over baseline counts of binomial CDFs, which keeps
    the work linear in n_baseline rather than in the n_baseline x n_candidate outcomes.
    """
    _check_counts(k_baseline, n_baseline, "baseline")
    _check_counts(k_candidate, n_candidate, "candidate")
    if n_baseline == 0 or n_candidate == 0:
        return 1.0
    import numpy as np

    observed = float(score_statistic(k_baseline, n_baseline, k_candidate, n_candidate, delta0))
    x_b = np.arange(n_baseline + 1, dtype=np.float64)
    # For each baseline count, the candidate counts as extreme as observed form a prefix
    # (``less``: x_c <= cut) or a suffix (``greater``: x_c >= cut); bisect for the cut.
    if alternative == "less":
        low = np.full(n_baseline + 1, -1.0)
        high = np.full(n_baseline + 1, float(n_candidate))
        while np.any(low < high):
            mid = np.floor((low + high + 1.0) / 2.0)
            inside = score_statistic(x_b, n_baseline, mid, n_candidate, delta0) <= observed + _TIE
            low = np.where(inside, mid, low)
            high = np.where(inside, high, mid - 1.0)
        cut = low
    else:
        low = np.zeros(n_baseline + 1)
        high = np.full(n_baseline + 1, float(n_candidate + 1))
        while np.any(low < high):
            mid = np.floor((low + high) / 2.0)
            inside = score_statistic(x_b, n_baseline, mid, n_candidate, delta0) >= observed - _TIE
            high = np.where(inside, mid, high)
            low = np.where(inside, low, mid + 1.0)
        cut = low
    worst = 0.0
    grid = nuisance_grid(delta0)
    index = cut.astype(np.int64)
    for start in range(0, len(grid), 64):
        p_b = grid[start : start + 64]
        weights = binomial_pmf(n_baseline, p_b)
        pmf_c = binomial_pmf(n_candidate, np.clip(p_b + delta0, 0.0, 1.0))
        if alternative == "less":
            # P(X_c <= cut); a cut of -1 (no candidate count is as extreme) has probability 0.
            at_most = np.cumsum(pmf_c, axis=1)
            tails = np.where(index >= 0, at_most[:, np.maximum(index, 0)], 0.0)
        else:
            # P(X_c >= cut), summed from the top so that tiny tails keep their precision; a cut
            # of n_c + 1 has probability 0.
            at_least = np.flip(np.cumsum(np.flip(pmf_c, axis=1), axis=1), axis=1)
            tails = np.where(index <= n_candidate, at_least[:, np.minimum(index, n_candidate)], 0.0)
        worst = max(worst, float(np.max(np.sum(weights * tails, axis=1))))
    return min(1.0, worst)


@functools.lru_cache(maxsize=16)
def pvalue_table(
    n_baseline: int, n_candidate: int, delta0: float, alternative: Alternative
) -> NDArray[np.float64]:
    """:func:`exact_pvalue` for every outcome of a budget: ``table[k_baseline, k_candidate]``.

    For simulations and for suites where many cases share a budget: one sort of the outcomes by
    the statistic and one cumulative sum per nuisance rate give every p-value. Cached; read-only.
    """
    if n_baseline <= 0 or n_candidate <= 0:
        raise ValueError("pvalue_table needs at least one sample on each side")
    import numpy as np

    x_b, x_c = np.meshgrid(np.arange(n_baseline + 1.0), np.arange(n_candidate + 1.0), indexing="ij")
    z = score_statistic(x_b, n_baseline, x_c, n_candidate, delta0).ravel()
    key = z if alternative == "less" else -z
    order = np.argsort(key, kind="stable")
    ranked = key[order]
    last_tie = np.searchsorted(ranked, ranked + _TIE, side="right") - 1
    grid = nuisance_grid(delta0)
    pmf_b = binomial_pmf(n_baseline, grid)
    pmf_c = binomial_pmf(n_candidate, np.clip(grid + delta0, 0.0, 1.0))
    worst = np.zeros(z.size)
    for row_b, row_c in zip(pmf_b, pmf_c, strict=True):
        tail = np.cumsum(np.outer(row_b, row_c).ravel()[order])
        np.maximum(worst, tail[last_tie], out=worst)
    table = np.empty(z.size)
    table[order] = np.minimum(worst, 1.0)
    result: NDArray[np.float64] = table.reshape(n_baseline + 1, n_candidate + 1)
    result.flags.writeable = False
    return result


def compare_rates(
    k_baseline: int,
    n_baseline: int,
    k_candidate: int,
    n_candidate: int,
    *,
    margin: float = 0.0,
    tolerance: float = 0.05,
    confidence: float = 0.95,
) -> Comparison:
    """Compare two conformance rates drawn with a fixed number of samples each.

    Both rates get Clopper-Pearson intervals (as in the threshold verdict), the difference gets
    Newcombe's interval, and the three exact tests give ``p_regressed`` (Delta < -margin),
    ``p_improved`` (Delta > margin) and ``p_noninferior`` (Delta > -tolerance).
    Works as well for one check's pass counts as for a case's conforming samples.
    """
    _check_counts(k_baseline, n_baseline, "baseline")
    _check_counts(k_candidate, n_candidate, "candidate")
    _check_margins(margin, tolerance)
    args = (k_baseline, n_baseline, k_candidate, n_candidate)
    return Comparison(
        *args,
        margin=margin,
        tolerance=tolerance,
        baseline_interval=clopper_pearson(k_baseline, n_baseline, confidence),
        candidate_interval=clopper_pearson(k_candidate, n_candidate, confidence),
        interval=newcombe_interval(*args, confidence),
        p_regressed=exact_pvalue(*args, -margin, "less"),
        p_improved=exact_pvalue(*args, margin, "greater"),
        p_noninferior=exact_pvalue(*args, -tolerance, "greater"),
    )
