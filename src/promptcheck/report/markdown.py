"""A comparison of two runs as Markdown, written to be posted as a pull-request comment.

A reviewer reads the top and stops: so the headline says what happened, the first table holds
only the cases that changed (regressions before improvements), inconclusive cases follow since
they may hide a regression, and the unchanged majority is folded away in ``<details>``. Case
names sit in code spans so that ids with ``_`` or ``*`` are not read as emphasis; pipes are
escaped so that they cannot break a table, and ``<`` in other text is escaped so that a name
cannot open an HTML tag (GitHub-flavoured Markdown renders some raw HTML).

GitHub refuses a comment over 65,536 characters, so a large suite's summary is cut to fit,
cutting the unchanged cases first: the rows share one budget, spent in the order a reviewer
reads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from promptcheck.comparison.engine import (
    CaseRow,
    ComparisonReport,
    count_cases,
)
from promptcheck.config import MARKDOWN_MAX_CHARS, MARKDOWN_MAX_ROWS
from promptcheck.report.comparison_text import difference_cell, percent, rate_cell
from promptcheck.stats import Change

if TYPE_CHECKING:
    from promptcheck.store.database import RunSummary

MAX_ROWS = MARKDOWN_MAX_ROWS
MAX_CHARS = MARKDOWN_MAX_CHARS
#: Lines of per-check diagnosis and names of cases in one run only, before "and N more".
MAX_LISTED = 50
_MORE_HINT = "the HTML report or `promptcheck compare --json` has them all"
_ICONS = {"regressed": ":x:", "inconclusive": ":warning:", "clean": ":white_check_mark:"}


def render(report: ComparisonReport) -> str:
    """The whole comment, ending with a newline, at most :data:`MAX_CHARS` long."""
    rows = MAX_ROWS
    text = _render(report, _Budget(rows))
    while len(text) > MAX_CHARS and rows:
        rows //= 2
        text = _render(report, _Budget(rows))
    return text


class _Budget:
    """Table rows left to the comment, spent by each table in reading order, and the length
    of a list (diagnosis lines, names), which shrinks with it so that every part can."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.listed = min(MAX_LISTED, rows)

    def take(self, wanted: int) -> int:
        granted = min(wanted, self.rows)
        self.rows -= granted
        return granted


def _render(report: ComparisonReport, budget: _Budget) -> str:
    counts = report.counts
    if counts["regressed"]:
        icon = _ICONS["regressed"]
    elif counts["inconclusive"] or not report.rows:
        icon = _ICONS["inconclusive"]
    else:
        icon = _ICONS["clean"]
    s = report.settings
    parts = [
        f"## {icon} promptcheck: {report.headline}",
        "\n\n".join((_run("Baseline", report.baseline), _run("Candidate", report.candidate))),
        f"{count_cases(counts['compared'])} compared: "
        + ", ".join(
            f"**{counts[c.value]} {c.value}**"
            if counts[c.value] and c == Change.REGRESSED
            else f"{counts[c.value]} {c.value}"
            for c in (Change.REGRESSED, Change.IMPROVED, Change.INCONCLUSIVE, Change.UNCHANGED)
        )
        + f". Margin {s.margin:g}; false alarms held at {s.alpha:g} across the suite (Holm "
        "for `critical` cases, Benjamini-Hochberg for the rest); adjusted p-values compare with "
        f"that figure. Unchanged means a drop of {_pp(s.detect)} is ruled out (beta "
        f"{s.beta:g} across the suite).",
        *_strength(report),
    ]
    if report.warnings:
        parts.append("> [!WARNING]\n" + "\n".join(f"> - {_text(w)}" for w in report.warnings))
    changed = report.by_change(Change.REGRESSED) + report.by_change(Change.IMPROVED)
    if changed:
        parts.append("### Changed\n\n" + _table(changed, budget))
        diagnosis = _diagnosis(changed, budget.listed)
        if diagnosis:
            parts.append(diagnosis)
    inconclusive = report.by_change(Change.INCONCLUSIVE)
    if inconclusive:
        parts.append(
            "### Inconclusive\n\nNo drop shown, but a drop of "
            f"{_pp(s.detect)} or more is not ruled out either: more samples would tell.\n\n"
            + _table(inconclusive, budget)
        )
    pairwise = _pairwise(report, budget)
    if pairwise:
        parts.append(pairwise)
    unchanged = report.by_change(Change.UNCHANGED)
    if unchanged:
        parts.append(_folded(f"Unchanged ({len(unchanged)})", _table(unchanged, budget)))
    if report.only_in_baseline or report.only_in_candidate:
        lines = [
            f"- only in the {side}: " + _names(names, budget.listed)
            for side, names in (
                ("baseline", report.only_in_baseline),
                ("candidate", report.only_in_candidate),
            )
            if names
        ]
        total = len(report.only_in_baseline) + len(report.only_in_candidate)
        parts.append(_folded(f"Not compared ({total}): in one run only", "\n".join(lines)))
    parts.append(
        "<sub>Rates are conforming / scored samples with 95% Clopper-Pearson intervals; "
        "differences in percentage points with Newcombe's 95% interval. `promptcheck plan` gives "
        "the samples a case needs to detect a drop.</sub>"
    )
    return "\n\n".join(parts) + "\n"


def _strength(report: ComparisonReport) -> list[str]:
    """What the baseline is worth and what the budget buys: the part of the comment that says
    how much a clean result means."""
    lines = []
    strength = report.strength
    if strength is not None:
        lines.append(f"- **Baseline strength:** {_text(strength.describe())}")
    if report.budget is not None:
        lines.extend(f"- {_text(line)}" for line in report.budget.lines())
    elif report.detectable is not None:
        lines.append(
            f"- These samples detect drops of **{report.detectable:.2f}** or more with power "
            f"{report.settings.power:g} (the weakest case)."
        )
    return ["\n".join(lines)] if lines else []


def _run(role: str, run: RunSummary) -> str:
    details = [f"model {_code(run.model)}"]
    if run.label:
        details.append(f"label {_code(run.label)}")
    if run.git_commit:
        details.append(f"commit {_code(run.git_commit[:12])}")
    return f"**{role}:** {_code(run.id)} ({', '.join(details)})"


def _table(rows: Sequence[CaseRow], budget: _Budget) -> str:
    shown = budget.take(len(rows))
    lines = [
        "| case | change | baseline | candidate | difference | adj. p |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows[:shown]:
        c = row.comparison
        name = _code(row.name) + (" (critical)" if row.verdict.critical else "")
        change = row.change.value
        cells = (
            name,
            f"**{change}**" if row.change == Change.REGRESSED else change,
            rate_cell(c.k_baseline, c.n_baseline, c.baseline_interval)
            + _errored(row.baseline_errors),
            rate_cell(c.k_candidate, c.n_candidate, c.candidate_interval)
            + _errored(row.candidate_errors),
            difference_cell(c),
            f"{row.p_adjusted:.2g}",
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return _cut(lines, len(rows), shown)


def _cut(lines: list[str], total: int, shown: int) -> str:
    """A table, or only its "not shown" line when the budget left it no row."""
    if not shown:
        return f"{count_cases(total)} not shown: {_MORE_HINT}."
    if total > shown:
        lines.append(f"\n... and {total - shown} more ({_MORE_HINT})")
    return "\n".join(lines)


def _errored(errors: int) -> str:
    """Errored samples are not scored, so a rate alone hides them."""
    return f", {errors} errored" if errors else ""


def _names(names: Sequence[str], limit: int) -> str:
    shown = ", ".join(_code(name) for name in names[:limit])
    if len(names) <= limit:
        return shown
    return (shown + " and " if shown else "") + f"{len(names) - limit} more"


def _diagnosis(rows: Iterable[CaseRow], limit: int) -> str:
    """Which checks moved in the changed cases; unadjusted, so labelled as diagnosis."""
    lines: list[str] = []
    for row in rows:
        for check in row.checks:
            where = f"{_code(row.name)} check `[{check.index}]` {_code(check.label)}"
            c = check.comparison
            if c is None:
                lines.append(f"- {where}: only in the {check.side.value} run")
                continue
            moved = f", **{check.direction}**" if check.direction else ""
            lines.append(
                f"- {where}: passed {percent(c.baseline_rate)} → {percent(c.candidate_rate)} "
                f"({c.k_baseline}/{c.n_baseline} → {c.k_candidate}/{c.n_candidate}{moved})"
            )
    if not lines:
        return ""
    if len(lines) > limit:
        lines[limit:] = [f"- ... and {len(lines) - limit} more ({_MORE_HINT})"]
    return "Checks that failed on either side (diagnosis only, p-values not adjusted):\n\n" + (
        "\n".join(lines)
    )


#: Pairwise outcomes in the order the table lists them: what needs attention first.
_PAIRWISE_ORDER = {"fail": 0, "undecided": 1, "pass": 2}


def _pairwise(report: ComparisonReport, budget: _Budget) -> str:
    """The pairwise judge's check of every judged case, failures first (diagnosis only)."""
    judged = [row for row in report.rows if row.pairwise is not None]
    if not judged:
        return ""
    judged.sort(key=lambda row: _PAIRWISE_ORDER.get(_outcome(row), 3))
    first = judged[0].pairwise
    assert first is not None
    shown = budget.take(len(judged))
    lines = [
        "| case | pairwise | candidate at least as good | baseline better | ties "
        "(position bias) | unscored |",
        "|---|---|---|---|---|---|",
    ]
    for row in judged[:shown]:
        check = row.pairwise
        assert check is not None
        t, v = check.tally, check.verdict
        outcome = check.outcome.value
        cells = (
            _code(row.name),
            f"**{outcome}**" if outcome == "fail" else outcome,
            rate_cell(v.k, v.n, v.interval),
            str(t.failed),
            f"{check.ties} ({check.position_bias})",
            str(t.unscored),
        )
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    intro = (
        f"### Pairwise judge {_code(first.judge)}\n\nBoth outputs of each prompt, asked in both "
        "orders (a judge that picks the same position twice makes a tie): the candidate passes a "
        f"case when it is at least as good on all but {100 * first.margin:g}% of the prompts. "
        "Diagnosis only: it does not change the verdicts above.\n\n"
    )
    return intro + _cut(lines, len(judged), shown)


def _outcome(row: CaseRow) -> str:
    return row.pairwise.outcome.value if row.pairwise is not None else ""


def _folded(summary: str, body: str) -> str:
    # blank lines around the body: GitHub renders Markdown inside <details> only with them
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    flat = _inline(text)
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _inline(text: str) -> str:
    """Text on one line: a newline would end a table row or a list item."""
    return " ".join(text.split())


def _text(text: str) -> str:
    """Prose from a run (warnings name suite files and cases) on one line, with ``<`` and
    ``&`` escaped so that it reads as written instead of opening an HTML tag or entity."""
    return _inline(text).replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    """A table cell: GFM splits cells at every unescaped pipe, even inside code spans."""
    return text.replace("|", "\\|")


def _pp(value: float) -> str:
    return f"{100 * value:g} percentage points"
