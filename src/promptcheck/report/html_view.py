"""The HTML report's view models: what the page shows, as plain data for its templates.

Every decision the page makes is taken here, in typed Python that tests can reach: which columns
and cases, in what order, which samples a cell shows, how numbers are written (as the other
reports write them) and where the marks of a bar fall. The templates in ``templates/`` only lay
this out as elements. Nothing here is markup: every string is plain text, which the templates'
autoescaping escapes, so no text taken from a run (a model's output above all) reaches the page
unescaped.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptcheck.comparison.engine import (
    CHANGE_ORDER,
    CaseRow,
    ComparisonReport,
    case_name,
    count_cases,
)
from promptcheck.config import NOTHING_SCORED
from promptcheck.report.comparison_text import difference_cell, percent, rate_cell
from promptcheck.stats import Change, Comparison

if TYPE_CHECKING:
    from promptcheck.results import CaseResult, SampleOutcome
    from promptcheck.store.database import RunSummary

__all__ = ["Limits", "PageView", "as_reports", "build_page", "column_runs"]

#: The changes the filter keeps: what a reviewer must look at.
ATTENTION = frozenset(c.value for c in (Change.REGRESSED, Change.IMPROVED, Change.INCONCLUSIVE))
_STATUS_ORDER = {"fail": 0, "error": 1, "unscored": 2, "pass": 3}
_MARKS = {"pass": "✓", "fail": "✗", "unscored": "?"}
_BAR_W = 160
_BAR_H = 16
_PAD = 4

Key = tuple[str, str]


# -- view models --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """How much of a case a cell shows: distinct outputs, and characters of one text."""

    samples: int
    chars: int


@dataclass(frozen=True, slots=True)
class RunView:
    """One run: a line of the header's list and the head of its grid column."""

    role: str
    id: str
    model: str
    label: str
    commit: str
    started: str
    finished: bool
    interrupted: bool


@dataclass(frozen=True, slots=True)
class SummaryView:
    """One comparison under the title: its headline, counts per change and settings."""

    candidate: str
    baseline: str
    headline: str
    compared: str
    counts: tuple[tuple[str, int], ...]
    margin: str
    tolerance: str
    alpha: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BarView:
    """An SVG bar: a track, an interval as a band, a tick (threshold or zero) and a point."""

    classes: str
    title: str
    tick: str
    #: The zero line goes behind the band; the threshold is drawn over it.
    tick_behind: bool
    track_start: float
    track_end: float
    band_x: float
    band_width: float
    tick_x: float
    point_x: float
    width: int = _BAR_W
    height: int = _BAR_H
    middle: float = _BAR_H / 2
    band_y: int = 3
    band_height: int = _BAR_H - 6
    tick_top: int = 1
    tick_bottom: int = _BAR_H - 1


@dataclass(frozen=True, slots=True)
class CheckMoveView:
    """How one check moved between baseline and candidate (``side``: found in one run only)."""

    where: str
    side: str
    passed: str
    direction: str


@dataclass(frozen=True, slots=True)
class PairwiseView:
    """The pairwise judge's line; ``examples`` become its tooltip."""

    outcome: str
    examples: str
    label: str
    judge: str
    description: str


@dataclass(frozen=True, slots=True)
class VersusView:
    """A candidate cell's change against its baseline, with the evidence."""

    change: str
    critical: bool
    difference: str
    p_adjusted: str
    bar: BarView
    checks: tuple[CheckMoveView, ...]
    pairwise: PairwiseView | None
    notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SampleCheckView:
    """One check's verdict on a shown sample."""

    status: str
    mark: str
    index: int
    label: str
    reason: str


@dataclass(frozen=True, slots=True)
class SampleView:
    """One distinct output, ``count`` times sampled; ``text`` is the error when none came."""

    status: str
    count: int
    index: int
    seed: int
    text: str
    error: bool
    checks: tuple[SampleCheckView, ...]
    prompt: str


@dataclass(frozen=True, slots=True)
class SamplesView:
    """A cell's shown outputs, open when the cell failed or regressed."""

    open: bool
    summary: str
    samples: tuple[SampleView, ...]


@dataclass(frozen=True, slots=True)
class CellView:
    """One case on one run: its rate, verdict, change (on a candidate) and samples."""

    outcome: str
    change: str
    rate: str
    bar: BarView | None
    threshold: str
    notes: str
    versus: VersusView | None
    samples: SamplesView | None


@dataclass(frozen=True, slots=True)
class RowView:
    """One case across the runs: its anchor, the filter's marks and a cell per run (None where
    the run lacks it); ``change`` is the row's worst change, or fail/undecided, or empty."""

    anchor: str
    name: str
    tags: tuple[str, ...]
    change: str
    attention: bool
    badges: tuple[str, ...]
    cells: tuple[CellView | None, ...]


@dataclass(frozen=True, slots=True)
class PageView:
    """The whole page: the runs as columns, the comparisons' summaries and the grid."""

    title: str
    comparing: bool
    runs: tuple[RunView, ...]
    summaries: tuple[SummaryView, ...]
    rows: tuple[RowView, ...]


# -- building -----------------------------------------------------------------------------------


def as_reports(
    report: ComparisonReport | Sequence[ComparisonReport] | None,
) -> tuple[ComparisonReport, ...]:
    """``report`` as a tuple: none, one, or several comparisons sharing a baseline."""
    if report is None:
        return ()
    if isinstance(report, ComparisonReport):
        return (report,)
    return tuple(report)


def column_runs(
    reports: Sequence[ComparisonReport], runs: Sequence[RunSummary]
) -> list[RunSummary]:
    """Baselines and candidates first, then the other runs, each once."""
    found: dict[str, RunSummary] = {}
    for each in reports:
        found.setdefault(each.baseline.id, each.baseline)
        found.setdefault(each.candidate.id, each.candidate)
    for run in runs:
        found.setdefault(run.id, run)
    return list(found.values())


def build_page(
    report: ComparisonReport | Sequence[ComparisonReport] | None,
    runs: Sequence[RunSummary],
    cases: Mapping[str, Sequence[CaseResult]],
    limits: Limits,
) -> PageView:
    """The page's view model; ``cases`` maps a run id to its case results."""
    reports = as_reports(report)
    columns = [
        _Column(run, {(c.suite_path, c.case_id): c for c in cases.get(run.id, ())})
        for run in column_runs(reports, runs)
    ]
    by_id = {column.run.id: column for column in columns}
    for each in reports:
        by_id[each.baseline.id].roles.add("baseline")
        candidate = by_id[each.candidate.id]
        candidate.roles.add("candidate")
        candidate.rows = {(row.suite_path, row.case_id): row for row in each.rows}
    comparing = bool(reports)
    scale = _difference_scale(row for c in columns for row in c.rows.values())
    anchors: set[str] = set()
    rows = []
    for key in _ordered_keys(columns, comparing):
        anchor = _anchor(key)
        while anchor in anchors:  # two names that differ only in replaced characters
            anchor += "_"
        anchors.add(anchor)
        rows.append(_row(columns, key, anchor, comparing, scale, limits))
    return PageView(
        title=f"promptcheck: {_headline(reports, columns)}",
        comparing=comparing,
        runs=tuple(_run(column) for column in columns),
        summaries=tuple(_summary(each) for each in reports),
        rows=tuple(rows),
    )


@dataclass
class _Column:
    """One run in the grid, with its comparison rows when it is a candidate."""

    run: RunSummary
    cases: dict[Key, CaseResult]
    roles: set[str] = field(default_factory=set)
    rows: dict[Key, CaseRow] = field(default_factory=dict)


def _ordered_keys(columns: Sequence[_Column], comparing: bool) -> list[Key]:
    """Every case of every run; in a comparison the worst change first, as in the other
    reports, else in suite order."""
    keys = sorted({key for column in columns for key in column.cases})
    if not comparing:
        return keys
    rank = {change.value: i for i, change in enumerate(CHANGE_ORDER)}

    def worst(key: Key) -> int:
        found = [rank[c.rows[key].change.value] for c in columns if key in c.rows]
        return min(found, default=len(rank))

    return sorted(keys, key=worst)


def _headline(reports: Sequence[ComparisonReport], columns: Sequence[_Column]) -> str:
    if len(reports) == 1:
        return reports[0].headline
    if reports:
        regressed = sum(len(each.by_change(Change.REGRESSED)) for each in reports)
        return f"{count_cases(regressed)} regressed" if regressed else "no regression"
    statuses = [case.status for column in columns for case in column.cases.values()]
    failed, errored = statuses.count("fail"), statuses.count(NOTHING_SCORED)
    said = [f"{count_cases(failed)} failed"] if failed else []
    if errored:
        said.append(f"{errored} {NOTHING_SCORED}")
    return ", ".join(said) or "no case failed"


def _run(column: _Column) -> RunView:
    run = column.run
    return RunView(
        role="/".join(sorted(column.roles)) or "run",
        id=run.id,
        model=run.model,
        label=run.label or "",
        commit=(run.git_commit or "")[:12],
        started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.started_at)),
        finished=run.finished_at is not None,
        interrupted=run.status == "interrupted",
    )


def _summary(report: ComparisonReport) -> SummaryView:
    counts = report.counts
    s = report.settings
    return SummaryView(
        candidate=report.candidate.model,
        baseline=report.baseline.model,
        headline=report.headline,
        compared=count_cases(counts["compared"]),
        counts=tuple((c.value, counts[c.value]) for c in CHANGE_ORDER),
        margin=f"{s.margin:g}",
        tolerance=f"{s.detect:g}",
        alpha=f"{s.alpha:g}",
        warnings=tuple(report.warnings),
    )


def _row(
    columns: Sequence[_Column],
    key: Key,
    anchor: str,
    comparing: bool,
    scale: float,
    limits: Limits,
) -> RowView:
    changes = [c.rows[key].change for c in columns if key in c.rows]
    if comparing:
        change = min(changes, key=CHANGE_ORDER.index).value if changes else "not-compared"
        attention = any(each.value in ATTENTION for each in changes)
    else:
        outcomes = {c.cases[key].status for c in columns if key in c.cases}
        change = next((o for o in ("fail", NOTHING_SCORED, "undecided") if o in outcomes), "")
        attention = bool(change)
    return RowView(
        anchor=anchor,
        name=case_name(*key),
        tags=tuple(sorted({tag for c in columns if key in c.cases for tag in c.cases[key].tags})),
        change=change,
        attention=attention,
        badges=tuple(each.value for each in changes),
        cells=tuple(_cell(column, key, scale, limits) for column in columns),
    )


def _cell(column: _Column, key: Key, scale: float, limits: Limits) -> CellView | None:
    case = column.cases.get(key)
    if case is None:
        return None
    verdict = case.verdict
    row = column.rows.get(key)
    regressed = row is not None and row.change == Change.REGRESSED
    return CellView(
        outcome=case.status,
        change=row.change.value if row is not None else "",
        rate=rate_cell(verdict.k, verdict.n, verdict.interval),
        bar=_rate_bar(verdict.k, verdict.n, verdict.interval, verdict.threshold),
        threshold=percent(verdict.threshold),
        notes=_counts_note(case),
        versus=_versus(row, scale, limits) if row is not None else None,
        samples=_samples(case, limits, open_=regressed or case.status in ("fail", NOTHING_SCORED)),
    )


def _counts_note(case: CaseResult) -> str:
    notes = [] if case.reason is None else [case.reason]
    if case.errors:
        notes.append(f"{case.errors} errored")
    unscored = case.count("unscored")
    if unscored:
        notes.append(f"{unscored} unscored")
    return ", ".join(notes)


def _versus(row: CaseRow, scale: float, limits: Limits) -> VersusView:
    checks = []
    for check in row.checks:
        where = f"[{check.index}] {check.label}"
        d = check.comparison
        if d is None:
            checks.append(CheckMoveView(where, check.side.value, "", ""))
            continue
        passed = (
            f"{percent(d.baseline_rate)} → {percent(d.candidate_rate)} "
            f"({d.k_baseline}/{d.n_baseline} → {d.k_candidate}/{d.n_candidate})"
        )
        checks.append(CheckMoveView(where, "", passed, check.direction))
    p = row.pairwise
    pairwise = (
        PairwiseView(
            outcome=p.outcome.value,
            examples=_clip(" | ".join(p.examples), limits.chars),
            label=p.tally.label,
            judge=repr(p.judge),
            description=p.describe(),
        )
        if p is not None
        else None
    )
    return VersusView(
        change=row.change.value,
        critical=row.verdict.critical,
        difference=difference_cell(row.comparison),
        p_adjusted=f"{row.p_adjusted:.2g}",
        bar=_difference_bar(row.comparison, scale),
        checks=tuple(checks),
        pairwise=pairwise,
        notes=tuple(row.notes),
    )


def _samples(case: CaseResult, limits: Limits, *, open_: bool) -> SamplesView | None:
    """A few distinct outputs, failing ones first, each with how often it came back."""
    if not case.samples:
        return None
    groups: dict[tuple[object, ...], list[SampleOutcome]] = {}
    for sample in case.samples:
        checks = tuple((c.index, c.label, c.status.value, c.reason) for c in sample.checks)
        key = (sample.status, sample.output, sample.error, checks)
        groups.setdefault(key, []).append(sample)
    ordered = sorted(groups.values(), key=lambda g: (_STATUS_ORDER[g[0].status], -len(g)))
    shown = ordered[: limits.samples]
    samples = f"{len(case.samples)} sample" + ("" if len(case.samples) == 1 else "s")
    distinct = f"{len(ordered)} distinct output" + ("" if len(ordered) == 1 else "s")
    if len(shown) < len(ordered):
        distinct = f"{len(shown)} of {distinct} shown"
    return SamplesView(
        open=open_,
        summary=f"{samples}: {distinct}",
        samples=tuple(_sample(group[0], len(group), limits.chars) for group in shown),
    )


def _sample(sample: SampleOutcome, count: int, chars: int) -> SampleView:
    text = (sample.error or "no output") if sample.output is None else sample.output
    return SampleView(
        status=sample.status,
        count=count,
        index=sample.index,
        seed=sample.seed,
        text=_clip(text, chars),
        error=sample.output is None,
        checks=tuple(
            SampleCheckView(
                status=c.status.value,
                mark=_MARKS[c.status.value],
                index=c.index,
                label=c.label,
                reason=_clip(c.reason, chars),
            )
            for c in sample.checks
        ),
        prompt=_clip(sample.prompt, chars),
    )


# -- bars ---------------------------------------------------------------------------------------


def _x(fraction: float) -> float:
    return round(_PAD + min(max(fraction, 0.0), 1.0) * (_BAR_W - 2 * _PAD), 1)


def _rate_bar(k: int, n: int, interval: tuple[float, float], threshold: float) -> BarView | None:
    """The rate as a dot on 0-100% with its interval as a band and the threshold as a tick."""
    if n == 0:
        return None
    low, high = interval
    return BarView(
        classes="bar",
        title=f"{percent(k / n)}, 95% interval {percent(low)}-{percent(high)}, "
        f"threshold {percent(threshold)}",
        tick="threshold",
        tick_behind=False,
        track_start=_x(0),
        track_end=_x(1),
        band_x=_x(low),
        band_width=round(_x(high) - _x(low), 1),
        tick_x=_x(threshold),
        point_x=_x(k / n),
    )


def _difference_scale(rows: Iterable[CaseRow]) -> float:
    """The half-width of the difference bars: the widest interval, rounded up to a step, so
    that a 5-point drop is visible and the bars of one page compare."""
    widest = max((abs(bound) for row in rows for bound in row.comparison.interval), default=0.0)
    return next(step for step in (0.1, 0.2, 0.5, 1.0) if widest <= step)


def _difference_bar(c: Comparison, scale: float) -> BarView:
    """The difference as a dot on ±``scale`` with its interval as a band and zero as a tick."""
    low, high = c.interval

    def x(value: float) -> float:
        return _x(0.5 + value / (2 * scale))

    return BarView(
        classes="bar diff",
        title=f"{difference_cell(c)}; the bar spans ±{100 * scale:g} pp",
        tick="zero",
        tick_behind=True,
        track_start=_x(0),
        track_end=_x(1),
        band_x=x(low),
        band_width=round(x(high) - x(low), 1),
        tick_x=x(0),
        point_x=x(c.difference),
    )


# -- text ---------------------------------------------------------------------------------------


def _clip(text: str, chars: int) -> str:
    if len(text) <= chars:
        return text
    return text[:chars] + f"… ({len(text) - chars} more characters)"


def _anchor(key: Key) -> str:
    """An element id for a case, so that a row can be linked to (``report.html#case-...``)."""
    return "case-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case_name(*key))
