"""Adaptive sampling: draw a case's samples in rounds and stop once its verdict is decided.

Looking at the data after every round and stopping when it looks decided inflates the error rates
of fixed-sample tests (Armitage's "sampling to a foregone conclusion"). The rules here stay valid
however often one looks, because every early decision is taken when a nonnegative supermartingale
under the null hypothesis crosses 1/level, which by Ville's inequality happens with probability
at most level, at any stopping time and for any schedule of rounds (an errored or unscored sample
simply does not count). Sources: Wald (1945), Robbins (1970), Howard, Ramdas, McAuliffe and Sekhon,
"Time-uniform, nonparametric, nonasymptotic confidence sequences" (2021).

* :class:`ThresholdMonitor`: Wald's SPRT between p = threshold and p = threshold - tolerance,
  with Ville's boundaries 1/alpha and beta, so the threshold verdict keeps its guarantees.
* :class:`ComparisonMonitor`: stops a case early only once the candidate is shown to be no worse
  than ``tolerance`` below the baseline (anytime-valid). A regression is decided only at the
  per-case maximum, by the exact test of :mod:`promptcheck.stats.two_sample`, so stopping early
  can only remove false alarms: the suite keeps the fixed design's false-alarm guarantee exactly.
  A case that reaches the maximum is always decided by the exact tests there, even when the
  early rule would also have stopped it.

numpy and scipy are imported inside functions: importing promptcheck must stay cheap.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptcheck.stats.threshold import Outcome, ThresholdVerdict
from promptcheck.stats.two_sample import Comparison, exact_pvalue

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike, NDArray

#: Alternatives of the mixture e-process, as shifts of the log-odds above the null rate: "no
#: failures at all", "failure odds 8 times smaller", "3 times smaller". Conformance rates sit near
#: 1, where a case that truly meets its bar is usually failure-free or close to it; the point mass
#: at 1 lets a failure-free case stop as soon as a fixed-sample test would (at half the level).
SHIFTS = (math.inf, math.log(8.0), math.log(3.0))
#: Prior weights of the alternatives (they sum to 1, which makes the mixture an e-process).
WEIGHTS = (0.5, 0.25, 0.25)
#: Share of beta spent on stopping early as unchanged; the rest goes to the final exact test.
EARLY_SHARE = 0.75
#: Share of the early beta spent on the baseline's bound, the rest going to the candidate's. At
#: high conformance rates the baseline's upper bound stays near 1 at any level, so a small share
#: costs it little while the candidate's bound, which decides, gains (simulated; the same for
#: pinned and live baselines).
BASELINE_SHARE = 2.0 / 15.0


def _log_sigmoid(x: NDArray[np.float64]) -> NDArray[np.float64]:
    import numpy as np

    result: NDArray[np.float64] = -np.logaddexp(0.0, -x)
    return result


def log_evidence_above(k: ArrayLike, n: ArrayLike, floor: ArrayLike) -> NDArray[np.float64]:
    """Log of the mixture e-process against H0: p <= floor, after k conforming out of n.

    Each alternative's likelihood ratio against ``floor`` is a nonnegative supermartingale under
    any p <= floor (the Bernoulli family has a monotone likelihood ratio), and so is their
    weighted mean. It decreases in ``floor``, which makes the confidence bound below a root.
    Vectorised over all arguments.
    """
    import numpy as np

    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    c = np.clip(np.asarray(floor, dtype=np.float64), 1e-300, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta = np.log(c) - np.log1p(-c)
        at_null_up, at_null_down = _log_sigmoid(eta), _log_sigmoid(-eta)
        terms = []
        for shift, weight in zip(SHIFTS, WEIGHTS, strict=True):
            if math.isinf(shift):
                term = np.where(k_ == n_, math.log(weight) - k_ * np.log(c), -np.inf)
            else:
                up = _log_sigmoid(eta + shift) - at_null_up
                down = _log_sigmoid(-eta - shift) - at_null_down
                term = math.log(weight) + k_ * up + np.where(n_ > k_, (n_ - k_) * down, 0.0)
            terms.append(np.where(c >= 1.0, -np.inf, term))
        result: NDArray[np.float64] = np.logaddexp.reduce(np.stack(terms), axis=0)
    return result


def lower_bound_anytime(k: ArrayLike, n: ArrayLike, level: ArrayLike) -> NDArray[np.float64]:
    """Lower confidence sequence for p: P(p < bound at any n) <= level. Vectorised.

    The bound is the largest rate the e-process rejects (it rejects every smaller one too);
    bisection keeps the returned value on the rejected side, so rounding never overstates it.
    """
    import numpy as np

    k_, n_, level_ = np.broadcast_arrays(
        np.asarray(k, dtype=np.float64),
        np.asarray(n, dtype=np.float64),
        np.asarray(level, dtype=np.float64),
    )
    target = -np.log(level_)
    low = np.zeros(k_.shape)
    high = np.ones(k_.shape)
    for _ in range(55):
        mid = (low + high) / 2.0
        rejected = log_evidence_above(k_, n_, mid) >= target
        low = np.where(rejected, mid, low)
        high = np.where(rejected, high, mid)
    result: NDArray[np.float64] = np.where(k_ > 0, low, 0.0)
    return result


def upper_bound_anytime(k: ArrayLike, n: ArrayLike, level: ArrayLike) -> NDArray[np.float64]:
    """Upper confidence sequence for p: the lower one applied to the non-conforming samples."""
    import numpy as np

    k_ = np.asarray(k, dtype=np.float64)
    n_ = np.asarray(n, dtype=np.float64)
    result: NDArray[np.float64] = 1.0 - lower_bound_anytime(n_ - k_, n_, level)
    return result


def confidence_sequence(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided anytime-valid interval: valid at whatever n sampling stopped."""
    tail = (1.0 - confidence) / 2.0
    return float(lower_bound_anytime(k, n, tail)), float(upper_bound_anytime(k, n, tail))


@dataclass(frozen=True, slots=True)
class Decision:
    """Why a case stopped sampling, and what it cost.

    ``outcome`` is ``pass``, ``fail`` or ``undecided`` for the threshold verdict; ``unchanged``
    (stopped early) or ``final`` (the maximum was reached; the suite-level decision follows) for
    a comparison. ``n`` counts the scored samples used (the candidate's, for a comparison).
    """

    outcome: str
    n: int
    max_samples: int
    stopped_early: bool
    reason: str

    @property
    def saved(self) -> int:
        """Samples not drawn, against drawing the per-case maximum."""
        return max(0, self.max_samples - self.n)


def least_level(shown: Callable[[NDArray[np.float64]], NDArray[np.bool_]]) -> float:
    """The least level at which ``shown`` (levels -> whether the claim is shown) holds.

    For claims whose bounds only tighten as the level grows, so that the levels showing them
    form an interval: searched on a grid of 16 points a decade from 1e-15, refined 64-fold,
    rounding upward, so that a p-value read this way is never understated. 1 when never shown.
    """
    import numpy as np

    grid = np.linspace(-15.0, 0.0, 241)
    hits = np.nonzero(shown(10.0**grid))[0]
    if hits.size == 0:
        return 1.0
    first = int(hits[0])
    if first == 0:
        return float(10.0 ** grid[0])
    fine = np.linspace(grid[first - 1], grid[first], 65)
    return float(10.0 ** fine[int(np.nonzero(shown(10.0**fine))[0][0])])


def _check_schedule(max_samples: int, round_size: int) -> None:
    if max_samples < 1 or round_size < 1:
        raise ValueError(
            f"need max_samples >= 1 and round_size >= 1, got {max_samples}, {round_size}"
        )


class _Counts:
    """Cumulative (k, n) of one stream, checked to only grow as samples are added."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.k = 0
        self.n = 0

    def advance(self, k: int, n: int) -> None:
        if not (0 <= k <= n and k >= self.k and n - k >= self.n - self.k):
            raise ValueError(
                f"{self.what}: counts are cumulative; got {k}/{n} after {self.k}/{self.n}"
            )
        self.k, self.n = k, n


class ThresholdMonitor:
    """Sequential threshold verdict: Wald's SPRT of p = threshold against threshold - tolerance.

    After each round, ``update(k, n)`` with the cumulative conforming and scored counts returns a
    :class:`Decision` once the log-likelihood ratio of "p = threshold - tolerance" to
    "p = threshold" reaches log(1/alpha) (fail) or falls to log(beta) (pass), or the maximum is
    reached (undecided). A model at or above the threshold fails with probability at most alpha,
    and one at or below threshold - tolerance passes with probability at most beta, as for the
    fixed-sample verdict of :mod:`promptcheck.stats.threshold`, however the rounds fall. Wald's
    classical boundaries (1-beta)/alpha and beta/(1-alpha) only approximate these bounds;
    Ville's hold.
    """

    def __init__(
        self,
        threshold: float,
        *,
        tolerance: float = 0.05,
        alpha: float = 0.05,
        beta: float = 0.2,
        max_samples: int = 100,
        round_size: int = 10,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        if not 0.0 < tolerance < 1.0:
            raise ValueError(
                f"adaptive sampling needs a tolerance in (0, 1), got {tolerance}: with none, "
                "no number of samples separates the two hypotheses"
            )
        if threshold - tolerance <= 0.0:
            raise ValueError(
                f"threshold - tolerance = {threshold - tolerance:g} <= 0: every rate would pass"
            )
        if not (0.0 < alpha < 1.0 and 0.0 < beta < 1.0):
            raise ValueError(f"alpha and beta must be in (0, 1), got {alpha}, {beta}")
        _check_schedule(max_samples, round_size)
        self.threshold = threshold
        self.tolerance = tolerance
        self.alpha = alpha
        self.beta = beta
        self.max_samples = max_samples
        self.round_size = round_size
        self._counts = _Counts("ThresholdMonitor")
        self._decision: Decision | None = None
        self._llr = 0.0
        floor = threshold - tolerance
        # Log-likelihood ratio steps of H1 (p = floor) over H0 (p = threshold).
        self._step_pass = math.log(floor / threshold)
        self._step_fail = math.inf if threshold >= 1.0 else math.log((1 - floor) / (1 - threshold))

    @property
    def decision(self) -> Decision | None:
        return self._decision

    @property
    def used(self) -> int:
        return self._counts.n

    @property
    def saved(self) -> int:
        return max(0, self.max_samples - self._counts.n) if self._decision else 0

    def next_round(self) -> int:
        """How many more scored samples to draw now: 0 once decided."""
        if self._decision is not None:
            return 0
        return min(self.round_size, self.max_samples - self._counts.n)

    def log_likelihood_ratio(self, k: int, n: int) -> float:
        """log of P(data | p = threshold - tolerance) / P(data | p = threshold)."""
        failures = n - k
        fail_part = 0.0 if failures == 0 else failures * self._step_fail
        return k * self._step_pass + fail_part

    def boundaries(self, n: int) -> tuple[int, int]:
        """After n scored samples: fail when k <= the first, pass when k >= the second.

        -1 and n + 1 stand for "not possible at this n". For reports ("fails at 44/50 or
        fewer") and for exact error-rate computations.
        """
        outcomes = [self._outcome_of(k, n) for k in range(n + 1)]
        fail = max((k for k, o in enumerate(outcomes) if o is Outcome.FAIL), default=-1)
        passed = min((k for k, o in enumerate(outcomes) if o is Outcome.PASS), default=n + 1)
        return fail, passed

    def _outcome_of(self, k: int, n: int) -> Outcome | None:
        llr = self.log_likelihood_ratio(k, n)
        if llr >= -math.log(self.alpha) - 1e-12:
            return Outcome.FAIL
        if llr <= math.log(self.beta) + 1e-12:
            return Outcome.PASS
        return None

    def update(self, k: int, n: int) -> Decision | None:
        """Feed the cumulative counts after a round; a :class:`Decision` once the case is done."""
        if self._decision is not None:
            return self._decision
        self._counts.advance(k, n)
        self._llr = self.log_likelihood_ratio(k, n)
        outcome = self._outcome_of(k, n)
        if outcome is None and n < self.max_samples:
            return None
        early = outcome is not None and n < self.max_samples
        if outcome is None:
            outcome = Outcome.UNDECIDED
        self._decision = Decision(outcome.value, n, self.max_samples, early, self._reason(outcome))
        return self._decision

    def finish(self, k: int, n: int) -> Decision:
        """Stop now (no more samples can be had): decide from the counts so far."""
        decision = self.update(k, n)
        if decision is None:
            self._decision = Decision(
                Outcome.UNDECIDED.value, n, self.max_samples, False, self._reason(Outcome.UNDECIDED)
            )
            decision = self._decision
        return decision

    def _reason(self, outcome: Outcome) -> str:
        k, n = self._counts.k, self._counts.n
        floor = self.threshold - self.tolerance
        ratio = math.exp(min(self._llr, 700.0))
        if outcome is Outcome.FAIL:
            return (
                f"sequential test stopped at {k}/{n}: the likelihood ratio of p = {floor:g} to "
                f"p = {self.threshold:g} is {ratio:.3g} >= 1/alpha = {1 / self.alpha:g}"
            )
        if outcome is Outcome.PASS:
            return (
                f"sequential test stopped at {k}/{n}: the likelihood ratio of p = {floor:g} to "
                f"p = {self.threshold:g} is {ratio:.3g} <= beta = {self.beta:g}"
            )
        return (
            f"{k}/{n} after {n} of at most {self.max_samples} samples cannot tell: likelihood "
            f"ratio {ratio:.3g} is between beta = {self.beta:g} and 1/alpha = {1 / self.alpha:g}"
        )

    def verdict(self) -> ThresholdVerdict:
        """The threshold verdict (for ``CaseResult.verdict``), with an anytime-valid interval."""
        if self._decision is None:
            raise RuntimeError("no decision yet: call update() until it returns one, or finish()")
        k, n = self._counts.k, self._counts.n
        interval = confidence_sequence(k, n) if n else (0.0, 1.0)
        return ThresholdVerdict(
            Outcome(self._decision.outcome),
            k,
            n,
            self.threshold,
            self.tolerance,
            interval,
            self._decision.reason,
        )


class ComparisonMonitor:
    """Sequential baseline-vs-candidate comparison of one case.

    Pinned baseline (``baseline=(k, n)``, samples reused from the store): only the candidate is
    sampled. Live baseline (``baseline=None``): both models are sampled, ``next_round()`` samples
    each per round, and ``update`` takes both counts.

    ``beta`` is this case's share of the suite's beta (the suite's beta over its cases, as
    :func:`promptcheck.stats.multiplicity.decide` spends it). A case stops early, as unchanged,
    once an anytime-valid lower bound of p_candidate minus an upper bound of p_baseline exceeds
    -tolerance: a case whose candidate is really ``tolerance`` or more below its baseline stops
    so with probability at most ``early_share`` beta (the baseline's bound is Clopper-Pearson
    when pinned, or when the stored baseline was not itself stopped adaptively, a confidence
    sequence otherwise; the candidate's is the mixture of :func:`lower_bound_anytime`).
    Otherwise it runs to ``max_samples``, where the exact tests of
    :mod:`promptcheck.stats.two_sample` give the regression p-value and the rest of beta goes to
    the exact non-inferiority test. An early stop reports ``p_regressed = 1``: it is not a test
    of a drop, and replacing a p-value by 1 keeps every guarantee of the suite-level procedure.
    ``p_improved`` and the anytime part of ``p_noninferior`` are anytime-valid (they may be read
    at any stop); ``p_noninferior`` combines that part with the exact test at the maximum by
    Bonferroni, so it is a valid p-value whatever the suite's number of cases.
    """

    def __init__(
        self,
        *,
        baseline: tuple[int, int] | None = None,
        margin: float = 0.0,
        tolerance: float = 0.05,
        beta: float = 0.2,
        max_samples: int = 150,
        round_size: int = 10,
        early_share: float = EARLY_SHARE,
        baseline_stopped: bool = False,
    ) -> None:
        if not 0.0 <= margin <= tolerance < 1.0 or tolerance == 0.0:
            raise ValueError(
                f"need 0 <= margin <= tolerance < 1 and tolerance > 0, got {margin}, {tolerance}"
            )
        if not (0.0 < beta < 1.0 and 0.0 < early_share < 1.0):
            raise ValueError(f"beta and early_share must be in (0, 1), got {beta}, {early_share}")
        _check_schedule(max_samples, round_size)
        self.margin = margin
        self.tolerance = tolerance
        self.beta = beta
        self.max_samples = max_samples
        self.round_size = round_size
        early = beta * early_share
        self.final_beta = beta - early
        self.baseline_share = BASELINE_SHARE
        self._level_baseline = early * self.baseline_share
        self._level_candidate = early - self._level_baseline
        self._candidate = _Counts("candidate")
        self._baseline = _Counts("baseline")
        self.early_share = early_share
        self._pinned = baseline is not None
        self._anytime_baseline = baseline is None or baseline_stopped
        if baseline is not None:
            self._baseline.advance(*baseline)
        self._decision: Decision | None = None

    @property
    def pinned(self) -> bool:
        return self._pinned

    @property
    def decision(self) -> Decision | None:
        return self._decision

    @property
    def used(self) -> int:
        return self._candidate.n

    @property
    def saved(self) -> int:
        return max(0, self.max_samples - self._candidate.n) if self._decision else 0

    def next_round(self) -> int:
        """Samples to draw now from the candidate (and, when live, from the baseline)."""
        if self._decision is not None:
            return 0
        return max(0, min(self.round_size, self.max_samples - self._candidate.n))

    def _baseline_bounds(
        self, k: ArrayLike, n: int, levels: ArrayLike, upper: bool = True
    ) -> NDArray[np.float64]:
        """The baseline's one-sided bounds (vectorised over counts and levels).

        Clopper-Pearson when pinned (its samples are fixed while the candidate is monitored), a
        confidence sequence when live (its samples grow with the candidate's) or when a stored
        baseline was itself stopped by adaptive sampling (its count is not a fixed sample).
        """
        import numpy as np
        from scipy.special import betaincinv

        k_, level = np.broadcast_arrays(
            np.asarray(k, dtype=np.float64), np.asarray(levels, dtype=np.float64)
        )
        if n == 0:
            return np.full(k_.shape, 1.0 if upper else 0.0)
        if self._anytime_baseline:
            return upper_bound_anytime(k_, n, level) if upper else lower_bound_anytime(k_, n, level)
        if upper:
            inner = np.minimum(k_, n - 1.0)
            bound = np.where(k_ >= n, 1.0, betaincinv(inner + 1.0, n - inner, 1.0 - level))
        else:
            inner = np.maximum(k_, 1.0)
            bound = np.where(k_ <= 0, 0.0, betaincinv(inner, n - inner + 1.0, level))
        result: NDArray[np.float64] = bound
        return result

    def candidate_floor(
        self, k_baseline: int | None = None, n_baseline: int | None = None
    ) -> float:
        """The rate the candidate must be shown to exceed to stop: baseline bound - tolerance.

        From the baseline counts given (a live baseline's counts at some round) or, by default,
        from the monitor's own.
        """
        if k_baseline is None or n_baseline is None:
            k_baseline, n_baseline = self._baseline.k, self._baseline.n
        upper = self._baseline_bounds(k_baseline, n_baseline, self._level_baseline)
        return float(upper) - self.tolerance

    def unchanged_at_least(
        self, n: int, k_baseline: int | None = None, n_baseline: int | None = None
    ) -> int:
        """Fewest conforming candidate samples out of n that stop the case early (n + 1: none).

        The early-stopping rule as a count boundary, given the baseline counts (by default the
        monitor's own): ``update`` applies exactly this, and reports can quote it.
        """
        if k_baseline is None or n_baseline is None:
            k_baseline, n_baseline = self._baseline.k, self._baseline.n
        return int(self.unchanged_boundaries(n, [k_baseline], n_baseline)[0])

    def unchanged_boundaries(
        self, n: int, k_baseline: ArrayLike, n_baseline: int
    ) -> NDArray[np.int64]:
        """:meth:`unchanged_at_least` for many baseline counts at once (for simulations)."""
        import numpy as np

        k_b = np.atleast_1d(np.asarray(k_baseline, dtype=np.float64))
        floors = self._baseline_bounds(k_b, n_baseline, self._level_baseline) - self.tolerance
        k_c = np.arange(n + 1, dtype=np.float64)[:, None]
        evidence = log_evidence_above(k_c, n, np.maximum(floors, 1e-12)[None, :])
        stops = (evidence >= -math.log(self._level_candidate)) | (floors[None, :] <= 0.0)
        first: NDArray[np.int64] = np.where(stops.any(axis=0), stops.argmax(axis=0), n + 1)
        return first

    def update(
        self,
        k_candidate: int,
        n_candidate: int,
        k_baseline: int | None = None,
        n_baseline: int | None = None,
    ) -> Decision | None:
        """Feed cumulative counts after a round; a :class:`Decision` once the case is done.

        With a live baseline the final analysis waits until both models reach ``max_samples``;
        when one of them cannot (too many errors), call :meth:`finish`.
        """
        if self._decision is not None:
            return self._decision
        self._advance(k_candidate, n_candidate, k_baseline, n_baseline)
        n = self._candidate.n
        if n >= self.max_samples:
            # at the maximum the exact tests decide, whatever the early rule would say
            if self._pinned or self._baseline.n >= self.max_samples:
                self._decision = self._final(n)
        elif n > 0 and self._baseline.n > 0 and self._candidate.k >= self.unchanged_at_least(n):
            self._decision = Decision(
                "unchanged",
                n,
                self.max_samples,
                True,
                f"stopped after {n} samples: the candidate is shown to be no worse than "
                f"{self.tolerance:g} below the baseline (anytime-valid)",
            )
        return self._decision

    def finish(
        self,
        k_candidate: int,
        n_candidate: int,
        k_baseline: int | None = None,
        n_baseline: int | None = None,
    ) -> Decision:
        """Stop now (no more samples can be had): the final analysis on the counts so far."""
        decision = self.update(k_candidate, n_candidate, k_baseline, n_baseline)
        if decision is None:
            self._decision = decision = self._final(self._candidate.n)
        return decision

    def _final(self, n: int) -> Decision:
        return Decision(
            "final",
            n,
            self.max_samples,
            False,
            f"ran to {n} samples: decided by the exact tests",
        )

    def _advance(self, k_c: int, n_c: int, k_b: int | None, n_b: int | None) -> None:
        if self._pinned:
            if (k_b, n_b) not in ((None, None), (self._baseline.k, self._baseline.n)):
                raise ValueError("the baseline is pinned: its counts cannot change")
        elif k_b is None or n_b is None:
            raise ValueError("a live baseline needs its counts at every update")
        else:
            self._baseline.advance(k_b, n_b)
        self._candidate.advance(k_c, n_c)

    def _difference_pvalue(self, gap: float, upward: bool) -> float:
        """Least level at which the anytime bounds show Delta > gap (``upward``) or < gap.

        The level is split as the early rule splits it: ``baseline_share`` to the baseline's
        bound, the rest to the candidate's. Read at any stop, it is a valid p-value.
        """
        import numpy as np

        k, n = self._candidate.k, self._candidate.n
        if n == 0 or self._baseline.n == 0:
            return 1.0
        k_b, n_b = self._baseline.k, self._baseline.n
        share = self.baseline_share

        def shown(levels: NDArray[np.float64]) -> NDArray[np.bool_]:
            if upward:
                candidate = lower_bound_anytime(k, n, levels * (1.0 - share))
                baseline = self._baseline_bounds(k_b, n_b, levels * share)
                result: NDArray[np.bool_] = np.asarray(candidate - baseline > gap)
            else:
                candidate = upper_bound_anytime(k, n, levels * (1.0 - share))
                baseline = self._baseline_bounds(k_b, n_b, levels * share, upper=False)
                result = np.asarray(candidate - baseline < gap)
            return result

        return least_level(shown)

    def improvement_pvalue(self) -> float:
        """Anytime-valid p-value of H0 Delta <= margin, read at any stop."""
        return self._difference_pvalue(self.margin, upward=True)

    def noninferiority_pvalue(self) -> float:
        """Anytime-valid p-value of H0 Delta <= -tolerance: what the early rule tests (it stops
        once this is at most ``early_share`` beta)."""
        return self._difference_pvalue(-self.tolerance, upward=True)

    def comparison(self, confidence: float = 0.95) -> Comparison:
        """The case's :class:`~promptcheck.stats.two_sample.Comparison`, for ``compare.decide``."""
        if self._decision is None:
            raise RuntimeError("no decision yet: call update() until it returns one, or finish()")
        k_b, n_b = self._baseline.k, self._baseline.n
        k_c, n_c = self._candidate.k, self._candidate.n
        tail = (1.0 - confidence) / 2.0
        quarter = tail / 2.0
        if self._pinned:
            from promptcheck.stats.threshold import clopper_pearson

            baseline_interval = clopper_pearson(k_b, n_b, confidence)
        else:
            baseline_interval = confidence_sequence(k_b, n_b, confidence) if n_b else (0.0, 1.0)
        candidate_interval = confidence_sequence(k_c, n_c, confidence) if n_c else (0.0, 1.0)
        if n_c and n_b:
            low_c = float(lower_bound_anytime(k_c, n_c, quarter))
            high_c = float(upper_bound_anytime(k_c, n_c, quarter))
            high_b = float(self._baseline_bounds(k_b, n_b, quarter))
            low_b = float(self._baseline_bounds(k_b, n_b, quarter, upper=False))
            interval = (low_c - high_b, high_c - low_b)
        else:
            interval = (-1.0, 1.0)
        early = self._decision.outcome == "unchanged"
        anytime = self.noninferiority_pvalue() / self.early_share
        # where the early rule holds, it showed non-inferiority at early_share * beta (a grid
        # read of the anytime p-value may round just above): the p-value is at most beta
        if n_c and n_b and k_c >= self.unchanged_at_least(n_c):
            anytime = min(anytime, self.beta)
        if early:
            p_regressed, p_noninferior = 1.0, min(1.0, anytime)
        else:
            p_regressed = exact_pvalue(k_b, n_b, k_c, n_c, -self.margin, "less")
            exact = exact_pvalue(k_b, n_b, k_c, n_c, -self.tolerance, "greater")
            p_noninferior = min(1.0, anytime, exact / (1.0 - self.early_share))
        return Comparison(
            k_b,
            n_b,
            k_c,
            n_c,
            margin=self.margin,
            tolerance=self.tolerance,
            baseline_interval=baseline_interval,
            candidate_interval=candidate_interval,
            interval=interval,
            p_regressed=p_regressed,
            p_improved=self.improvement_pvalue(),
            p_noninferior=p_noninferior,
            method="sequential",
            note=self._decision.reason,
        )
