"""Across a suite: which cases changed, with false alarms controlled over all of them.

:func:`decide` turns each case's :class:`~promptcheck.stats.two_sample.Comparison` into a verdict:
Holm (family-wise error) over the cases tagged ``critical``, Benjamini-Hochberg (false discovery
rate) over the others, with alpha split between the two families in proportion to their sizes, so
that with nothing changed the whole suite raises a false alarm with probability at most alpha.
A case is unchanged when a drop of its ``tolerance`` (the drop the comparison is planned to
detect) is ruled out at level beta / m (Bonferroni): the chance that *any* case which dropped
that much is called unchanged is then at most beta, whatever the other cases do, so a gate that
also fails on inconclusive cases claims something about the whole suite.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptcheck.stats.two_sample import Comparison

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

#: Label of the tag that puts a case in the Holm family.
CRITICAL_TAG = "critical"


class Change(enum.StrEnum):
    """What happened to a case between the baseline and the candidate."""

    REGRESSED = "regressed"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    INCONCLUSIVE = "inconclusive"


def _adjust_ranked(
    pvalues: ArrayLike, adjust: Callable[[NDArray[np.float64], int], NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Apply ``adjust`` (ascending p-values of the last axis, their count -> adjusted values) and
    put the results back in the input's order; capped at 1."""
    import numpy as np

    p = np.asarray(pvalues, dtype=np.float64)
    m = p.shape[-1]
    if m == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    adjusted = np.minimum(adjust(np.take_along_axis(p, order, axis=-1), m), 1.0)
    result = np.empty_like(adjusted)
    np.put_along_axis(result, order, adjusted, axis=-1)
    return result


def holm(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Holm's step-down adjusted p-values along the last axis (reject where <= alpha).

    Controls the family-wise error rate (any false rejection) under any dependence.
    """
    import numpy as np

    def step_down(ranked: NDArray[np.float64], m: int) -> NDArray[np.float64]:
        return np.maximum.accumulate(ranked * np.arange(m, 0, -1, dtype=np.float64), axis=-1)

    return _adjust_ranked(pvalues, step_down)


def benjamini_hochberg(pvalues: ArrayLike) -> NDArray[np.float64]:
    """Benjamini-Hochberg step-up adjusted p-values along the last axis (reject where <= alpha).

    Controls the false discovery rate for independent p-values, which those of different cases
    are (each case has its own samples); with no real change it is also the chance of any alarm.
    """
    import numpy as np

    def step_up(ranked: NDArray[np.float64], m: int) -> NDArray[np.float64]:
        scaled = ranked * m / np.arange(1, m + 1, dtype=np.float64)
        return np.flip(np.minimum.accumulate(np.flip(scaled, -1), axis=-1), -1)

    return _adjust_ranked(pvalues, step_up)


def suite_adjust(pvalues: ArrayLike, critical: ArrayLike) -> NDArray[np.float64]:
    """Adjusted p-values for a suite: Holm over critical cases, Benjamini-Hochberg over the rest.

    alpha is split between the families in proportion to their sizes: with m cases of which m_c
    are critical, Holm runs at alpha * m_c / m and BH at alpha * (m - m_c) / m. The returned values
    are rescaled to compare with alpha itself: reject a case where its value is <= alpha. So the
    critical cases keep a family-wise guarantee whatever the others do, the rest keep a false
    discovery rate guarantee, and with no case changed the chance of any alarm in the suite is at
    most alpha_c + alpha_r = alpha. Either family's first step is alpha / m, as for Bonferroni over
    the whole suite. Works along the last axis (one suite per row) for simulations.
    """
    import numpy as np

    p = np.asarray(pvalues, dtype=np.float64)
    flags = np.broadcast_to(np.asarray(critical, dtype=bool), p.shape[-1:])
    m = p.shape[-1]
    result = np.ones_like(p)
    m_critical = int(flags.sum())
    if m_critical:
        result[..., flags] = np.minimum(holm(p[..., flags]) * m / m_critical, 1.0)
    if m_critical < m:
        rest = ~flags
        result[..., rest] = np.minimum(benjamini_hochberg(p[..., rest]) * m / (m - m_critical), 1.0)
    return result


@dataclass(frozen=True, slots=True)
class CaseChange:
    """The suite-level verdict of one case: the comparison, the change, and why."""

    case: str
    comparison: Comparison
    change: Change
    critical: bool
    p_regressed_adjusted: float
    p_improved_adjusted: float
    explanation: str
    #: ``p_noninferior`` times the number of cases (Bonferroni), capped at 1: unchanged at <= beta.
    p_noninferior_adjusted: float = 1.0


def _describe(c: Comparison) -> str:
    low_b, high_b = c.baseline_interval
    low_c, high_c = c.candidate_interval
    low, high = c.interval
    return (
        f"candidate {c.k_candidate}/{c.n_candidate} = {c.candidate_rate:.3f} "
        f"[{low_c:.3f}, {high_c:.3f}] vs baseline {c.k_baseline}/{c.n_baseline} = "
        f"{c.baseline_rate:.3f} [{low_b:.3f}, {high_b:.3f}]; difference {c.difference:+.3f} "
        f"[{low:+.3f}, {high:+.3f}]"
    )


def decide(
    comparisons: Mapping[str, Comparison],
    *,
    critical: Collection[str] = (),
    alpha: float = 0.05,
    beta: float = 0.2,
) -> dict[str, CaseChange]:
    """Turn the comparisons of a suite's cases into verdicts with false alarms controlled.

    ``critical`` names the cases tagged critical (Holm); the others share Benjamini-Hochberg
    (:func:`suite_adjust`). Improvements are adjusted the same way, separately. A case is
    unchanged when its ``p_noninferior`` times the number of cases is at most ``beta``. Order of
    precedence: regressed, improved, unchanged, inconclusive.
    """
    for name, value in (("alpha", alpha), ("beta", beta)):
        if not 0.0 < value < 1.0:
            raise ValueError(f"{name} must be in (0, 1), got {value}")
    names = list(comparisons)
    if not names:
        return {}
    flags = [name in critical for name in names]
    regressed = suite_adjust([comparisons[name].p_regressed for name in names], flags)
    improved = suite_adjust([comparisons[name].p_improved for name in names], flags)
    m_critical = sum(flags)
    verdicts: dict[str, CaseChange] = {}
    for i, name in enumerate(names):
        c = comparisons[name]
        family = (
            f"Holm over {m_critical} critical case(s)"
            if flags[i]
            else f"Benjamini-Hochberg over {len(names) - m_critical} case(s)"
        )
        adj_r, adj_i = float(regressed[i]), float(improved[i])
        adj_n = min(1.0, c.p_noninferior * len(names))
        if c.n_baseline == 0 or c.n_candidate == 0:
            change, why = Change.INCONCLUSIVE, "no scored samples on one side"
        elif adj_r <= alpha:
            change = Change.REGRESSED
            why = (
                f"dropped by more than {c.margin:g}: p = {c.p_regressed:.2g}, adjusted "
                f"{adj_r:.2g} <= alpha {alpha:g} ({family})"
            )
        elif adj_i <= alpha:
            change = Change.IMPROVED
            why = (
                f"rose by more than {c.margin:g}: p = {c.p_improved:.2g}, adjusted "
                f"{adj_i:.2g} <= alpha {alpha:g} ({family})"
            )
        elif adj_n <= beta * (1.0 + 1e-9):  # beta / m * m may round above beta
            change = Change.UNCHANGED
            why = (
                f"no drop beyond doubt, and a drop of {c.tolerance:g} or more is ruled out "
                f"(p = {c.p_noninferior:.2g}, adjusted {adj_n:.2g} <= beta {beta:g} over "
                f"{len(names)} case(s))"
            )
        else:
            change = Change.INCONCLUSIVE
            why = (
                f"no drop beyond doubt (adjusted p = {adj_r:.2g}), but a drop of "
                f"{c.tolerance:g} or more is not ruled out (adjusted p = {adj_n:.2g} > beta "
                f"{beta:g}); draw more samples"
            )
        note = f"; {c.note}" if c.note else ""
        verdicts[name] = CaseChange(
            name, c, change, flags[i], adj_r, adj_i, f"{why}: {_describe(c)}{note}", adj_n
        )
    return verdicts


def critical_cases(tags: Mapping[str, Collection[str]]) -> frozenset[str]:
    """The names of the cases whose tags include ``critical``, for :func:`decide`."""
    return frozenset(name for name, labels in tags.items() if CRITICAL_TAG in labels)
