"""The HTML report: every case on every run side by side, in one file a reviewer opens offline.

The file holds its CSS and script inline and names no URL outside itself, so it survives being
uploaded as a CI artifact and opened from a download folder. Model outputs are untrusted text:
everything taken from a run is escaped, and a Content-Security-Policy lets only the page's own
script run, so an output holding ``<script>`` shows as text even if an escape were missed.

A comparison (one or more :class:`ComparisonReport` sharing a baseline) marks each candidate's
cells with the change against its baseline; without one, the grid shows each run's threshold
verdicts. Either way the filter keeps only the rows that need attention (a change, or a verdict
other than pass), and a cell shows a few distinct sampled outputs, failing ones first, with the
checks that failed on them.
"""

from __future__ import annotations

import base64
import hashlib
import html
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck.comparison.engine import (
    CHANGE_ORDER,
    CaseRow,
    ComparisonReport,
    case_name,
    count_cases,
)
from promptcheck.report.comparison_text import difference_cell, percent, rate_cell
from promptcheck.report.output import write_report_file
from promptcheck.stats import Change, Comparison

if TYPE_CHECKING:
    from promptcheck.results import CaseResult, SampleOutcome
    from promptcheck.store.database import RunSummary, Store

__all__ = ["MAX_OUTPUT_CHARS", "MAX_SAMPLES", "render", "write_html"]

#: Distinct outputs shown per cell (failing first): enough to see how a case fails, while a
#: 500-case suite still makes a file a browser opens at once.
MAX_SAMPLES = 4
#: Characters of one output or prompt shown before it is cut.
MAX_OUTPUT_CHARS = 2_000
#: The changes the filter keeps: what a reviewer must look at.
ATTENTION = frozenset(c.value for c in (Change.REGRESSED, Change.IMPROVED, Change.INCONCLUSIVE))
_STATUS_ORDER = {"fail": 0, "error": 1, "unscored": 2, "pass": 3}
_MARKS = {"pass": "✓", "fail": "✗", "unscored": "?"}

Key = tuple[str, str]


def write_html(
    path: Path,
    report: ComparisonReport | Sequence[ComparisonReport] | None,
    runs: Sequence[RunSummary],
    store: Store,
) -> None:
    """Write the report of ``runs`` (and of the comparison(s) ``report``) to ``path``.

    The comparison's baseline and candidate come first whether or not ``runs`` names them;
    ``runs`` adds columns (other models of the session) and is the whole grid without a
    comparison. Samples are read from ``store``. A file that cannot be written raises
    :class:`PromptcheckError`, which the command line and the plugin report as one line.
    """
    reports = _as_reports(report)
    columns = _column_runs(reports, runs)
    cases = {run.id: store.case_results(run.id) for run in columns}
    write_report_file("HTML report", path, render(reports, columns, cases))


def render(
    report: ComparisonReport | Sequence[ComparisonReport] | None,
    runs: Sequence[RunSummary],
    cases: Mapping[str, Sequence[CaseResult]],
) -> str:
    """The page as text; ``cases`` maps a run id to its case results (store-free, for tests)."""
    reports = _as_reports(report)
    columns = [
        _Column(run, {(c.suite_path, c.case_id): c for c in cases.get(run.id, ())})
        for run in _column_runs(reports, runs)
    ]
    by_id = {column.run.id: column for column in columns}
    for each in reports:
        by_id[each.baseline.id].roles.add("baseline")
        candidate = by_id[each.candidate.id]
        candidate.roles.add("candidate")
        candidate.rows = {(row.suite_path, row.case_id): row for row in each.rows}
    keys = _ordered_keys(columns, bool(reports))
    script = _SCRIPT.strip()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'"
    )
    title = f"promptcheck: {_headline(reports, columns)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        f'<body class="{"comparison" if reports else "runs"}">',
        f"<header><h1>{_e(title)}</h1>",
        *_runs_section(columns),
        *(line for each in reports for line in _report_section(each)),
        "</header>",
        *_toolbar(bool(reports), len(keys)),
        *_grid(columns, keys, bool(reports)),
        f"<script>{script}</script>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


@dataclass
class _Column:
    """One run in the grid, with its comparison rows when it is a candidate."""

    run: RunSummary
    cases: dict[Key, CaseResult]
    roles: set[str] = field(default_factory=set)
    rows: dict[Key, CaseRow] = field(default_factory=dict)


def _as_reports(
    report: ComparisonReport | Sequence[ComparisonReport] | None,
) -> tuple[ComparisonReport, ...]:
    if report is None:
        return ()
    if isinstance(report, ComparisonReport):
        return (report,)
    return tuple(report)


def _column_runs(
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
    failed = sum(
        1
        for column in columns
        for case in column.cases.values()
        if case.verdict.outcome.value == "fail"
    )
    return f"{count_cases(failed)} failed" if failed else "no case failed"


# -- header -------------------------------------------------------------------------------------


def _runs_section(columns: Sequence[_Column]) -> Iterable[str]:
    yield '<ul class="runs">'
    for column in columns:
        run = column.run
        role = "/".join(sorted(column.roles)) or "run"
        details = [f"model <b>{_e(run.model)}</b>"]
        if run.label:
            details.append(f"label <code>{_e(run.label)}</code>")
        if run.git_commit:
            details.append(f"commit <code>{_e(run.git_commit[:12])}</code>")
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.started_at))
        details.append(f"started {started}")
        if run.finished_at is None:
            details.append('<span class="warn">never finished</span>')
        yield (
            f'<li><span class="role">{_e(role)}</span> <code>{_e(run.id)}</code> '
            f"({', '.join(details)})</li>"
        )
    yield "</ul>"


def _report_section(report: ComparisonReport) -> Iterable[str]:
    counts = report.counts
    s = report.settings
    summary = ", ".join(
        f'<span class="badge change-{c.value}">{counts[c.value]} {c.value}</span>'
        for c in CHANGE_ORDER
    )
    yield (
        f'<p class="summary"><b>{_e(report.candidate.model)}</b> against '
        f"<b>{_e(report.baseline.model)}</b>: {_e(report.headline)}. "
        f"{count_cases(counts['compared'])} compared: {summary}.</p>"
    )
    yield (
        f'<p class="settings">Margin {s.margin:g}, tolerance {s.tolerance:g}; false alarms held '
        f"at {s.alpha:g} across the suite (Holm for <code>critical</code> cases, "
        "Benjamini-Hochberg for the rest). Rates are conforming / scored samples with 95% "
        "Clopper-Pearson intervals; differences carry Newcombe's 95% interval.</p>"
    )
    if report.warnings:
        yield '<ul class="warnings">'
        yield from (f"<li>{_e(warning)}</li>" for warning in report.warnings)
        yield "</ul>"


def _toolbar(comparing: bool, total: int) -> Iterable[str]:
    label = (
        "Only changed cases (regressed, improved, inconclusive)"
        if comparing
        else "Only cases that did not pass (failed, undecided)"
    )
    yield '<div class="toolbar">'
    yield f'<label><input type="checkbox" id="only-changed"> {label}</label>'
    yield f'<span id="shown" aria-live="polite">{total} of {total} cases shown</span>'
    yield "</div>"


# -- grid ---------------------------------------------------------------------------------------


def _grid(columns: Sequence[_Column], keys: Sequence[Key], comparing: bool) -> Iterable[str]:
    yield '<table class="grid">'
    yield "<thead><tr><th>case</th>"
    if comparing:
        yield "<th>change</th>"
    for column in columns:
        role = "/".join(sorted(column.roles)) or "run"
        yield (
            f'<th><span class="role">{_e(role)}</span><br><b>{_e(column.run.model)}</b><br>'
            f"<code>{_e(column.run.id)}</code></th>"
        )
    yield "</tr></thead>"
    yield "<tbody>"
    scale = _difference_scale(row for c in columns for row in c.rows.values())
    anchors: set[str] = set()
    for key in keys:
        anchor = _anchor(key)
        while anchor in anchors:  # two names that differ only in replaced characters
            anchor += "_"
        anchors.add(anchor)
        yield from _grid_row(columns, key, anchor, comparing, scale)
    yield "</tbody></table>"


def _grid_row(
    columns: Sequence[_Column], key: Key, anchor: str, comparing: bool, scale: float
) -> Iterable[str]:
    changes = [c.rows[key].change for c in columns if key in c.rows]
    if comparing:
        change = min(changes, key=CHANGE_ORDER.index).value if changes else "not-compared"
        attention = any(each.value in ATTENTION for each in changes)
    else:
        outcomes = {c.cases[key].verdict.outcome.value for c in columns if key in c.cases}
        change = "fail" if "fail" in outcomes else "undecided" if "undecided" in outcomes else ""
        attention = bool(change)
    cases = [c.cases[key] for c in columns if key in c.cases]
    tags = sorted({tag for case in cases for tag in case.tags})
    classes = f"case change-{change}" if change else "case"
    yield (
        f'<tr class="{classes}" data-change="{change or "pass"}" '
        f'data-attention="{int(attention)}" id="{_e(anchor)}">'
    )
    name = _e(case_name(*key))
    tag_html = "".join(f' <span class="tag">{_e(tag)}</span>' for tag in tags)
    yield f'<th scope="row" class="name"><a href="#{_e(anchor)}">{name}</a>{tag_html}</th>'
    if comparing:
        badges = [
            f'<span class="badge change-{c.rows[key].change.value}">'
            f"{c.rows[key].change.value}</span>"
            for c in columns
            if key in c.rows
        ]
        yield f'<td class="change">{" ".join(badges) or "not compared"}</td>'
    for column in columns:
        yield _cell(column, key, scale)
    yield "</tr>"


def _cell(column: _Column, key: Key, scale: float) -> str:
    case = column.cases.get(key)
    if case is None:
        return '<td class="cell absent">not in this run</td>'
    verdict = case.verdict
    row = column.rows.get(key)
    classes = ["cell", f"outcome-{verdict.outcome.value}"]
    if row is not None:
        classes.append(f"change-{row.change.value}")
    parts = [
        f'<td class="{" ".join(classes)}">',
        f'<div class="rate">{_e(rate_cell(verdict.k, verdict.n, verdict.interval))}</div>',
        _rate_bar(verdict.k, verdict.n, verdict.interval, verdict.threshold),
        f'<div class="verdict"><span class="badge outcome-{verdict.outcome.value}">'
        f"{verdict.outcome.value}</span> threshold {percent(verdict.threshold)}"
        + _counts_note(case)
        + "</div>",
    ]
    if row is not None:
        parts.append(_change_block(row, scale))
    regressed = row is not None and row.change == Change.REGRESSED
    parts.append(_samples(case, open_=regressed or verdict.outcome.value == "fail"))
    parts.append("</td>")
    return "".join(parts)


def _counts_note(case: CaseResult) -> str:
    notes = []
    if case.errors:
        notes.append(f"{case.errors} errored")
    unscored = case.count("unscored")
    if unscored:
        notes.append(f"{unscored} unscored")
    return f' <span class="note">({", ".join(notes)})</span>' if notes else ""


def _change_block(row: CaseRow, scale: float) -> str:
    c = row.comparison
    critical = ' <span class="tag">critical</span>' if row.verdict.critical else ""
    lines = [
        f'<div class="versus"><span class="badge change-{row.change.value}">'
        f"{row.change.value}</span>{critical} {_e(difference_cell(c))}, adj. p "
        f"{row.p_adjusted:.2g}</div>",
        _difference_bar(c, scale),
    ]
    moved = []
    for check in row.checks:
        where = f"[{check.index}] {check.label}"
        if check.comparison is None:
            moved.append(f"<li>{_e(where)}: only in the {check.side.value} run</li>")
            continue
        d = check.comparison
        direction = f" <b>{check.direction}</b>" if check.direction else ""
        moved.append(
            f'<li class="moved-{check.direction or "no"}">{_e(where)}: passed '
            f"{percent(d.baseline_rate)} → {percent(d.candidate_rate)} "
            f"({d.k_baseline}/{d.n_baseline} → {d.k_candidate}/{d.n_candidate}){direction}</li>"
        )
    pairwise = row.pairwise
    if pairwise is not None:
        moved.append(
            f'<li class="pairwise pairwise-{pairwise.outcome.value}" title="'
            f'{_e(_clip(" | ".join(pairwise.examples)))}">{_e(pairwise.tally.label)} (judge '
            f"{_e(repr(pairwise.judge))}): {_e(pairwise.describe())}</li>"
        )
    if moved:
        lines.append(
            '<ul class="diagnosis" title="per check, p-values not adjusted: diagnosis only">'
            + "".join(moved)
            + "</ul>"
        )
    lines.extend(f'<div class="note">{_e(note)}</div>' for note in row.notes)
    return "".join(lines)


def _samples(case: CaseResult, *, open_: bool) -> str:
    """A few distinct outputs, failing ones first, each with how often it came back."""
    if not case.samples:
        return ""
    groups: dict[tuple[object, ...], list[SampleOutcome]] = {}
    for sample in case.samples:
        checks = tuple((c.index, c.label, c.status.value, c.reason) for c in sample.checks)
        key = (sample.status, sample.output, sample.error, checks)
        groups.setdefault(key, []).append(sample)
    ordered = sorted(groups.values(), key=lambda g: (_STATUS_ORDER[g[0].status], -len(g)))
    shown = ordered[:MAX_SAMPLES]
    samples = f"{len(case.samples)} sample" + ("" if len(case.samples) == 1 else "s")
    distinct = f"{len(ordered)} distinct output" + ("" if len(ordered) == 1 else "s")
    if len(shown) < len(ordered):
        distinct = f"{len(shown)} of {distinct} shown"
    summary = f"{samples}: {distinct}"
    body = "".join(_sample(group[0], len(group)) for group in shown)
    return (
        f'<details class="samples"{" open" if open_ else ""}><summary>{summary}</summary>'
        f"{body}</details>"
    )


def _sample(sample: SampleOutcome, count: int) -> str:
    status = sample.status
    times = f" ×{count}" if count > 1 else ""
    head = (
        f'<div class="sample-head"><span class="badge sample-{status}">{status}</span>{times} '
        f'<span class="note">sample {sample.index}, seed {sample.seed}</span></div>'
    )
    if sample.output is None:
        text = f'<pre class="output error">{_e(_clip(sample.error or "no output"))}</pre>'
    else:
        text = f'<pre class="output">{_e(_clip(sample.output))}</pre>'
    checks = "".join(
        f'<li class="check check-{c.status.value}">{_MARKS[c.status.value]} '
        f"[{c.index}] {_e(c.label)}{': ' + _e(_clip(c.reason)) if c.reason else ''}</li>"
        for c in sample.checks
    )
    prompt = (
        f'<details class="prompt"><summary>prompt</summary><pre>{_e(_clip(sample.prompt))}</pre>'
        "</details>"
    )
    checks_html = f'<ul class="checks">{checks}</ul>' if checks else ""
    return f'<div class="sample sample-{status}">{head}{text}{checks_html}{prompt}</div>'


# -- bars ---------------------------------------------------------------------------------------

_BAR_W = 160
_BAR_H = 16
_PAD = 4


def _x(fraction: float) -> float:
    return round(_PAD + min(max(fraction, 0.0), 1.0) * (_BAR_W - 2 * _PAD), 1)


def _rate_bar(k: int, n: int, interval: tuple[float, float], threshold: float) -> str:
    """The rate as a dot on 0-100% with its interval as a band and the threshold as a tick."""
    if n == 0:
        return ""
    low, high = interval
    mid = _BAR_H / 2
    title = f"{percent(k / n)}, 95% interval {percent(low)}-{percent(high)}"
    title += f", threshold {percent(threshold)}"
    return (
        f'<svg class="bar" width="{_BAR_W}" height="{_BAR_H}" role="img">'
        f"<title>{title}</title>"
        f'<line class="track" x1="{_x(0)}" x2="{_x(1)}" y1="{mid}" y2="{mid}"/>'
        f'<rect class="ci" x="{_x(low)}" y="3" width="{round(_x(high) - _x(low), 1)}" '
        f'height="{_BAR_H - 6}" rx="2"/>'
        f'<line class="threshold" x1="{_x(threshold)}" x2="{_x(threshold)}" y1="1" '
        f'y2="{_BAR_H - 1}"/>'
        f'<circle class="point" cx="{_x(k / n)}" cy="{mid}" r="3"/></svg>'
    )


def _difference_scale(rows: Iterable[CaseRow]) -> float:
    """The half-width of the difference bars: the widest interval, rounded up to a step, so
    that a 5-point drop is visible and the bars of one page compare."""
    widest = max((abs(bound) for row in rows for bound in row.comparison.interval), default=0.0)
    return next(step for step in (0.1, 0.2, 0.5, 1.0) if widest <= step)


def _difference_bar(c: Comparison, scale: float) -> str:
    low, high = c.interval

    def x(value: float) -> float:
        return _x(0.5 + value / (2 * scale))

    mid = _BAR_H / 2
    title = f"{difference_cell(c)}; the bar spans ±{100 * scale:g} pp"
    return (
        f'<svg class="bar diff" width="{_BAR_W}" height="{_BAR_H}" role="img">'
        f"<title>{_e(title)}</title>"
        f'<line class="track" x1="{_x(0)}" x2="{_x(1)}" y1="{mid}" y2="{mid}"/>'
        f'<line class="zero" x1="{x(0)}" x2="{x(0)}" y1="1" y2="{_BAR_H - 1}"/>'
        f'<rect class="ci" x="{x(low)}" y="3" width="{round(x(high) - x(low), 1)}" '
        f'height="{_BAR_H - 6}" rx="2"/>'
        f'<circle class="point" cx="{x(c.difference)}" cy="{mid}" r="3"/></svg>'
    )


# -- text ---------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _clip(text: str) -> str:
    if len(text) <= MAX_OUTPUT_CHARS:
        return text
    return text[:MAX_OUTPUT_CHARS] + f"… ({len(text) - MAX_OUTPUT_CHARS} more characters)"


def _anchor(key: Key) -> str:
    """An element id for a case, so that a row can be linked to (``report.html#case-...``)."""
    return "case-" + "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case_name(*key))


_SCRIPT = """
(function () {
  "use strict";
  var box = document.getElementById("only-changed");
  var shown = document.getElementById("shown");
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.case"));
  function apply() {
    var visible = 0;
    rows.forEach(function (row) {
      var hide = box.checked && row.getAttribute("data-attention") !== "1";
      row.hidden = hide;
      if (!hide) { visible += 1; }
    });
    shown.textContent = visible + " of " + rows.length + " cases shown";
  }
  box.addEventListener("change", apply);
  apply();
})();
"""

_CSS = """
:root { --red: #c62828; --red-bg: #fdecea; --green: #2e7d32; --green-bg: #e8f5e9;
  --amber: #8d6e00; --amber-bg: #fff8e1; --grey: #616161; --line: #ddd; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .5em; }
code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
ul.runs, ul.warnings { margin: .3em 0; padding-left: 1.2em; }
ul.warnings li { color: var(--amber); }
.role { text-transform: uppercase; font-size: 11px; letter-spacing: .05em; color: var(--grey); }
.settings, .note { color: var(--grey); font-size: 12px; }
.warn { color: var(--amber); }
.toolbar { position: sticky; top: 0; background: #fff; padding: .5em 0; z-index: 1;
  border-bottom: 1px solid var(--line); display: flex; gap: 2em; align-items: center; }
table.grid { border-collapse: collapse; margin-top: .5em; }
.grid th, .grid td { border: 1px solid var(--line); padding: .4em .6em; vertical-align: top;
  text-align: left; }
.grid thead th { background: #f5f5f5; }
.grid th.name { font-weight: normal; font-family: ui-monospace, monospace; font-size: 12px;
  max-width: 22em; word-break: break-all; }
.grid th.name a { color: inherit; text-decoration: none; }
td.cell { min-width: 18em; max-width: 34em; }
td.absent { color: var(--grey); font-style: italic; }
tr.change-regressed > th, tr.change-fail > th { background: var(--red-bg);
  box-shadow: inset 4px 0 0 var(--red); }
td.change-regressed { background: var(--red-bg); }
td.change-improved { background: var(--green-bg); }
td.change-inconclusive { background: var(--amber-bg); }
.badge { display: inline-block; padding: 0 .45em; border-radius: 3px; font-size: 12px;
  font-weight: 600; background: #eee; color: #333; }
.change-regressed .badge.change-regressed, .badge.change-regressed, .badge.outcome-fail,
.badge.sample-fail { background: var(--red); color: #fff; }
.badge.change-improved, .badge.outcome-pass, .badge.sample-pass { background: var(--green);
  color: #fff; }
.badge.change-inconclusive, .badge.outcome-undecided, .badge.sample-unscored,
.badge.sample-error { background: var(--amber); color: #fff; }
.rate { font-variant-numeric: tabular-nums; }
svg.bar { display: block; margin: .2em 0; }
svg.bar .track { stroke: #ccc; stroke-width: 2; }
svg.bar .ci { fill: #90caf9; }
svg.bar .point { fill: #0d47a1; }
svg.bar .threshold, svg.bar .zero { stroke: #444; stroke-width: 1.5; }
.change-regressed svg.diff .ci { fill: #ef9a9a; }
.change-regressed svg.diff .point { fill: var(--red); }
.change-improved svg.diff .ci { fill: #a5d6a7; }
.versus { margin-top: .4em; border-top: 1px dashed var(--line); padding-top: .3em; }
ul.diagnosis, ul.checks { margin: .2em 0; padding-left: 1.1em; font-size: 12px; }
.moved-dropped, .pairwise-fail { color: var(--red); }
details.samples { margin-top: .4em; }
details.samples > summary { cursor: pointer; color: var(--grey); font-size: 12px; }
.sample { border-left: 3px solid var(--line); margin: .4em 0; padding-left: .5em; }
.sample-fail { border-left-color: var(--red); }
.sample-error, .sample-unscored { border-left-color: var(--amber); }
pre.output, details.prompt pre { white-space: pre-wrap; word-break: break-word; margin: .2em 0;
  background: #fafafa; padding: .3em; max-height: 14em; overflow: auto; }
pre.output.error { color: var(--amber); }
li.check-fail { color: var(--red); font-weight: 600; }
li.check-pass { color: var(--green); }
li.check-unscored { color: var(--amber); }
details.prompt > summary { cursor: pointer; color: var(--grey); font-size: 11px; }
.tag { font-size: 11px; border: 1px solid var(--line); border-radius: 3px; padding: 0 .3em;
  color: var(--grey); font-family: system-ui, sans-serif; }
"""
