"""Budget planning: how many samples a comparison needs to catch a drop, computed exactly.

A gate that flags regressions is only as good as the drop it can see. This module answers, for
the exact test the gate uses (:func:`promptcheck.stats.two_sample.exact_pvalue`), two questions:
how many samples catch a drop of ``drop`` from a baseline rate with a given power, and which
drop a given budget catches. Nothing is approximated:

* the test's rejection region at a level is computed from its exact p-values. The p-value is a
  non-decreasing function of the score statistic, so the region is "statistic <= z*", and z* is
  found by bisection over the outcomes' statistics, each step one exact tail probability (the
  largest over the nuisance grid). For every baseline count the rejected candidate counts are
  then a prefix (the statistic is monotone), cut off at ``cuts[k_baseline]``;
* the power is a finite sum: over baseline counts, the binomial probability of the count times
  the binomial CDF of the candidate's count at the cut-off.

Multiplicity: with m cases, both Holm and Benjamini-Hochberg reject their first case only at
p <= alpha / m, and a lone regressed case among unchanged ones is exactly such a first
rejection; plans are therefore computed at level alpha / m (:func:`first_rejection_level`),
which is what a 50-case suite needs to catch one broken case. Cut-offs are cached per
(sizes, margin, level), so a suite whose cases share budgets is planned in milliseconds once the
first case is; a caller may keep the cut-offs between processes (:func:`known_cuts`,
:func:`remember_cuts`).

numpy and scipy are imported inside functions: importing promptcheck must stay cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptcheck.config import MAX_PLANNED_SAMPLES, PLAN_STEP
from promptcheck.stats.two_sample import (
    Alternative,
    binomial_pmf,
    nuisance_grid,
    score_statistic,
)

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

#: Statistics closer than this are ties, as in :mod:`promptcheck.stats.two_sample`.
_TIE = 1e-9
#: Drops are searched to this precision (a plan prints them to the percentage point).
_DROP_PRECISION = 1e-4


def first_rejection_level(alpha: float, cases: int) -> float:
    """The level a case's p-value must reach to be flagged first in a suite of ``cases``."""
    if not 0.0 < alpha < 1.0 or cases < 1:
        raise ValueError(f"need 0 < alpha < 1 and cases >= 1, got {alpha}, {cases}")
    return alpha / cases


#: What a cut-off is computed for: (n_baseline, n_candidate, delta0, level, alternative).
CutKey = tuple[int, int, float, float, str]
#: Cut-offs computed so far: a plan searches many sizes, and a suite's cases share most of them.
#: :func:`known_cuts` and :func:`remember_cuts` let a caller keep them between processes.
_CUTS: dict[CutKey, NDArray[np.int64]] = {}
#: Entries kept at most; past it the oldest go first.
_CUTS_KEPT = 4096


def rejection_cuts(
    n_baseline: int,
    n_candidate: int,
    delta0: float,
    level: float,
    alternative: Alternative = "less",
) -> NDArray[np.int64]:
    """Where the exact test of p_candidate - p_baseline against ``delta0`` rejects at ``level``,
    for each baseline count: ``less`` (the candidate is below baseline + delta0) rejects the
    candidate counts up to ``cuts[k_baseline]`` (-1: none), ``greater`` those from it
    (n_candidate + 1: none).

    Exactly the decisions of ``exact_pvalue(k_b, n_b, k_c, n_c, delta0, alternative) <= level``
    (tested against it), at a fraction of the cost of computing every p-value. Read-only; cached.
    """
    if n_baseline < 1 or n_candidate < 1:
        raise ValueError("rejection_cuts needs at least one sample on each side")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    key = (n_baseline, n_candidate, float(delta0), float(level), str(alternative))
    found = _CUTS.get(key)
    if found is None:
        found = _compute_cuts(n_baseline, n_candidate, delta0, level, alternative)
        if len(_CUTS) >= _CUTS_KEPT:
            del _CUTS[next(iter(_CUTS))]
        _CUTS[key] = found
    return found


def known_cuts() -> dict[CutKey, list[int]]:
    """Every cut-off computed (or remembered) in this process, as plain lists."""
    return {key: [int(cut) for cut in cuts] for key, cuts in _CUTS.items()}


def remember_cuts(entries: Mapping[CutKey, Sequence[int]]) -> int:
    """Take cut-offs computed earlier (another process's :func:`known_cuts`); entries that
    cannot be cut-offs of their key (length, range, shape of the region) are skipped. Returns
    how many were taken. They only size plans and state detectable drops; no verdict reads
    them."""
    import numpy as np

    taken = 0
    for key, cuts in entries.items():
        n_b, n_c, _, level, alternative = key
        values = np.asarray(cuts, dtype=np.int64)
        if (
            alternative not in ("less", "greater")
            or not (n_b >= 1 and n_c >= 1 and 0.0 < level < 1.0)
            or values.shape != (n_b + 1,)
            or values.min() < -1
            or values.max() > n_c + 1
        ):
            continue
        # a better baseline makes a candidate count look worse: cut-offs never fall with it
        if (np.diff(values) < 0).any():
            continue
        values.flags.writeable = False
        _CUTS[key] = values
        taken += 1
    return taken


def forget_cuts() -> None:
    """Drop every cut-off (for benchmarks that time a cold start)."""
    _CUTS.clear()


def _compute_cuts(
    n_baseline: int, n_candidate: int, delta0: float, level: float, alternative: Alternative
) -> NDArray[np.int64]:
    import numpy as np

    x_b, x_c = np.meshgrid(np.arange(n_baseline + 1.0), np.arange(n_candidate + 1.0), indexing="ij")
    statistic = score_statistic(x_b, n_baseline, x_c, n_candidate, delta0)
    # "as extreme" is a small statistic for ``less`` and a large one for ``greater``: with the
    # sign flipped for ``greater``, both reject where key <= key*, a prefix (less) or a suffix
    # (greater) of the candidate counts, since the statistic grows with the candidate's count
    key = statistic if alternative == "less" else -statistic
    grid = nuisance_grid(delta0)
    pmf_b = binomial_pmf(n_baseline, grid)
    pmf_c = binomial_pmf(n_candidate, np.clip(grid + delta0, 0.0, 1.0))
    if alternative == "greater":
        pmf_c = np.flip(pmf_c, axis=1)
    # tail[:, j] = probability of the j most extreme candidate counts; column 0 is none
    tail = np.concatenate([np.zeros((len(grid), 1)), np.cumsum(pmf_c, axis=1)], axis=1)

    def extreme_counts(cut_key: float, tie: float) -> NDArray[np.int64]:
        found: NDArray[np.int64] = (key <= cut_key + tie).sum(axis=1)
        return found

    def pvalue(cut_key: float) -> float:
        tails = np.take_along_axis(tail, extreme_counts(cut_key, _TIE)[None, :], axis=1)
        return float(np.max(np.sum(pmf_b * tails, axis=1)))

    values = np.unique(key)
    low, high = -1, len(values) - 1  # values[low] is rejected (low = -1: none yet known)
    while low < high:
        mid = (low + high + 1) // 2
        if pvalue(float(values[mid])) <= level:
            low = mid
        else:
            high = mid - 1
    counts = (
        np.zeros(n_baseline + 1, dtype=np.int64)
        if low < 0
        else extreme_counts(float(values[low]), 0.0)
    )
    cuts = counts - 1 if alternative == "less" else n_candidate + 1 - counts
    cuts.flags.writeable = False
    return cuts


def regression_power(
    rate: float,
    n_baseline: int,
    n_candidate: int,
    drop: float,
    level: float,
    *,
    margin: float = 0.0,
) -> float:
    """Exact probability that the regression test flags a case whose rate fell from ``rate`` to
    ``rate - drop``, at ``level``, with both counts binomial (the baseline's too: it is a sample,
    whether drawn now or stored)."""
    if n_baseline < 1 or n_candidate < 1:
        return 0.0
    import numpy as np

    cuts = rejection_cuts(n_baseline, n_candidate, -margin, level)
    return _power_at(cuts, rate, n_baseline, n_candidate, np.array([drop]))[0]


def _power_at(
    cuts: NDArray[np.int64],
    rate: float,
    n_baseline: int,
    n_candidate: int,
    drops: NDArray[np.float64],
) -> list[float]:
    """Power for several drops at once, given the cut-offs (which do not depend on the drop)."""
    import numpy as np

    weights = binomial_pmf(n_baseline, np.array([min(max(rate, 0.0), 1.0)]))[0]
    dropped = np.clip(rate - drops, 0.0, 1.0)
    cdf = np.cumsum(binomial_pmf(n_candidate, dropped), axis=1)
    at_cut = np.where(cuts[None, :] >= 0, cdf[:, np.maximum(cuts, 0)], 0.0)
    return [float(value) for value in np.minimum(at_cut @ weights, 1.0)]


def unchanged_probability(
    rate: float, n_baseline: int, n_candidate: int, tolerance: float, level: float
) -> float:
    """Exact probability that a case whose rate did not change (``rate`` on both sides) is shown
    to be no worse than ``tolerance`` below its baseline at ``level``: called unchanged rather
    than inconclusive."""
    if n_baseline < 1 or n_candidate < 1:
        return 0.0
    import numpy as np

    cuts = rejection_cuts(n_baseline, n_candidate, -tolerance, level, "greater")
    clipped = np.array([min(max(rate, 0.0), 1.0)])
    weights = binomial_pmf(n_baseline, clipped)[0]
    below = np.concatenate([[0.0], np.cumsum(binomial_pmf(n_candidate, clipped)[0])])
    # P(X_c >= cut) = 1 - P(X_c <= cut - 1); below[j] = P(X_c <= j - 1)
    at_least = 1.0 - below[np.minimum(cuts, n_candidate + 1)]
    return float(min(1.0, max(0.0, at_least @ weights)))


@dataclass(frozen=True, slots=True)
class Plan:
    """The samples one case needs, and what they buy.

    ``samples`` are the candidate's samples (and, live, the baseline's per run); the plan
    assumes ``baseline_samples`` baseline samples, which for a stored baseline shorter than the
    plan means topping it up. ``power`` is the exact power at these sizes and, when the plan also
    asked for it, ``unchanged`` the exact probability that an unchanged case is shown unchanged;
    when even the cap does not reach the targets, ``reached`` is False and ``samples`` is the cap.
    """

    rate: float
    drop: float
    level: float
    target: float
    samples: int
    baseline_samples: int
    power: float
    reached: bool
    margin: float = 0.0
    unchanged: float | None = None


def plan_budget(
    rate: float,
    *,
    drop: float,
    target: float,
    level: float,
    margin: float = 0.0,
    baseline: int = 0,
    top_up: bool = True,
    unchanged: tuple[float, float] | None = None,
    step: int = PLAN_STEP,
    cap: int = MAX_PLANNED_SAMPLES,
) -> Plan:
    """The fewest samples (a multiple of ``step``, at most ``cap``) that catch a drop of
    ``drop`` from ``rate`` with probability ``target`` at ``level``.

    ``baseline`` is the baseline's samples already stored (0 for a live baseline, which draws as
    many as the candidate). With ``top_up`` a baseline shorter than the candidate's samples is
    assumed topped up to them (it is, when its model is configured); without, the baseline stays
    as it is and may cap what any number of candidate samples can catch. ``unchanged`` =
    (level, probability) also asks that a case which did not change be shown unchanged (a drop
    of ``drop`` ruled out at that level) with that probability: what a gate that fails on
    inconclusive cases needs.
    """
    _check_plan(rate, drop, target, margin, step, cap)

    def sizes(n: int) -> tuple[int, int]:
        n_b = max(baseline, n) if top_up else baseline
        return n_b, n

    def figures(n: int) -> tuple[bool, float, float | None]:
        n_b, n_c = sizes(n)
        found = regression_power(rate, n_b, n_c, drop, level, margin=margin)
        if unchanged is None:
            return found >= target, found, None
        shown = unchanged_probability(rate, n_b, n_c, drop, unchanged[0])
        return found >= target and shown >= unchanged[1], found, shown

    steps = max(1, cap // step)
    hint = min(steps, max(1, math.ceil(_approximate_samples(rate, drop, target, level) / step)))
    cache: dict[int, tuple[bool, float, float | None]] = {}

    def at(index: int) -> bool:
        if index not in cache:
            cache[index] = figures(index * step)
        return cache[index][0]

    def result(index: int, reached: bool) -> Plan:
        n_b, n_c = sizes(index * step)
        _, found, shown = cache[index]
        return Plan(rate, drop, level, target, n_c, n_b, found, reached, margin, shown)

    # gallop from the normal approximation's guess to a bracket, then bisect on the grid
    if at(hint):
        high, gap = hint, 1
        low = max(0, hint - gap)
        while low > 0 and at(low):
            high, gap = low, gap * 2
            low = max(0, high - gap)
    else:
        low, gap = hint, 1
        high = min(steps, hint + gap)
        while not at(high):
            if high == steps:
                return result(steps, False)
            low, gap = high, gap * 2
            high = min(steps, low + gap)
    while high - low > 1:
        mid = (low + high) // 2
        if at(mid):
            high = mid
        else:
            low = mid
    return result(high, True)


def detectable_drop(
    rate: float,
    n_baseline: int,
    n_candidate: int,
    *,
    target: float,
    level: float,
    margin: float = 0.0,
) -> float | None:
    """The smallest drop from ``rate`` that these sample sizes catch with probability
    ``target`` (rounded up to 1e-4); None when not even a drop to 0 is caught so often."""
    if n_baseline < 1 or n_candidate < 1:
        return None
    import numpy as np

    cuts = rejection_cuts(n_baseline, n_candidate, -margin, level)
    low, high = margin, rate
    if _power_at(cuts, rate, n_baseline, n_candidate, np.array([high]))[0] < target:
        return None
    while high - low > _DROP_PRECISION:
        # several points a pass: the cut-offs are shared, so a drop costs only a binomial CDF
        probes = np.linspace(low, high, 10)[1:-1]
        powers = _power_at(cuts, rate, n_baseline, n_candidate, probes)
        above = [d for d, p in zip(probes, powers, strict=True) if p >= target]
        below = [d for d, p in zip(probes, powers, strict=True) if p < target]
        high = float(min(above)) if above else high
        low = float(max((d for d in below if d < high), default=low))
    return round(math.ceil(high / _DROP_PRECISION) * _DROP_PRECISION, 4)


def _approximate_samples(rate: float, drop: float, target: float, level: float) -> float:
    """A first guess of the samples per side (two equal samples, normal approximation of the
    score test, null variance at the pooled rate); the exact search starts from it."""
    from scipy.special import ndtri

    dropped = max(rate - drop, 0.0)
    pooled = (rate + dropped) / 2.0
    z_level, z_power = float(ndtri(1.0 - level)), float(ndtri(target))
    null_sd = math.sqrt(2.0 * pooled * (1.0 - pooled))
    alternative_sd = math.sqrt(rate * (1.0 - rate) + dropped * (1.0 - dropped))
    if drop <= 0.0:
        return float(MAX_PLANNED_SAMPLES)
    return ((z_level * null_sd + z_power * alternative_sd) / drop) ** 2


def _check_plan(
    rate: float, drop: float, target: float, margin: float, step: int, cap: int
) -> None:
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    if not margin < drop <= 1.0:
        raise ValueError(f"the drop must exceed the margin ({margin:g}) and be <= 1, got {drop}")
    if not 0.0 < target < 1.0:
        raise ValueError(f"the power must be in (0, 1), got {target}")
    if step < 1 or cap < step:
        raise ValueError(f"need step >= 1 and cap >= step, got {step}, {cap}")
