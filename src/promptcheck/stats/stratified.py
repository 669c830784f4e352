"""Rates from a stratified review queue: estimates that stay valid when what gets rated depends on
the automatic verdict, and however often the figures are looked at.

The review queue rates disagreements first, then failing and passing outputs in turns, each
stratum in a seeded random order. The rated outputs are then no simple random sample of the case
(failing outputs are over-represented), so k/n of the rated ones is biased (verification bias).
Within a stratum, though, the rated outputs are a random subset, and every output's stratum is
known. So:

* the point estimate weights each stratum by its share of the case's outputs:
  ``sum_h N_h / N * k_h / n_h`` (inverse probability weighting; a stratum with outputs but no
  label yet leaves the rate not available, never silently biased);
* its bounds are **anytime-valid** and cover the model's rate p = sum_h pi_h p_h, where p_h is
  the human pass rate of stratum h and pi_h its share of outputs: each p_h gets the confidence
  sequence of :mod:`promptcheck.stats.sequential` (valid at every look, as adaptive sampling's
  are), each pi_h an exact interval from the N_h of N outputs (fixed: no look changes it), the
  levels split by a union bound, and the bound is the worst rate consistent with all of them.
  With one stratum this is the confidence sequence of k of n itself. The bounds are
  conservative by construction (coverage at least the confidence; measured by
  ``benchmarks/judge_calibration.py``);
* :func:`stratified_verdict` decides like the gate (fail when the 95% upper bound is below the
  threshold, pass when the 80% lower bound is above threshold - tolerance) on these bounds, so a
  page re-read after every rating does not inflate the error rates;
* :func:`labels_needed` walks the case's unlabelled outputs in the queue's own order, each
  projected to pass at its stratum's rate so far, to the first count that decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.stats.agreement import first_deciding
from promptcheck.stats.threshold import Outcome, clopper_pearson

#: Confidence of the interval shown beside a stratified rate (two-sided).
SHOWN_CONFIDENCE = 0.95


@dataclass(frozen=True, slots=True)
class StratumCount:
    """One stratum of a case: its outputs (``size``), those with a human label, and how many of
    them pass (a real number when projected)."""

    size: int
    labelled: float
    passed: float


def present(strata: Sequence[StratumCount]) -> list[StratumCount]:
    return [stratum for stratum in strata if stratum.size > 0]


def stratified_rate(strata: Sequence[StratumCount]) -> float | None:
    """The weighted rate, or None while a stratum with outputs has no label."""
    found = present(strata)
    total = sum(s.size for s in found)
    if not found or any(s.labelled <= 0 for s in found):
        return None
    return sum(s.size / total * s.passed / s.labelled for s in found)


def missing_strata(strata: Sequence[StratumCount]) -> int:
    """How many strata with outputs have no label yet."""
    return sum(1 for s in present(strata) if s.labelled <= 0)


def _worst_mix(bounds: Sequence[float], shares: Sequence[tuple[float, float]]) -> float:
    """The smallest sum of share x bound over shares within their intervals that sum to 1."""
    mix = [low for low, _ in shares]
    room = 1.0 - sum(mix)
    for index in sorted(range(len(bounds)), key=lambda i: bounds[i]):
        add = min(max(room, 0.0), shares[index][1] - shares[index][0])
        mix[index] += add
        room -= add
    return sum(m * b for m, b in zip(mix, bounds, strict=True))


def stratified_bound(strata: Sequence[StratumCount], level: float, *, upper: bool) -> float:
    """A one-sided bound on the model's rate, wrong with probability at most ``level`` at any
    look (0 or 1, the trivial bound, while a stratum has no label)."""
    from promptcheck.stats.sequential import lower_bound_anytime

    found = present(strata)
    if not found or any(s.labelled <= 0 for s in found):
        return 1.0 if upper else 0.0
    count = len(found)
    rate_level = level if count == 1 else level / (2 * count)
    # an upper bound on the pass rate is one minus a lower bound on the fail rate
    successes = [(s.labelled - s.passed) if upper else s.passed for s in found]
    rates = [
        float(lower_bound_anytime(k, s.labelled, rate_level))
        for k, s in zip(successes, found, strict=True)
    ]
    if count == 1:
        shares = [(1.0, 1.0)]
    else:
        total = sum(s.size for s in found)
        shares = [clopper_pearson(s.size, total, 1.0 - level / (2 * count)) for s in found]
    worst = _worst_mix(rates, shares)
    return 1.0 - worst if upper else worst


def stratified_interval(
    strata: Sequence[StratumCount], confidence: float = SHOWN_CONFIDENCE
) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0
    return (
        stratified_bound(strata, tail, upper=False),
        stratified_bound(strata, tail, upper=True),
    )


@dataclass(frozen=True, slots=True)
class StratifiedVerdict:
    """A human rate from a stratified queue, decided against a threshold like the gate."""

    outcome: Outcome
    rate: float | None
    interval: tuple[float, float]
    labelled: int
    threshold: float
    tolerance: float
    explanation: str


def decided(
    strata: Sequence[StratumCount],
    threshold: float,
    tolerance: float,
    alpha: float = 0.05,
    beta: float = 0.2,
) -> Outcome:
    """FAIL when the anytime upper bound at ``alpha`` is below the threshold, PASS when the
    anytime lower bound at ``beta`` is above threshold - tolerance, else UNDECIDED."""
    if stratified_rate(strata) is None:
        return Outcome.UNDECIDED
    if stratified_bound(strata, alpha, upper=True) < threshold:
        return Outcome.FAIL
    if stratified_bound(strata, beta, upper=False) > threshold - tolerance:
        return Outcome.PASS
    return Outcome.UNDECIDED


def stratified_verdict(
    strata: Sequence[StratumCount],
    threshold: float,
    tolerance: float,
    alpha: float = 0.05,
    beta: float = 0.2,
) -> StratifiedVerdict:
    labelled = int(sum(s.labelled for s in strata))
    rate = stratified_rate(strata)
    if rate is None:
        missing = missing_strata(strata)
        why = (
            "nothing labelled yet"
            if not labelled
            else f"{missing} kind(s) of output (stratum) not labelled yet: no valid rate"
        )
        return StratifiedVerdict(
            Outcome.UNDECIDED, None, (0.0, 1.0), labelled, threshold, tolerance, why
        )
    outcome = decided(strata, threshold, tolerance, alpha, beta)
    why = {
        Outcome.FAIL: f"{1 - alpha:.0%} anytime upper bound < threshold {threshold:g}",
        Outcome.PASS: f"{1 - beta:.0%} anytime lower bound > {threshold - tolerance:g}",
        Outcome.UNDECIDED: "the anytime bounds do not decide yet",
    }[outcome]
    return StratifiedVerdict(
        outcome, rate, stratified_interval(strata), labelled, threshold, tolerance, why
    )


def labels_needed(
    strata: Sequence[StratumCount],
    queue: Sequence[int],
    threshold: float,
    tolerance: float,
    alpha: float = 0.05,
    beta: float = 0.2,
) -> int | None:
    """How many more outputs, labelled in queue order (``queue``: the stratum index of each
    unlabelled output, in the order the queue offers them), would decide the verdict if each
    passed at its stratum's rate so far: 0 when decided, None when a stratum has no label yet
    (no rate to project) or labelling every output left would not decide it."""
    if stratified_rate(strata) is None:
        return None
    if decided(strata, threshold, tolerance, alpha, beta) is not Outcome.UNDECIDED:
        return 0

    def decides(more: int) -> bool:
        projected = list(strata)
        for index in queue[:more]:
            stratum = projected[index]
            rate = stratum.passed / stratum.labelled
            projected[index] = StratumCount(
                stratum.size, stratum.labelled + 1, stratum.passed + rate
            )
        return decided(projected, threshold, tolerance, alpha, beta) is not Outcome.UNDECIDED

    # each stratum's projected rate stays put while its count grows, so its bounds only close in:
    # deciding is monotone in the count, and bisection finds the first count that decides
    return first_deciding(decides, len(queue))


__all__ = [
    "SHOWN_CONFIDENCE",
    "StratifiedVerdict",
    "StratumCount",
    "labels_needed",
    "stratified_bound",
    "stratified_interval",
    "stratified_rate",
    "stratified_verdict",
]
