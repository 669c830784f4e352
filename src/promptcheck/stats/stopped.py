"""Counts that adaptive sampling stopped, compared after the fact.

A run sampled with ``--promptcheck-adaptive`` stops a case as soon as its threshold verdict looks
decided, and it stops a failing case early: its count is not a fixed-size sample. Reading it as
one in a later comparison (``promptcheck compare``) raises false alarms beyond alpha: the cases
that stopped early are the ones that happened to look bad. What stays valid at any stopping time
is an anytime-valid bound (:func:`promptcheck.stats.sequential.lower_bound_anytime`): it covers
the true rate, with its stated probability, whenever sampling stopped and for whatever reason.

:func:`stopped_comparison` therefore bounds each side with a confidence sequence when that side
was stopped adaptively and with Clopper-Pearson when it drew a fixed number of samples, splits
each level equally between the two sides (a union bound), and reads every p-value as the least
level at which the bounds show the claim (:func:`promptcheck.stats.sequential.least_level`). Less
powerful than the exact test on fixed samples, and valid: with nothing changed a stopped case is
flagged with probability at most its level, however its runs were stopped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptcheck.stats.sequential import least_level, lower_bound_anytime, upper_bound_anytime
from promptcheck.stats.threshold import clopper_pearson
from promptcheck.stats.two_sample import Comparison

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


def side_bound(
    k: int, n: int, levels: NDArray[np.float64], *, upper: bool, stopped: bool
) -> NDArray[np.float64]:
    """One side's one-sided bounds at ``levels``: anytime when ``stopped``, else exact."""
    import numpy as np
    from scipy.special import betaincinv

    level = np.asarray(levels, dtype=np.float64)
    if n == 0:
        return np.full(level.shape, 1.0 if upper else 0.0)
    if stopped:
        return upper_bound_anytime(k, n, level) if upper else lower_bound_anytime(k, n, level)
    if upper:
        bound = 1.0 if k >= n else betaincinv(k + 1.0, n - k, 1.0 - level)
    else:
        bound = 0.0 if k <= 0 else betaincinv(float(k), n - k + 1.0, level)
    result: NDArray[np.float64] = np.broadcast_to(np.asarray(bound, dtype=np.float64), level.shape)
    return result


def difference_pvalue(
    baseline: tuple[int, int, bool],
    candidate: tuple[int, int, bool],
    gap: float,
    *,
    upward: bool,
) -> float:
    """Least level at which the bounds show p_candidate - p_baseline > gap (``upward``) or
    < gap; half of it to each side. Each side is ``(k, n, stopped)``."""
    k_b, n_b, stopped_b = baseline
    k_c, n_c, stopped_c = candidate
    if n_b == 0 or n_c == 0:
        return 1.0
    import numpy as np

    def shown(levels: NDArray[np.float64]) -> NDArray[np.bool_]:
        half = levels / 2.0
        if upward:
            low_c = side_bound(k_c, n_c, half, upper=False, stopped=stopped_c)
            high_b = side_bound(k_b, n_b, half, upper=True, stopped=stopped_b)
            result: NDArray[np.bool_] = np.asarray(low_c - high_b > gap)
        else:
            high_c = side_bound(k_c, n_c, half, upper=True, stopped=stopped_c)
            low_b = side_bound(k_b, n_b, half, upper=False, stopped=stopped_b)
            result = np.asarray(high_c - low_b < gap)
        return result

    return least_level(shown)


def stopped_comparison(
    k_baseline: int,
    n_baseline: int,
    k_candidate: int,
    n_candidate: int,
    *,
    baseline_stopped: bool,
    candidate_stopped: bool,
    margin: float = 0.0,
    tolerance: float = 0.05,
    confidence: float = 0.95,
    note: str = "",
) -> Comparison:
    """A case whose counts adaptive sampling stopped on one side or both (method ``anytime``).

    The same three claims as :func:`promptcheck.stats.two_sample.compare_rates` (regressed,
    improved, no worse than ``tolerance`` below), each a p-value valid at any stopping time;
    intervals are anytime-valid on a stopped side.
    """
    import numpy as np

    base = (k_baseline, n_baseline, baseline_stopped)
    cand = (k_candidate, n_candidate, candidate_stopped)
    tail = (1.0 - confidence) / 2.0

    def interval(k: int, n: int, stopped: bool) -> tuple[float, float]:
        if n == 0:
            return 0.0, 1.0
        if not stopped:
            return clopper_pearson(k, n, confidence)
        levels = np.array([tail])
        return (
            float(side_bound(k, n, levels, upper=False, stopped=True)[0]),
            float(side_bound(k, n, levels, upper=True, stopped=True)[0]),
        )

    if n_baseline and n_candidate:
        quarter = np.array([tail / 2.0])
        low = side_bound(k_candidate, n_candidate, quarter, upper=False, stopped=candidate_stopped)
        high = side_bound(k_candidate, n_candidate, quarter, upper=True, stopped=candidate_stopped)
        low_b = side_bound(k_baseline, n_baseline, quarter, upper=False, stopped=baseline_stopped)
        high_b = side_bound(k_baseline, n_baseline, quarter, upper=True, stopped=baseline_stopped)
        difference = (float(low[0] - high_b[0]), float(high[0] - low_b[0]))
    else:
        difference = (-1.0, 1.0)
    return Comparison(
        k_baseline,
        n_baseline,
        k_candidate,
        n_candidate,
        margin=margin,
        tolerance=tolerance,
        baseline_interval=interval(k_baseline, n_baseline, baseline_stopped),
        candidate_interval=interval(k_candidate, n_candidate, candidate_stopped),
        interval=difference,
        p_regressed=difference_pvalue(base, cand, -margin, upward=False),
        p_improved=difference_pvalue(base, cand, margin, upward=True),
        p_noninferior=difference_pvalue(base, cand, -tolerance, upward=True),
        method="anytime",
        note=note,
    )
