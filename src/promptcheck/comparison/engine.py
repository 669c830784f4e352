"""Two stored runs side by side: which cases did the candidate model break?

A model change is judged after the fact as often as live: the baseline was run last month, the
candidate in this pull request, and both sit in the store. This module matches their cases, runs
the comparison of :mod:`promptcheck.stats.two_sample` on each (the verdict's counts: conforming
out of scored samples), decides across the suite with false alarms controlled, and says plainly what
could not be compared and why the answer may be weak, rather than comparing the wrong things in
silence:

* cases are matched by (suite path, case id); suite paths are stored relative to the project
  root, so runs from a CI checkout and a laptop match. Cases held by one run only are listed,
  never compared, and the verdict covers the intersection;
* what the samples can detect is stated: per case, the smallest drop the exact test catches
  with the settings' power at the level the suite's first regression needs
  (:mod:`promptcheck.stats.power`), and a baseline case with fewer scored samples than the
  candidate's is noted;
* the baseline's strength is stated: its samples and its age against the candidate (a guarantee
  that holds on average over baselines is only as good as the one baseline reused, and a hosted
  model changes behind its name; docs/statistics.md says when to re-record);
* a suite file whose content changed between the runs is reported: a case of the same id may ask
  something else now;
* a case that adaptive sampling stopped on either side is not read as a fixed sample (that
  would raise false alarms beyond alpha): it is compared with anytime-valid bounds
  (:func:`promptcheck.stats.stopped_comparison`), or, when the candidate's run recorded its
  sequential comparison against this very baseline run, with that (:mod:`.adaptive`).

Per check, the pass counts are compared too, for diagnosis only: which check moved. Those
comparisons are not adjusted for multiplicity and never decide anything.

With a pairwise judge (``--pairwise JUDGE``), each case also gets one more check, the judge's
answer to "is the candidate's output at least as good as the baseline's, for the same prompt?"
(:class:`~promptcheck.comparison.pairwise.PairwiseCheck`), with its own threshold verdict. It is
diagnosis too: it changes neither a case's verdict nor the exit status, because the judge's
reliability is not measured here and its per-case verdicts are not held to the suite's
false-alarm rate as the conformance verdicts are (docs/judges.md).

The ``compare`` subcommand (:mod:`promptcheck.cli.compare`) is the command-line face of
:func:`compare_runs`; :mod:`promptcheck.report.comparison_text` writes the report for a terminal.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from promptcheck.comparison.adaptive import recorded_comparison, sampled_adaptively
from promptcheck.comparison.budget import Budget, Targets, planning_rate
from promptcheck.comparison.drift import baseline_drift
from promptcheck.config import (
    BASELINE_MAX_AGE_DAYS,
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_DETECT,
    DEFAULT_MARGIN,
    DEFAULT_POWER,
    FAILING,
)
from promptcheck.errors import ConfigError, StoreError
from promptcheck.results import ADAPTIVE_KEY
from promptcheck.stats import (
    CRITICAL_TAG,
    CaseChange,
    Change,
    Comparison,
    compare_rates,
    decide,
    detectable_drop,
    first_rejection_level,
    stopped_comparison,
)

if TYPE_CHECKING:
    from promptcheck.comparison.pairwise import PairwiseCheck
    from promptcheck.results import CaseResult
    from promptcheck.store.database import RunSummary, Store

__all__ = [
    "CaseRow",
    "CheckDiagnosis",
    "CompareSettings",
    "ComparisonReport",
    "FailOn",
    "Side",
    "compare_results",
    "compare_runs",
    "with_pairwise",
]

#: Names listed in one warning before "and N more".
_LISTED = 5

FailOn = Literal["regressed", "inconclusive"]
#: Order in which reports list the changes: what needs attention first.
CHANGE_ORDER = (Change.REGRESSED, Change.IMPROVED, Change.INCONCLUSIVE, Change.UNCHANGED)


@dataclasses.dataclass(frozen=True, slots=True)
class CompareSettings:
    """The knobs of a comparison (docs/statistics.md explains the defaults).

    ``detect`` is the drop the comparison is planned to catch with probability ``power``, and the
    drop an "unchanged" verdict rules out. Validated here, once, so that a bad ``--margin`` is a
    usage error naming the option rather than a ``ValueError`` from deep inside the statistics.
    """

    margin: float = DEFAULT_MARGIN
    detect: float = DEFAULT_DETECT
    alpha: float = DEFAULT_ALPHA
    beta: float = DEFAULT_BETA
    power: float = DEFAULT_POWER

    def __post_init__(self) -> None:
        if not 0.0 <= self.margin < 1.0:
            raise ConfigError(f"margin must be in [0, 1), got {self.margin:g}")
        if not self.margin < self.detect < 1.0:
            raise ConfigError(
                f"the drop to detect must be above the margin ({self.margin:g}) and below 1, "
                f"got {self.detect:g}",
                hint="a margin ignores drops up to itself, so only larger drops can be caught",
            )
        for name in ("alpha", "beta", "power"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ConfigError(f"{name} must be in (0, 1), got {value:g}")

    @property
    def targets(self) -> Targets:
        """The settings as a budget's plan needs them."""
        return Targets(self.alpha, self.beta, self.margin, self.detect, self.power)


class Side(enum.StrEnum):
    """Which of the two runs a check was found in."""

    BOTH = "both"
    BASELINE = "baseline"
    CANDIDATE = "candidate"


@dataclasses.dataclass(frozen=True, slots=True)
class CheckDiagnosis:
    """One check of one case on both models: which check moved, for diagnosis only.

    ``comparison`` compares the check's pass counts over the samples it could score (None when
    the check exists in one run only, ``side``). ``direction`` is ``dropped`` or ``rose`` when the
    *unadjusted* one-sided p-value is at most alpha, else empty: a pointer for a reader, not a
    verdict, since nothing controls false alarms across a suite's many checks.
    """

    index: int
    label: str
    side: Side
    comparison: Comparison | None = None
    direction: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class CaseRow:
    """One case present in both runs: its suite-level verdict, checks and caveats."""

    suite: str
    suite_path: str
    case_id: str
    tags: tuple[str, ...]
    verdict: CaseChange
    checks: tuple[CheckDiagnosis, ...] = ()
    baseline_errors: int = 0
    candidate_errors: int = 0
    baseline_unscored: int = 0
    candidate_unscored: int = 0
    notes: tuple[str, ...] = ()
    #: The pairwise judge's check of this case, when the comparison asked one (diagnosis only).
    pairwise: PairwiseCheck | None = None
    #: The runs ("baseline", "candidate") whose adaptive sampling stopped this case early.
    stopped_early: tuple[str, ...] = ()
    #: The smallest drop these samples catch with the settings' power at the level the suite's
    #: first regression needs (None: not computed, for a sequential or anytime comparison, or
    #: no drop is caught so often).
    detectable: float | None = None

    @property
    def name(self) -> str:
        """``suite_path::case_id``, as in pytest's item ids (less the model)."""
        return case_name(self.suite_path, self.case_id)

    @property
    def change(self) -> Change:
        return self.verdict.change

    @property
    def comparison(self) -> Comparison:
        return self.verdict.comparison

    @property
    def p_adjusted(self) -> float:
        """The adjusted p-value a reader compares with alpha: the improvement's for an improved
        case, the regression's for every other (how far it is from being flagged)."""
        if self.change == Change.IMPROVED:
            return self.verdict.p_improved_adjusted
        return self.verdict.p_regressed_adjusted


@dataclasses.dataclass(frozen=True)
class ComparisonReport:
    """Everything a comparison of two runs found, in the order reports show it.

    ``rows`` are the cases both runs hold, in suite order; ``only_in_baseline`` and
    ``only_in_candidate`` name (``suite_path::case_id``) the cases that could not be compared.
    ``warnings`` say what weakens the answer: short baselines, changed suites, unfinished runs.
    """

    baseline: RunSummary
    candidate: RunSummary
    settings: CompareSettings
    rows: tuple[CaseRow, ...]
    only_in_baseline: tuple[str, ...] = ()
    only_in_candidate: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    #: The live gate's plan of samples per case (None offline: nothing was planned).
    budget: Budget | None = None

    def by_change(self, change: Change) -> tuple[CaseRow, ...]:
        return tuple(row for row in self.rows if row.change == change)

    @property
    def counts(self) -> dict[str, int]:
        """Cases per change, plus ``compared`` and the two one-sided counts."""
        counts = {change.value: len(self.by_change(change)) for change in CHANGE_ORDER}
        counts["compared"] = len(self.rows)
        counts["only_in_baseline"] = len(self.only_in_baseline)
        counts["only_in_candidate"] = len(self.only_in_candidate)
        return counts

    def failing(self, fail_on: FailOn = "regressed") -> tuple[CaseRow, ...]:
        """The cases that make a gate fail under ``--fail-on`` (the table in :mod:`config`)."""
        changes = FAILING[fail_on]
        return tuple(row for row in self.rows if row.change in changes)

    @property
    def pairwise_counts(self) -> dict[str, int]:
        """Cases per pairwise outcome (pass, fail, undecided); empty without a pairwise judge."""
        checks = [row.pairwise for row in self.rows if row.pairwise is not None]
        if not checks:
            return {}
        outcomes = [check.outcome.value for check in checks]
        return {name: outcomes.count(name) for name in ("fail", "undecided", "pass")}

    @property
    def detectable(self) -> float | None:
        """The largest of the cases' detectable drops: every compared case with a fixed-sample
        comparison would have been caught had it dropped this much (None: none computed)."""
        drops = [row.detectable for row in self.rows if row.detectable is not None]
        return max(drops) if drops else None

    @property
    def strength(self) -> BaselineStrength | None:
        """How strong the baseline is: its samples and its age (None: nothing compared)."""
        counts = sorted(row.comparison.n_baseline for row in self.rows)
        if not counts:
            return None
        age = max(0.0, self.candidate.started_at - self.baseline.started_at) / 86_400.0
        stored = self.baseline.session != self.candidate.session
        return BaselineStrength(counts[0], counts[len(counts) // 2], age, stored)

    @property
    def headline(self) -> str:
        """One sentence for the top of a report: the worst news first."""
        counts = self.counts
        if not self.rows:
            return "no case in common: nothing compared"
        judged = self.pairwise_counts.get("fail", 0)
        pairwise = f" (pairwise judge: baseline better in {count_cases(judged)})" if judged else ""
        if counts["regressed"]:
            return f"{count_cases(counts['regressed'])} regressed{pairwise}"
        if counts["inconclusive"]:
            undecided = count_cases(counts["inconclusive"])
            return f"no regression found; {undecided} inconclusive{pairwise}"
        return "no regression" + pairwise


@dataclasses.dataclass(frozen=True, slots=True)
class BaselineStrength:
    """What a comparison leans on: the baseline's scored samples a case (fewest and median),
    its age in days when the candidate started, and whether it was stored (reused) rather
    than drawn in the same session."""

    fewest: int
    median: int
    age_days: float
    stored: bool

    @property
    def stale(self) -> bool:
        return self.stored and self.age_days > BASELINE_MAX_AGE_DAYS

    def describe(self) -> str:
        where = (
            f"stored, recorded {self.age_days:.1f} day(s) before the candidate"
            if self.stored
            else "drawn in this session"
        )
        return f"{self.median} scored samples a case (fewest {self.fewest}), {where}"

    def as_dict(self) -> dict[str, object]:
        return {
            "fewest_samples": self.fewest,
            "median_samples": self.median,
            "age_days": round(self.age_days, 3),
            "stored": self.stored,
            "stale": self.stale,
        }


def case_name(suite_path: str, case_id: str) -> str:
    return f"{suite_path}::{case_id}"


def count_cases(count: int) -> str:
    """``1 case``, ``2 cases``: reports count cases in sentences."""
    return f"{count} case" if count == 1 else f"{count} cases"


def compare_runs(
    store: Store, baseline: str, candidate: str, settings: CompareSettings | None = None
) -> ComparisonReport:
    """Compare two stored runs, named by id, unique id prefix or label (:meth:`Store.run`)."""
    base_run = store.run(baseline)
    cand_run = store.run(candidate)
    return compare_results(
        base_run,
        store.case_results(base_run.id),
        cand_run,
        store.case_results(cand_run.id),
        settings,
    )


def compare_results(
    baseline_run: RunSummary,
    baseline_cases: Sequence[CaseResult],
    candidate_run: RunSummary,
    candidate_cases: Sequence[CaseResult],
    settings: CompareSettings | None = None,
) -> ComparisonReport:
    """Compare the case results of two runs; the store-free core of :func:`compare_runs`.

    A case is critical (Holm rather than Benjamini-Hochberg) when either run tags it
    ``critical``: the tag may have been added since the baseline, and the stricter family is
    the safe reading. A case sampled adaptively on either side is compared as the module
    docstring says (its recorded sequential comparison, else anytime-valid bounds).
    """
    settings = settings or CompareSettings()
    base = _by_key(baseline_run, baseline_cases)
    cand = _by_key(candidate_run, candidate_cases)
    common = [key for key in base if key in cand]
    comparisons: dict[str, Comparison] = {}
    critical: set[str] = set()
    for key in common:
        name = case_name(*key)
        comparisons[name] = case_comparison(base[key], cand[key], baseline_run.id, settings)
        if CRITICAL_TAG in base[key].tags or CRITICAL_TAG in cand[key].tags:
            critical.add(name)
    verdicts = decide(comparisons, critical=critical, alpha=settings.alpha, beta=settings.beta)
    rows = tuple(
        _row(base[key], cand[key], verdicts[case_name(*key)], settings, len(common))
        for key in common
    )
    report = ComparisonReport(
        baseline=baseline_run,
        candidate=candidate_run,
        settings=settings,
        rows=rows,
        only_in_baseline=tuple(case_name(*key) for key in base if key not in cand),
        only_in_candidate=tuple(case_name(*key) for key in cand if key not in base),
    )
    warnings = list(report_warnings(report))
    drift = baseline_drift(
        baseline_run.model,
        baseline_run.model_spec,
        baseline_cases,
        candidate_run.model,
        candidate_run.model_spec,
        candidate_cases,
    )
    if drift is not None:
        warnings.append(drift)
    return dataclasses.replace(report, warnings=tuple(warnings))


def case_comparison(
    base: CaseResult, cand: CaseResult, baseline_run: str, settings: CompareSettings
) -> Comparison:
    """One case's comparison: exact on fixed samples; for a case sampled adaptively on either
    side, the sequential comparison the candidate's run recorded against this baseline run,
    else anytime-valid bounds (a stopped count is not a fixed sample)."""
    b, c = base.verdict, cand.verdict
    recorded = recorded_comparison(cand, baseline_run, (b.k, b.n, c.k, c.n))
    if (
        recorded is not None
        and recorded.margin == settings.margin
        and recorded.tolerance == settings.detect
    ):
        return recorded
    stopped_b, stopped_c = sampled_adaptively(base), sampled_adaptively(cand)
    if stopped_b or stopped_c:
        sides = [side for side, s in (("baseline", stopped_b), ("candidate", stopped_c)) if s]
        return stopped_comparison(
            b.k,
            b.n,
            c.k,
            c.n,
            baseline_stopped=stopped_b,
            candidate_stopped=stopped_c,
            margin=settings.margin,
            tolerance=settings.detect,
            note=f"sampled adaptively in the {' and '.join(sides)} run: compared with "
            "anytime-valid bounds, valid however sampling stopped",
        )
    return compare_rates(b.k, b.n, c.k, c.n, margin=settings.margin, tolerance=settings.detect)


def _by_key(run: RunSummary, cases: Sequence[CaseResult]) -> dict[tuple[str, str], CaseResult]:
    """A run's cases by (suite path, case id), in suite order.

    A run is one model in one session, so a key is unique; a run holding a case twice (a store
    written by hand, or a future multi-model run) cannot be compared case by case and is refused.
    """
    found: dict[tuple[str, str], CaseResult] = {}
    for case in sorted(cases, key=lambda c: (c.suite_path, c.case_id)):
        key = (case.suite_path, case.case_id)
        if key in found:
            raise StoreError(
                f"run {run.id!r} holds case {case_name(*key)} more than once (models "
                f"{found[key].model!r} and {case.model!r}); compare runs of one model each"
            )
        found[key] = case
    return found


def _row(
    base: CaseResult,
    cand: CaseResult,
    verdict: CaseChange,
    settings: CompareSettings,
    cases: int,
) -> CaseRow:
    b, c = base.verdict, cand.verdict
    notes = []
    if b.n == 0 or c.n == 0:
        side, result = ("baseline", base) if b.n == 0 else ("candidate", cand)
        notes.append(
            f"no scored samples in the {side} ({result.errors} of {len(result.samples)} errored)"
        )
    if b.n < c.n:
        notes.append(f"the baseline has fewer scored samples ({b.n}) than the candidate ({c.n})")
    detectable = None
    if verdict.comparison.method == "exact" and b.n and c.n:
        detectable = detectable_drop(
            planning_rate(base.verdict.threshold, (b.k, b.n), settings.detect),
            b.n,
            c.n,
            target=settings.power,
            level=first_rejection_level(settings.alpha, max(1, cases)),
            margin=settings.margin,
        )
    tags = tuple(dict.fromkeys((*cand.tags, *base.tags)))
    return CaseRow(
        suite=cand.suite,
        suite_path=cand.suite_path,
        case_id=cand.case_id,
        tags=tags,
        verdict=verdict,
        checks=tuple(_diagnose(base, cand, settings)),
        baseline_errors=base.errors,
        candidate_errors=cand.errors,
        baseline_unscored=base.count("unscored"),
        candidate_unscored=cand.count("unscored"),
        notes=tuple(notes),
        stopped_early=tuple(
            side for side, result in (("baseline", base), ("candidate", cand)) if _early(result)
        ),
        detectable=detectable,
    )


def _early(result: CaseResult) -> bool:
    """Whether adaptive sampling stopped this case before its maximum (``properties`` as the
    runner writes them under ``adaptive``)."""
    adaptive = result.properties.get(ADAPTIVE_KEY)
    return isinstance(adaptive, Mapping) and adaptive.get("stopped_early") is True


def _diagnose(
    base: CaseResult, cand: CaseResult, settings: CompareSettings
) -> Iterable[CheckDiagnosis]:
    """Per-check comparisons of the checks that failed on either side.

    Checks are matched by position and label, so a check inserted before another shows as
    removed and added rather than as a bogus comparison of two different checks. A check that
    passed every sample it scored on both sides has nothing to diagnose and is left out; that
    also keeps a large suite's comparison fast.
    """
    base_tallies = {(t.index, t.label): t for t in base.tallies}
    cand_tallies = {(t.index, t.label): t for t in cand.tallies}
    for key in sorted(base_tallies.keys() | cand_tallies.keys()):
        b, c = base_tallies.get(key), cand_tallies.get(key)
        if b is None or c is None:
            yield CheckDiagnosis(*key, Side.CANDIDATE if b is None else Side.BASELINE)
            continue
        if not (b.failed or c.failed):
            continue
        comparison = compare_rates(
            b.passed,
            b.passed + b.failed,
            c.passed,
            c.passed + c.failed,
            margin=settings.margin,
            tolerance=settings.detect,
        )
        direction = ""
        if comparison.p_regressed <= settings.alpha:
            direction = "dropped"
        elif comparison.p_improved <= settings.alpha:
            direction = "rose"
        yield CheckDiagnosis(*key, Side.BOTH, comparison, direction)


def with_pairwise(
    report: ComparisonReport, checks: Mapping[str, PairwiseCheck]
) -> ComparisonReport:
    """The report with each case's pairwise check (by ``suite_path::case_id``) on its row."""
    rows = tuple(
        dataclasses.replace(row, pairwise=checks[row.name]) if row.name in checks else row
        for row in report.rows
    )
    return dataclasses.replace(report, rows=rows)


def report_warnings(report: ComparisonReport) -> Iterable[str]:
    """What weakens or narrows the answer, one sentence each, most serious first."""
    from promptcheck.store.database import RunStatus

    base, cand = report.baseline, report.candidate
    if base.id == cand.id:
        yield f"run {base.id} is compared with itself"
    elif base.started_at > cand.started_at:
        yield (
            f"the baseline run {base.id} started after the candidate {cand.id}: the order is "
            "RUN_A (baseline) then RUN_B (candidate)"
        )
    if not report.rows:
        yield "the runs have no case in common (matched by suite path and case id)"
    skipped = len(report.only_in_baseline) + len(report.only_in_candidate)
    if skipped and report.rows:
        yield (
            f"compared on the {count_cases(len(report.rows))} both runs hold; {skipped} other(s) "
            "listed, not compared"
        )
    for role, run in (("baseline", base), ("candidate", cand)):
        if run.status == RunStatus.INTERRUPTED:
            yield (
                f"{role} run {run.id} was interrupted: it holds only the cases recorded before "
                "the interruption"
            )
        elif run.finished_at is None:
            yield f"run {run.id} never finished (still running, or its process was killed)"
    changed = sorted(
        path for path, digest in base.suites.items() if cand.suites.get(path, digest) != digest
    )
    if changed:
        yield (
            f"suite file(s) changed between the runs: {_listing(changed)}; a case of the same id "
            "may now ask or check something else"
        )
    empty = [
        row.name
        for row in report.rows
        if not (row.comparison.n_baseline and row.comparison.n_candidate)
    ]
    if empty:
        yield f"no scored samples on one side, so inconclusive: {_listing(empty)}"
    strength = report.strength
    if strength is not None and strength.stale:
        yield (
            f"the baseline run {base.id} was recorded {strength.age_days:.0f} days before the "
            f"candidate (more than {BASELINE_MAX_AGE_DAYS}): a hosted model may have changed "
            "behind its name; re-record it with --promptcheck-baseline-refresh"
        )
    detectable = report.detectable
    target = report.settings.detect
    if detectable is not None and detectable > target + 1e-9:
        yield (
            f"these samples can detect drops of {detectable:.2f} or more with power "
            f"{report.settings.power:g}, not {target:g}: a smaller drop may go unflagged "
            "(`promptcheck plan` gives the samples needed)"
        )
    stopped = [
        r.name for r in report.rows if r.comparison.method == "anytime" and r.comparison.n_baseline
    ]
    if stopped:
        yield (
            f"adaptive sampling drew {_listing(stopped)} in one of the runs; their stopped counts "
            "are compared with anytime-valid bounds, which hold however sampling stopped but "
            "catch less than the exact test (docs/statistics.md)"
        )
    behind = [
        row.name for row in report.rows if row.comparison.n_baseline < row.comparison.n_candidate
    ]
    if behind:
        yield (
            f"the baseline has fewer scored samples than the candidate in {_listing(behind)}: a "
            "baseline is drawn once and reused, so it should have more, not fewer"
        )


def _listing(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    return shown + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")
