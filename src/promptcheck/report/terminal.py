"""Text for people: a case's failure explanation and the per-suite summary table.

A failure reads like a good assertion message: the case, the model, the rate with its interval,
the decision's reason, the failing checks with counts, and a few failing outputs with why.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from promptcheck.config import NOTHING_SCORED
from promptcheck.report.escaping import printable
from promptcheck.results import (
    ADAPTIVE_KEY,
    CaseResult,
    JudgeFigures,
    SampleOutcome,
    ServedCount,
    combine,
)

if TYPE_CHECKING:
    from promptcheck.comparison.engine import CaseRow

MAX_EXAMPLES = 3
MAX_OUTPUT_CHARS = 300
#: Every word a case is called by, in the order reports count them.
OUTCOMES = ("pass", "fail", "undecided", NOTHING_SCORED)


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def rate_text(result: CaseResult) -> str:
    verdict = result.verdict
    low, high = verdict.interval
    if verdict.n == 0:
        return "no scored samples"
    return (
        f"{verdict.k}/{verdict.n} = {percent(verdict.rate)} (95% CI {percent(low)}-{percent(high)})"
    )


def explain(result: CaseResult) -> str:
    """The failure text of one case on one model (or the error text of one nothing could
    score: ERROR, and why, first)."""
    verdict = result.verdict
    errors = result.errors
    lines = [
        f"{result.suite}::{result.case_id} on model {result.model!r}: {result.status.upper()}",
        f"  conformance {rate_text(result)}, threshold {percent(verdict.threshold)}",
    ]
    if result.reason is not None:
        lines.append(f"  {result.reason}")
    elif verdict.n:
        lines.append(f"  {verdict.explanation}")
    usage = result.properties.get(ADAPTIVE_KEY)
    if usage:
        lines.append(f"  {usage_text(usage)}")
    if errors:
        first = next(s.error for s in result.samples if s.status == "error")
        lines.append(
            f"  {errors} sample(s) errored and were not scored, e.g.: {_clip(first or '', 200)}"
        )
    unscored = result.count("unscored")
    if unscored:
        lines.append(f"  {unscored} sample(s) could not be scored by a check")
    diagnostic = diagnostic_judges(result)
    failing = [t for t in result.tallies if t.failed or t.unscored]
    if failing:
        lines.append("  checks:")
        width = max(len(t.label) for t in failing)
        for tally in failing:
            scored = tally.passed + tally.failed + tally.unscored
            extra = f", {tally.unscored} unscored" if tally.unscored else ""
            if tally.index in diagnostic:
                extra += " (diagnostic only: not counted in the verdict)"
            lines.append(
                f"    [{tally.index}] {tally.label:<{width}}  failed {tally.failed}/{scored}{extra}"
            )
    for figures in result.judges:
        lines.append(f"  {judge_sentence(figures)}")
    for index, why in sorted(diagnostic.items()):
        lines.append(f"  check [{index}] does not gate: {why}")
    lines.extend(_failing_samples(result, "failing samples"))
    return printable("\n".join(lines))


def diagnostic_judges(result: CaseResult) -> dict[int, str]:
    """The case's judging checks set aside below the calibration floor (``promptcheck review``),
    by check index, with why; their verdicts are kept but do not count."""
    from promptcheck.run.judge_gates import DIAGNOSTIC_KEY

    found = {}
    for entry in result.properties.get(DIAGNOSTIC_KEY) or ():
        if isinstance(entry, dict) and type(entry.get("index")) is int:
            found[entry["index"]] = str(entry.get("why") or "below the calibration floor")
    return found


def explain_change(row: CaseRow, result: CaseResult) -> str:
    """The failure text of a case compared with its baseline: the change and why, the two
    rates, the checks that moved, then the candidate's failing samples."""
    from promptcheck.report.comparison_text import difference_cell, pairwise_lines, rate_cell

    c = row.comparison
    critical = " (critical)" if row.verdict.critical else ""
    lines = [
        f"{result.suite}::{result.case_id} on model {result.model!r}: "
        f"{row.change.value.upper()} against the baseline{critical}",
        f"  baseline  {rate_cell(c.k_baseline, c.n_baseline, c.baseline_interval)}",
        f"  candidate {rate_cell(c.k_candidate, c.n_candidate, c.candidate_interval)}",
        f"  difference {difference_cell(c)}, adjusted p = {row.p_adjusted:.2g}",
        f"  {row.verdict.explanation}",
    ]
    lines.extend(f"  note: {note}" for note in row.notes)
    for check in row.checks:
        if check.comparison is None:
            lines.append(f"  check [{check.index}] {check.label}: only in the {check.side.value}")
            continue
        moved = f" ({check.direction}, unadjusted)" if check.direction else ""
        cc = check.comparison
        lines.append(
            f"  check [{check.index}] {check.label}: passed {percent(cc.baseline_rate)} -> "
            f"{percent(cc.candidate_rate)}{moved}"
        )
    lines.extend(f"  {line}" for line in pairwise_lines(row))
    usage = result.properties.get(ADAPTIVE_KEY)
    if usage:
        lines.append(f"  {usage_text(usage)}")
    lines.extend(_failing_samples(result, "failing samples of the candidate"))
    return printable("\n".join(lines))


def usage_text(usage: dict[str, object]) -> str:
    """Adaptive sampling's spend in words (why it stopped is the verdict's explanation)."""
    return (
        f"adaptive: {usage['used']} of at most {usage['max']} samples drawn "
        f"({usage['saved']} saved)"
    )


def _failing_samples(result: CaseResult, heading: str) -> list[str]:
    """The first failing or unscored samples of a case, under ``heading``; nothing if none."""
    examples = [s for s in result.samples if s.status in ("fail", "unscored")][:MAX_EXAMPLES]
    if not examples:
        return []
    return [f"  {heading}:", *(line for sample in examples for line in _sample_lines(sample))]


def _sample_lines(sample: SampleOutcome) -> list[str]:
    variables = ", ".join(f"{k}={_clip(repr(v), 40)}" for k, v in sample.variables.items())
    head = f"    #{sample.index} seed={sample.seed}" + (f" ({variables})" if variables else "")
    lines = [head]
    for check in sample.checks:
        if check.status.value != "pass":
            reason = _clip(check.reason, 200).replace("\n", "\n        ")
            lines.append(f"      {check.label} {check.status.value}: {reason}")
    output = _clip(sample.output or "", MAX_OUTPUT_CHARS)
    lines.append("      output: " + output.replace("\n", "\n              "))
    return lines


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class SummaryRow:
    """One line of the summary table; built from results or from xdist reports' properties."""

    suite: str
    case_id: str
    model: str
    k: int
    n: int
    low: float
    high: float
    threshold: float
    #: What the case is called (:func:`promptcheck.results.case_status`): its verdict's
    #: outcome, or ``error`` when nothing could be scored ...
    outcome: str
    errors: int
    judges: tuple[JudgeFigures, ...] = ()
    used: int | None = None
    maximum: int | None = None
    served: tuple[ServedCount, ...] = ()
    #: ... and then why (``no sample was scored: ...``).
    reason: str | None = None


def row_of(result: CaseResult) -> SummaryRow:
    verdict = result.verdict
    return SummaryRow(
        result.suite,
        result.case_id,
        result.model,
        verdict.k,
        verdict.n,
        verdict.interval[0],
        verdict.interval[1],
        verdict.threshold,
        result.status,
        result.errors,
        result.judges,
        *_usage(result.properties.get(ADAPTIVE_KEY)),
        result.served,
        result.reason,
    )


def _usage(usage: object) -> tuple[int | None, int | None]:
    if not isinstance(usage, dict):
        return None, None
    return int(usage["used"]), int(usage["max"])


def row_from_properties(properties: dict[str, object]) -> tuple[SummaryRow | None, str | None]:
    """Rebuild a row from an item report's user properties (see collection.properties)."""
    if "promptcheck_verdict" not in properties:
        return None, None
    get = properties.get
    row = SummaryRow(
        suite=str(get("promptcheck_suite")),
        case_id=str(get("promptcheck_case")),
        model=str(get("promptcheck_model")),
        k=int(str(get("promptcheck_conforming"))),
        n=int(str(get("promptcheck_scored"))),
        low=float(str(get("promptcheck_ci_low"))),
        high=float(str(get("promptcheck_ci_high"))),
        threshold=float(str(get("promptcheck_threshold"))),
        outcome=str(get("promptcheck_verdict")),
        errors=int(str(get("promptcheck_errors"))),
        judges=tuple(
            JudgeFigures.from_dict(item)
            for item in json.loads(str(get("promptcheck_judges", "[]")))
        ),
        used=_int_or_none(get("promptcheck_samples_used")),
        maximum=_int_or_none(get("promptcheck_samples_max")),
        served=tuple(
            count
            for count in map(
                ServedCount.from_dict, json.loads(str(get("promptcheck_served", "[]")))
            )
            if count is not None
        ),
        reason=None if get("promptcheck_reason") is None else str(get("promptcheck_reason")),
    )
    return row, str(get("promptcheck_run"))


def drift_warnings(rows: Iterable[SummaryRow]) -> list[str]:
    """A re-run's warnings that a model name now serves another model than its cached samples
    were drawn from (:func:`promptcheck.comparison.drift.cache_drift`), from every item's row,
    so that an xdist controller sees its workers' samples too."""
    from promptcheck.comparison.drift import cache_drift

    served: dict[str, list[ServedCount]] = {}
    for row in rows:
        served.setdefault(row.model, []).extend(row.served)
    return cache_drift(served)


def _int_or_none(value: object) -> int | None:
    return None if value is None or value == "" else int(str(value))


def adaptive_spend(rows: Iterable[SummaryRow]) -> tuple[int, int] | None:
    """Samples drawn and the most that could have been, over the adaptively sampled rows;
    None when no row was sampled adaptively."""
    adaptive = [row for row in rows if row.used is not None and row.maximum is not None]
    if not adaptive:
        return None
    return sum(row.used or 0 for row in adaptive), sum(row.maximum or 0 for row in adaptive)


def summary_lines(rows: Iterable[SummaryRow]) -> list[str]:
    """The terminal summary: one table per suite and model."""
    groups: dict[tuple[str, str], list[SummaryRow]] = {}
    for row in rows:
        groups.setdefault((row.suite, row.model), []).append(row)
    lines: list[str] = []
    for (suite, model), group in sorted(groups.items()):
        lines.append(f"{suite} on {model}")
        lines.extend(_table(group))
        lines.extend(
            f"  {row.case_id} {NOTHING_SCORED.upper()}: {row.reason}"
            for row in sorted(group, key=lambda r: r.case_id)
            if row.outcome == NOTHING_SCORED and row.reason
        )
        lines.append(f"  {count_line(group)}")
        spent = adaptive_spend(group)
        if spent is not None:
            used, most = spent
            lines.append(
                f"  adaptive sampling: {used} of at most {most} samples drawn "
                f"({most - used} saved, {percent(1 - used / most) if most else '-'})"
            )
        if any(row.judges for row in group):
            lines.extend(_judge_table(group))
        lines.append("")
    by_model: dict[str, list[JudgeFigures]] = {}
    for (_, model), group in sorted(groups.items()):
        by_model.setdefault(model, []).extend(f for row in group for f in row.judges)
    for model, figures in by_model.items():
        if figures:
            total = combine(figures)
            lines.append(f"judges on {model}, all suites: {judge_sentence(total)}")
    return [printable(line) for line in lines]


def count_line(rows: Sequence[SummaryRow]) -> str:
    """``3 pass, 1 fail, 0 undecided``, and ``, 1 error`` when a case could not be scored."""
    counts = {o: sum(1 for r in rows if r.outcome == o) for o in OUTCOMES}
    line = f"{counts['pass']} pass, {counts['fail']} fail, {counts['undecided']} undecided"
    if counts[NOTHING_SCORED]:
        line += f", {counts[NOTHING_SCORED]} {NOTHING_SCORED}"
    return line


def judge_sentence(figures: JudgeFigures) -> str:
    """One judging check's figures in words, for failures and the summary's last lines."""
    who = f"[{figures.index}] {figures.label}" if figures.index >= 0 else "judges"
    parts = []
    if figures.pairs is not None:
        parts.append(
            f"agrees with the format checks on {_ratio(figures.agreed, figures.compared)}"
            f" (judge PASS/checks FAIL {figures.judge_pass_checks_fail}, "
            f"judge FAIL/checks PASS {figures.judge_fail_checks_pass})"
        )
    if figures.votes > 1:
        parts.append(f"unanimous on {_ratio(figures.unanimous, figures.voted)}")
    if figures.judge_unscored:
        parts.append(f"{figures.judge_unscored} unreadable")
    if figures.revised is not None:
        parts.append(_revised(figures))
    return f"{who}: " + ("; ".join(parts) or "not paired with a format check")


def _ratio(k: int, n: int) -> str:
    return f"{k}/{n} = {percent(k / n)}" if n else "-"


def _revised(figures: JudgeFigures) -> str:
    n = figures.revised or 0
    return (
        f"revised outputs conform {_ratio(figures.revised_conforming, n)}"
        f" (originals {figures.original_conforming}/{n})"
    )


def _judge_table(rows: Sequence[SummaryRow]) -> list[str]:
    """Per judging check: agreement with its format checks (confusion matrix: judge/checks),
    unanimity across votes, unreadable answers and the revised outputs' conformance."""
    header: tuple[str, ...] = ("case", "check", "agreement", "P/P", "P/F", "F/P", "F/F")
    header += ("unread", "unanimous", "revised")
    body = []
    figures_all = []
    for row in sorted(rows, key=lambda r: r.case_id):
        for figures in row.judges:
            figures_all.append(figures)
            body.append(_judge_cells(row.case_id, figures))
    if len(figures_all) > 1:
        body.append(_judge_cells("all", combine(figures_all)))
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    lines = ["  judges (P/F: judge PASS, format checks FAIL; agreement = P/P + F/F)"]
    for line in (header, *body):
        cells = (cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def _judge_cells(case_id: str, figures: JudgeFigures) -> tuple[str, ...]:
    paired = figures.pairs is not None
    matrix = (
        figures.both_pass,
        figures.judge_pass_checks_fail,
        figures.judge_fail_checks_pass,
        figures.both_fail,
    )
    cells = tuple(str(count) if paired else "-" for count in matrix)
    check = f"[{figures.index}] {figures.label}:{figures.judge}" if figures.index >= 0 else ""
    return (
        case_id,
        check,
        _ratio(figures.agreed, figures.compared) if paired else "-",
        *cells,
        str(figures.judge_unscored),
        _ratio(figures.unanimous, figures.voted) if figures.votes > 1 else "-",
        _revised_cell(figures),
    )


def _revised_cell(figures: JudgeFigures) -> str:
    if figures.revised is None:
        return "-"
    n = figures.revised
    return f"{_ratio(figures.revised_conforming, n)} (was {figures.original_conforming}/{n})"


def _table(rows: Sequence[SummaryRow]) -> list[str]:
    header: tuple[str, ...] = ("case", "conforming", "rate", "95% CI", "threshold", "verdict")
    adaptive = any(row.used is not None for row in rows)
    header += ("samples used", "errors") if adaptive else ("errors",)
    body = [
        (
            row.case_id,
            f"{row.k}/{row.n}",
            percent(row.k / row.n) if row.n else "-",
            f"{percent(row.low)}-{percent(row.high)}",
            percent(row.threshold),
            row.outcome.upper(),
            *((_used_cell(row),) if adaptive else ()),
            str(row.errors) if row.errors else "",
        )
        for row in sorted(rows, key=lambda r: r.case_id)
    ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    return [
        "  "
        + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in (header, *body)
    ]


def _used_cell(row: SummaryRow) -> str:
    if row.used is None or row.maximum is None:
        return "-"
    return f"{row.used}/{row.maximum}"
