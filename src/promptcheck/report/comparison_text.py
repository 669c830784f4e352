"""A comparison report as terminal text: one table of every case, worst news first.

The cells (``rate_cell``, ``difference_cell``) are shared by the Markdown and HTML reports and the
terminal summary of a live comparison, so every report writes a rate the same way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from promptcheck.comparison.engine import CHANGE_ORDER, CaseRow, ComparisonReport, count_cases
from promptcheck.report.escaping import printable
from promptcheck.stats import Change, Comparison

if TYPE_CHECKING:
    from promptcheck.store.database import RunSummary


def rate_cell(k: int, n: int, interval: tuple[float, float]) -> str:
    """``k/n = rate [low-high]`` with percentages: the form every report shares."""
    if n == 0:
        return "no scored samples"
    low, high = interval
    return f"{k}/{n} = {percent(k / n)} [{percent(low)}-{percent(high)}]"


def difference_cell(comparison: Comparison) -> str:
    """The difference in percentage points with Newcombe's interval."""
    low, high = comparison.interval
    return f"{100 * comparison.difference:+.1f} pp [{100 * low:+.1f}, {100 * high:+.1f}]"


def percent(value: float) -> str:
    """A rate as a percentage with one decimal, as the terminal summary writes it."""
    return f"{100 * value:.1f}%"


def run_line(role: str, run: RunSummary) -> str:
    label = f", label {run.label}" if run.label else ""
    commit = f", commit {run.git_commit[:12]}" if run.git_commit else ""
    return f"{role} {run.id} (model {run.model}{label}{commit})"


def settings_line(report: ComparisonReport) -> str:
    """The knobs of the comparison in one line."""
    s = report.settings
    return (
        f"margin {s.margin:g}, detect drops of {s.detect:g} (power {s.power:g}), alpha "
        f"{s.alpha:g} against false regressions and beta {s.beta:g} against false 'unchanged' "
        "across the suite"
    )


def strength_lines(report: ComparisonReport) -> list[str]:
    """The settings, what the baseline is worth, and what the budget buys (planned or not)."""
    lines = [settings_line(report)]
    strength = report.strength
    if strength is not None:
        lines.append(f"baseline strength: {strength.describe()}")
    if report.budget is not None:
        lines.extend(report.budget.lines())
    elif report.detectable is not None:
        lines.append(
            f"these samples detect drops of {report.detectable:.2f} or more with power "
            f"{report.settings.power:g} (the weakest case)"
        )
    return lines


def text_lines(report: ComparisonReport) -> list[str]:
    """The comparison for a terminal: a table of every case, worst news first."""
    lines = [
        run_line("baseline ", report.baseline),
        run_line("candidate", report.candidate),
        *strength_lines(report),
        "",
    ]
    header = ("case", "change", "baseline", "candidate", "difference", "adj. p")
    body: list[tuple[str, ...]] = []
    details: dict[int, list[str]] = {}
    for change in CHANGE_ORDER:
        for row in report.by_change(change):
            c = row.comparison
            body.append(
                (
                    row.name + (" (critical)" if row.verdict.critical else ""),
                    change.value.upper(),
                    rate_cell(c.k_baseline, c.n_baseline, c.baseline_interval),
                    rate_cell(c.k_candidate, c.n_candidate, c.candidate_interval),
                    difference_cell(c),
                    f"{row.p_adjusted:.2g}",
                )
            )
            details[len(body)] = [
                *(_check_lines(row) if change != Change.UNCHANGED else []),
                *pairwise_lines(row),
            ]
    widths = [max(len(cell) for cell in column) for column in zip(header, *body, strict=True)]
    for i, cells in enumerate((header, *body)):
        padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
        lines.append("  " + "  ".join(padded).rstrip())
        lines.extend(f"      {detail}" for detail in details.get(i, ()))
    counts = report.counts
    lines.append("")
    lines.append(
        f"{count_cases(counts['compared'])} compared: "
        + ", ".join(f"{counts[change.value]} {change.value}" for change in CHANGE_ORDER)
    )
    pairwise = report.pairwise_counts
    if pairwise:
        lines.append(
            f"pairwise judge {_pairwise_judge(report)!r} (diagnosis; does not change the verdicts):"
            f" {count_cases(sum(pairwise.values()))} judged: "
            + ", ".join(f"{count} {name}" for name, count in pairwise.items())
        )
    for title, names in (
        ("only in the baseline", report.only_in_baseline),
        ("only in the candidate", report.only_in_candidate),
    ):
        if names:
            lines.append(f"{title} (not compared): {', '.join(names)}")
    lines.extend(f"warning: {warning}" for warning in report.warnings)
    lines.append(f"verdict: {report.headline}")
    return [printable(line) for line in lines]


def _pairwise_judge(report: ComparisonReport) -> str:
    return next(row.pairwise.judge for row in report.rows if row.pairwise is not None)


#: Characters of a pairwise example's reason shown in the terminal.
_EXAMPLE_CHARS = 160


def pairwise_lines(row: CaseRow) -> list[str]:
    """The pairwise check's line, and an example of a pair the baseline won when it failed."""
    check = row.pairwise
    if check is None:
        return []
    lines = [f"check {check.tally.label} (judge {check.judge!r}): {check.describe()}"]
    if check.outcome.value != "pass":
        for example in check.examples[:1]:
            flat = " ".join(example.split())
            if len(flat) > _EXAMPLE_CHARS:
                flat = flat[: _EXAMPLE_CHARS - 3] + "..."
            lines.append(f"  e.g. {flat}")
    return lines


def _check_lines(row: CaseRow) -> list[str]:
    lines = []
    for check in row.checks:
        where = f"[{check.index}] {check.label}"
        if check.comparison is None:
            lines.append(f"check {where}: only in the {check.side.value} run")
            continue
        c = check.comparison
        moved = f" ({check.direction}, unadjusted)" if check.direction else ""
        lines.append(
            f"check {where}: passed {percent(c.baseline_rate)} -> {percent(c.candidate_rate)}"
            f" ({c.k_baseline}/{c.n_baseline} -> {c.k_candidate}/{c.n_candidate}){moved}"
        )
    return lines
