"""One run's cases as Markdown (``--promptcheck-md`` without a baseline), for a pull request.

The comparison has its own renderer (:mod:`promptcheck.report.markdown`); a single-model run
answers another question, "does each case meet its threshold?", so the headline counts failing,
undecided and error cases (nothing could be scored), those rows come first, and passing cases
are folded away. Built from the
summary rows (what an xdist controller has), not from the samples.

Like the comparison's, the summary fits in a pull request's comment: its tables share a row
budget, spent on failing and undecided rows before passing ones, and halved until the whole is
at most :data:`~promptcheck.config.MARKDOWN_MAX_CHARS` long.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from promptcheck.config import MARKDOWN_MAX_CHARS, MARKDOWN_MAX_ROWS, NOTHING_SCORED
from promptcheck.report.terminal import SummaryRow, adaptive_spend, count_line, percent

MAX_ROWS = MARKDOWN_MAX_ROWS
MAX_CHARS = MARKDOWN_MAX_CHARS
_MORE_HINT = "`promptcheck show` or the HTML report has them all"
_ORDER = {"fail": 0, NOTHING_SCORED: 1, "undecided": 2, "pass": 3}


def render(rows: Sequence[SummaryRow], store: str | None = None) -> str:
    """The whole summary, ending with a newline, at most :data:`MAX_CHARS` long (unless even
    a summary without table rows is longer); ``store`` names where the runs are recorded."""
    budget = MAX_ROWS
    text = _render(rows, store, budget)
    while len(text) > MAX_CHARS and budget:
        budget //= 2
        text = _render(rows, store, budget)
    return text


def _render(rows: Sequence[SummaryRow], store: str | None, budget: int) -> str:
    counts = {outcome: sum(1 for r in rows if r.outcome == outcome) for outcome in _ORDER}
    errored = counts[NOTHING_SCORED]
    if counts["fail"] or errored:
        said = [f"{_cases(counts['fail'])} failed"] if counts["fail"] else []
        if errored:
            said.append(f"{errored} {NOTHING_SCORED}")
        icon, headline = ":x:", ", ".join(said)
    elif counts["undecided"]:
        icon, headline = ":warning:", f"no failure; {_cases(counts['undecided'])} undecided"
    else:
        icon, headline = ":white_check_mark:", f"all {_cases(len(rows))} pass"
    meaning = "undecided means the samples cannot tell"
    if errored:
        meaning += f"; {NOTHING_SCORED} means no sample could be scored"
    parts = [
        f"## {icon} promptcheck: {headline}",
        f"{_cases(len(rows))}: {count_line(rows)}. A case fails only when its conformance rate "
        f"is shown to be below its threshold; {meaning}.",
    ]
    spent = adaptive_spend(rows)
    if spent is not None:
        used, most = spent
        parts.append(
            f"Adaptive sampling drew {used} of at most {most} samples ({most - used} saved)."
        )
    groups: dict[tuple[str, str], list[SummaryRow]] = {}
    for row in rows:
        groups.setdefault((row.suite, row.model), []).append(row)
    sections = []
    for (suite, model), group in sorted(groups.items()):
        ordered = sorted(group, key=lambda r: (_ORDER.get(r.outcome, 3), r.case_id))
        attention = [r for r in ordered if r.outcome != "pass"]
        passing = [r for r in ordered if r.outcome == "pass"]
        shown = min(len(attention), budget)
        budget -= shown
        sections.append((suite, model, attention, shown, passing))
    for suite, model, attention, shown, passing in sections:
        section = [f"### {_code(suite)} on {_code(model)}"]
        if attention:
            section.append(_table(attention, shown))
        if passing:
            passing_shown = min(len(passing), budget)
            budget -= passing_shown
            section.append(_folded(f"Passing ({len(passing)})", _table(passing, passing_shown)))
        parts.append("\n\n".join(section))
    note = "Rates are conforming / scored samples with 95% intervals."
    if store:
        note += f" Runs recorded in {_code(store)}."
    parts.append(f"<sub>{note}</sub>")
    return "\n\n".join(parts) + "\n"


def _table(rows: Sequence[SummaryRow], shown: int) -> str:
    """The first ``shown`` of ``rows`` as a table, then how many more there are."""
    if not shown:
        return f"{_cases(len(rows))} not listed ({_MORE_HINT})"
    adaptive = any(row.used is not None for row in rows)
    header = ["case", "verdict", "conforming", "threshold", "errors"]
    if adaptive:
        header.insert(4, "samples used")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows[:shown]:
        rate = (
            f"{row.k}/{row.n} = {percent(row.k / row.n)} [{percent(row.low)}-{percent(row.high)}]"
            if row.n
            else _code(row.reason)
            if row.reason
            else "no scored samples"
        )
        verdict = f"**{row.outcome}**" if row.outcome in ("fail", NOTHING_SCORED) else row.outcome
        cells = [_code(row.case_id), verdict, rate, percent(row.threshold), str(row.errors or "")]
        if adaptive:
            used = "-" if row.used is None else f"{row.used}/{row.maximum}"
            cells.insert(4, used)
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    if len(rows) > shown:
        lines.append(f"\n... and {len(rows) - shown} more ({_MORE_HINT})")
    return "\n".join(lines)


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _folded(summary: str, body: str) -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _code(text: str) -> str:
    """An inline code span that survives backticks (and newlines) in the text."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"
