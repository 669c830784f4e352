"""Agreement statistics for human review: raters with each other, and a judge with the raters.

Pure functions over counts, like the rest of :mod:`promptcheck.stats`:

* :func:`proportion`: a rate with its exact (Clopper-Pearson) interval; sensitivity and
  specificity of a judge are two of these.
* :func:`cohen_kappa`: chance-corrected agreement of two raters (or a judge and the human label),
  with the large-sample standard error of Fleiss, Cohen and Everitt (1969), not the one that
  holds only when kappa is zero.
* :func:`krippendorff_alpha`: agreement of any number of raters when not every rater rated every
  item (review overlap leaves gaps), nominal data, with a bootstrap interval over items.
* :func:`rogan_gladen`: the rate a perfect judge would have seen, from an imperfect judge's rate
  and its estimated sensitivity and specificity, with an interval that carries the uncertainty of
  all three (the delta method on Agresti-Coull-adjusted proportions, after Lang and Reiczigel
  2014; its coverage is measured by ``benchmarks/judge_calibration.py``).
* :func:`ratings_needed`: how many more rated items would decide a threshold verdict, if they
  rate as the items so far.

See docs/review.md for why each was chosen.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from promptcheck.stats.betainc import inverse_regularized_beta
from promptcheck.stats.threshold import Outcome, clopper_pearson, threshold_verdict

#: Resamples of the bootstrap interval of Krippendorff's alpha.
BOOTSTRAP_RESAMPLES = 2_000
#: Largest number of further ratings :func:`ratings_needed` looks for.
MAX_RATINGS_NEEDED = 100_000


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure with its two-sided interval; ``value`` None when the data cannot define it
    (no items, or a statistic whose denominator is zero), and then the interval is the range."""

    value: float | None
    interval: tuple[float, float]
    n: int

    def as_dict(self) -> dict[str, object]:
        return {"value": self.value, "interval": list(self.interval), "n": self.n}


def normal_quantile(confidence: float) -> float:
    """The two-sided standard normal quantile z with P(|Z| <= z) = ``confidence``."""
    return NormalDist().inv_cdf((1.0 + confidence) / 2.0)


def proportion(k: int, n: int, confidence: float = 0.95) -> Estimate:
    """k of n with its exact Clopper-Pearson interval (conservative: coverage >= confidence)."""
    if n == 0:
        return Estimate(None, (0.0, 1.0), 0)
    return Estimate(k / n, clopper_pearson(k, n, confidence), n)


def effective_size(weights: Sequence[float]) -> float:
    """Kish's effective sample size of weighted observations, (sum w)^2 / sum w^2: n when the
    weights are equal, less when they are not."""
    squares = sum(w * w for w in weights)
    return sum(weights) ** 2 / squares if squares else 0.0


def design_effective_size(hits: Sequence[float], misses: Sequence[float]) -> float:
    """The effective sample size of a weighted proportion from its own variance (Korn and
    Graubard 1998): p(1 - p) / Var(p), with Var(p) the linearised variance of the ratio
    sum(w y) / sum(w), sum w^2 (y - p)^2 / (sum w)^2, at most the number of observations.

    Kish's (sum w)^2 / sum w^2 looks at the weights alone; when the heavy weights sit on the
    rare outcome (the few human fails a judge passed, labelled late in the review queue) the
    variance comes mostly from them and Kish's size is too large: a specificity interval at it
    covered 93% in place of 95%. Equal weights give n; a rate of 0 or 1, whose variance
    estimate is 0, falls back to Kish's size."""
    count = len(hits) + len(misses)
    total = sum(hits) + sum(misses)
    if count == 0 or total <= 0:
        return 0.0
    rate = sum(hits) / total
    variance = (
        sum(w * w for w in hits) * (1 - rate) ** 2 + sum(w * w for w in misses) * rate**2
    ) / total**2
    if variance <= 0 or rate in (0.0, 1.0):
        return effective_size([*hits, *misses])
    return min(float(count), rate * (1 - rate) / variance)


def weighted_proportion(
    hits: Sequence[float], misses: Sequence[float], confidence: float = 0.95
) -> Estimate:
    """A rate from weighted observations (``hits`` and ``misses``: the weights of each), with
    the exact interval taken at the design-based effective sample size
    (:func:`design_effective_size`, Korn and Graubard's way for weighted survey proportions);
    equal weights give :func:`proportion` of the plain counts. ``n`` is the number of
    observations."""
    count = len(hits) + len(misses)
    total = sum(hits) + sum(misses)
    if count == 0 or total <= 0:
        return Estimate(None, (0.0, 1.0), count)
    rate = sum(hits) / total
    size = design_effective_size(hits, misses)
    return Estimate(rate, clopper_pearson(rate * size, size, confidence), count)  # type: ignore[arg-type]


def cohen_kappa(table: Sequence[Sequence[float]], confidence: float = 0.95) -> Estimate:
    """Cohen's kappa of a square table of counts (rows: rater 1's category, columns: rater 2's).

    The interval is Wald's, kappa +- z * SE, with the standard error of Fleiss, Cohen and
    Everitt (1969) that holds for any kappa (not only under kappa = 0), clipped to [-1, 1].
    ``value`` is None when agreement by chance is certain (both raters always said the same one
    category), where kappa is 0/0.
    """
    size = len(table)
    if any(len(row) != size for row in table):
        raise ValueError("an agreement table must be square")
    n = sum(sum(row) for row in table)
    if n == 0:
        return Estimate(None, (-1.0, 1.0), 0)
    p = [[count / n for count in row] for row in table]
    rows = [sum(row) for row in p]
    columns = [sum(p[i][j] for i in range(size)) for j in range(size)]
    observed = sum(p[i][i] for i in range(size))
    chance = sum(rows[i] * columns[i] for i in range(size))
    if chance >= 1.0 - 1e-12:
        return Estimate(None, (-1.0, 1.0), round(n))
    kappa = (observed - chance) / (1.0 - chance)
    diagonal = sum(
        p[i][i] * (1.0 - (rows[i] + columns[i]) * (1.0 - kappa)) ** 2 for i in range(size)
    )
    off = sum(
        p[i][j] * (columns[i] + rows[j]) ** 2 for i in range(size) for j in range(size) if i != j
    )
    variance = (diagonal + (1.0 - kappa) ** 2 * off - (kappa - chance * (1.0 - kappa)) ** 2) / (
        n * (1.0 - chance) ** 2
    )
    half = normal_quantile(confidence) * math.sqrt(max(variance, 0.0))
    return Estimate(kappa, (max(-1.0, kappa - half), min(1.0, kappa + half)), round(n))


def binary_table(pairs: Sequence[tuple[bool, bool]]) -> list[list[int]]:
    """The 2x2 table of (rater 1, rater 2) verdicts, pass first: ``[[pp, pf], [fp, ff]]``."""
    table = [[0, 0], [0, 0]]
    for first, second in pairs:
        table[0 if first else 1][0 if second else 1] += 1
    return table


def krippendorff_alpha(
    units: Sequence[Sequence[Hashable]],
    confidence: float = 0.95,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Estimate:
    """Krippendorff's alpha for nominal values: one sequence of values per unit (item), one value
    per rater who rated it, any number of raters per unit (units with fewer than two values are
    not pairable and are left out). ``n`` is the number of pairable units.

    The interval is the percentile bootstrap over units (``resamples`` draws, seeded, so that a
    page shows the same interval each time); ``value`` is None when every pairable value is the
    same category (alpha is 0/0).
    """
    pairable = [tuple(unit) for unit in units if len(unit) >= 2]
    value = _alpha(pairable)
    if value is None or not pairable:
        return Estimate(value, (-1.0, 1.0), len(pairable))
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        drawn = _alpha([pairable[rng.randrange(len(pairable))] for _ in pairable])
        if drawn is not None:
            draws.append(drawn)
    if not draws:
        return Estimate(value, (-1.0, 1.0), len(pairable))
    draws.sort()
    tail = (1.0 - confidence) / 2.0
    low = draws[min(len(draws) - 1, max(0, math.floor(tail * len(draws))))]
    high = draws[min(len(draws) - 1, max(0, math.ceil((1.0 - tail) * len(draws)) - 1))]
    return Estimate(value, (max(-1.0, min(low, value)), min(1.0, max(high, value))), len(pairable))


def _alpha(units: Sequence[tuple[Hashable, ...]]) -> float | None:
    """Nominal alpha = 1 - D_o / D_e from the coincidence matrix (Krippendorff 2011)."""
    coincidences: dict[tuple[Hashable, Hashable], float] = {}
    for unit in units:
        counts: dict[Hashable, int] = {}
        for value in unit:
            counts[value] = counts.get(value, 0) + 1
        weight = 1.0 / (len(unit) - 1)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_c - 1) if c == k else n_c * n_k
                if pairs:
                    coincidences[c, k] = coincidences.get((c, k), 0.0) + pairs * weight
    totals: dict[Hashable, float] = {}
    for (c, _), count in coincidences.items():
        totals[c] = totals.get(c, 0.0) + count
    n = sum(totals.values())
    disagreeing = sum(count for (c, k), count in coincidences.items() if c != k)
    expected = sum(totals[c] * totals[k] for c in totals for k in totals if c != k)
    if n <= 1 or expected == 0.0:
        return None
    return 1.0 - (n - 1.0) * disagreeing / expected


def rogan_gladen(
    positives: int,
    judged: int,
    sensitivity: tuple[float, float],
    specificity: tuple[float, float],
    confidence: float = 0.95,
) -> Estimate:
    """The true pass rate behind a judge's pass rate ``positives / judged``, corrected for the
    judge's sensitivity (``(judge passes among human passes, human passes)``) and specificity
    (``(judge fails among human fails, human fails)``): (p + Sp - 1) / (Se + Sp - 1), in [0, 1].

    The interval carries the uncertainty of all three proportions, taken as independent
    binomials: the delta method, Var = (Var p + pi^2 Var Se + (1 - pi)^2 Var Sp) / J^2 with
    J = Se + Sp - 1, evaluated on Agresti-Coull-adjusted proportions (z^2/2 successes added to
    z^2 trials) so that a judge that was right on every rated item still carries uncertainty.
    ``value`` is None (and the interval [0, 1]) when there is nothing to correct or the judge
    is no better than a coin on the rated items (J <= 0): then no correction is possible.
    """
    (se_k, se_n), (sp_k, sp_n) = sensitivity, specificity
    if judged == 0 or se_n == 0 or sp_n == 0:
        return Estimate(None, (0.0, 1.0), judged)
    youden = se_k / se_n + sp_k / sp_n - 1.0
    if youden <= 0.0:
        return Estimate(None, (0.0, 1.0), judged)
    rate = _clip((positives / judged + sp_k / sp_n - 1.0) / youden)
    z = normal_quantile(confidence)
    p, p_n = _adjusted(positives, judged, z)
    se, se_m = _adjusted(se_k, se_n, z)
    sp, sp_m = _adjusted(sp_k, sp_n, z)
    adjusted_youden = se + sp - 1.0
    if adjusted_youden <= 0.0:
        return Estimate(rate, (0.0, 1.0), judged)
    centre = _clip((p + sp - 1.0) / adjusted_youden)
    variance = (
        p * (1 - p) / p_n
        + centre**2 * se * (1 - se) / se_m
        + (1 - centre) ** 2 * sp * (1 - sp) / sp_m
    ) / adjusted_youden**2
    half = z * math.sqrt(variance)
    low, high = _clip(centre - half), _clip(centre + half)
    return Estimate(rate, (min(low, rate), max(high, rate)), judged)


def _adjusted(k: float, n: float, z: float) -> tuple[float, float]:
    """Agresti-Coull: (k + z^2/2) / (n + z^2), and n + z^2."""
    trials = n + z * z
    return (k + z * z / 2.0) / trials, trials


def _clip(value: float) -> float:
    return min(1.0, max(0.0, value))


def ratings_needed(
    k: int,
    n: int,
    threshold: float,
    *,
    tolerance: float = 0.05,
    alpha: float = 0.05,
    beta: float = 0.2,
    limit: int = MAX_RATINGS_NEEDED,
) -> int | None:
    """How many more rated items would decide :func:`~promptcheck.stats.threshold_verdict`
    (pass or fail) if they passed at exactly the rate seen so far: 0 when it is decided already,
    None when nothing is rated yet (there is no rate to project) or more than ``limit`` would
    be needed (the rate sits where the test cannot tell it from the threshold).

    The gate's exact bounds are evaluated at the projected count ``k/n * (n + m)``, a real
    number (the beta quantiles take one), rather than a rounded count: then the upper bound only
    falls and the lower bound only rises as ``m`` grows, "decided" is monotone in ``m``, and
    bisection finds the first ``m``. Rounding would make it jump back and forth by a sample.
    """
    if n == 0:
        return None
    if threshold_verdict(k, n, threshold, tolerance=tolerance, alpha=alpha, beta=beta).outcome in (
        Outcome.PASS,
        Outcome.FAIL,
    ):
        return 0
    rate = k / n
    floor = threshold - tolerance

    def decided(more: int) -> bool:
        size = n + more
        passing = rate * size
        upper = (
            1.0
            if passing >= size
            else inverse_regularized_beta(1.0 - alpha, passing + 1.0, size - passing)
        )
        lower = (
            0.0 if passing <= 0 else inverse_regularized_beta(beta, passing, size - passing + 1.0)
        )
        return upper < threshold or lower > max(floor, 0.0) or floor <= 0.0

    return first_deciding(decided, limit)


def first_deciding(decides: Callable[[int], bool], limit: int) -> int | None:
    """The least count in 1..``limit`` at which ``decides`` holds, for a ``decides`` monotone
    in the count (false up to some count, true from there); None when even ``limit`` does not
    decide. Bisection: about log2(limit) evaluations."""
    if limit < 1 or not decides(limit):
        return None
    return bisect.bisect_left(range(limit), True, lo=1, key=decides)


def majority(verdicts: Collection[bool]) -> bool | None:
    """The majority of raters' verdicts (True: pass), None on a tie or with no verdict."""
    passes = sum(verdicts)
    fails = len(verdicts) - passes
    if passes == fails:
        return None
    return passes > fails


__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "Estimate",
    "binary_table",
    "cohen_kappa",
    "design_effective_size",
    "effective_size",
    "first_deciding",
    "krippendorff_alpha",
    "majority",
    "normal_quantile",
    "proportion",
    "ratings_needed",
    "rogan_gladen",
    "weighted_proportion",
]
