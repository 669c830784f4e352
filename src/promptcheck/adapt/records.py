"""What ``adapt`` found and did: plain records the reports read (terminal, Markdown, HTML, JSON).

Per case: why it was adapted (regressed, below its threshold), the original prompt's rates on
the baseline and the candidate, every rewrite tried with its search rate and why it stopped,
and the winner's held-out test. Per run: the spend against the budget, and the patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from promptcheck.adapt.templates import PromptTemplate
from promptcheck.stats.racing import Confirmation


@dataclass(frozen=True, slots=True)
class Rate:
    """k conforming of n scored samples, with a 95% interval."""

    k: int
    n: int
    interval: tuple[float, float] = (0.0, 1.0)

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0


@dataclass(frozen=True, slots=True)
class Trial:
    """One rewrite and what became of it.

    ``status``: ``discarded`` (never sampled: ``reason`` says why), ``eliminated``, ``stopped``
    (the race ended without a winner), ``not chosen`` (still running when another won),
    ``winner``, ``refused`` (a contender the held-out test did not declare a fix), ``chosen``
    (a contender confirmed after the race's winner was refused), ``not tested`` (a contender
    the budget left could not test). ``search`` is its rate on the search values, with the
    race's anytime-valid interval (None when discarded).
    """

    name: str
    origin: str
    description: str
    template: PromptTemplate
    status: str
    reason: str
    search: Rate | None = None


@dataclass(frozen=True, slots=True)
class CaseAdaptation:
    """One case that needed adapting and the outcome.

    ``why`` lists ``regressed`` and/or ``below threshold``; ``goal`` is ``threshold`` (the held-out
    rate must clear threshold - tolerance) or ``baseline`` (no worse than the baseline's rate by
    the tolerance, for a case whose baseline itself misses the threshold). ``adapted`` is true
    when the winner's confirmation declared it a fix; ``chosen`` is then its template.
    """

    suite_path: str
    suite: str
    case_id: str
    why: tuple[str, ...]
    goal: str
    threshold: float
    tolerance: float
    original: PromptTemplate
    baseline: Rate | None
    candidate: Rate
    search_values: int
    held_out_values: int
    shared_values: bool
    requirements: tuple[str, ...]
    trials: tuple[Trial, ...]
    race_reason: str
    winner: str | None = None
    confirmation: Confirmation | None = None
    adapted: bool = False
    chosen: PromptTemplate | None = None
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.suite_path}::{self.case_id}"

    @property
    def best_search(self) -> Trial | None:
        """The tried rewrite with the best search rate (for a case not adapted)."""
        tried = [trial for trial in self.trials if trial.search is not None and trial.search.n]
        return max(tried, key=lambda t: t.search.rate if t.search else 0.0, default=None)


@dataclass(frozen=True, slots=True)
class CaseStatus:
    """Every examined case in one line: ``conforms`` (passes its threshold and did not regress:
    nothing to do), ``undecided`` (neither regressed nor failing, but too few scored samples to
    pass: left alone), ``adapted``, ``not adapted``, or ``skipped`` (not run on the candidate)."""

    suite_path: str
    case_id: str
    status: str
    detail: str = ""


@dataclass
class Spend:
    """What ``adapt`` drew and asked, against its budget.

    ``diagnosis`` counts the samples of the original prompts (both models); ``search`` and
    ``confirmation`` those of the rewrites, which the sample budget caps; ``cached`` how many of
    all of them came from the cache (free); ``calls`` the optimizer's answers (``cached_calls``
    free); ``cost`` what the models reported costing, against ``budget_cost``.
    """

    diagnosis: int = 0
    search: int = 0
    confirmation: int = 0
    cached: int = 0
    calls: int = 0
    cached_calls: int = 0
    budget_samples: int | None = None
    budget_calls: int | None = None
    budget_cost: float | None = None
    #: What the models reported costing (None: no model reports a price).
    cost: float | None = None
    exhausted: list[str] = field(default_factory=list)

    @property
    def rewrite_samples(self) -> int:
        return self.search + self.confirmation

    def samples_left(self) -> int | None:
        if self.budget_samples is None:
            return None
        return max(self.budget_samples - self.rewrite_samples, 0)

    def calls_left(self) -> int | None:
        if self.budget_calls is None:
            return None
        return max(self.budget_calls - self.calls, 0)


@dataclass(frozen=True, slots=True)
class SuitePatch:
    """A suite with adapted cases: its path, the patched text, and where it went (``written``:
    a file path; empty when only a diff was asked)."""

    suite_path: str
    original: str
    patched: str
    cases: tuple[str, ...]
    written: str = ""


@dataclass(frozen=True)
class AdaptReport:
    """Everything one ``promptcheck adapt`` found, in the order the reports show it."""

    candidate: str
    baseline: str
    baseline_live: bool
    optimizer: str | None
    statuses: tuple[CaseStatus, ...]
    cases: tuple[CaseAdaptation, ...]
    spend: Spend
    patches: tuple[SuitePatch, ...] = ()
    runs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def adapted(self) -> tuple[CaseAdaptation, ...]:
        return tuple(case for case in self.cases if case.adapted)

    @property
    def not_adapted(self) -> tuple[CaseAdaptation, ...]:
        return tuple(case for case in self.cases if not case.adapted)

    @property
    def headline(self) -> str:
        examined = len(self.statuses)
        if not self.cases:
            return f"{examined} case(s) examined: none regressed or fails its threshold"
        return (
            f"{examined} case(s) examined, {len(self.cases)} to adapt: {len(self.adapted)} "
            f"adapted, {len(self.not_adapted)} not adapted"
        )
