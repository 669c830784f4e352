"""An ``adapt`` report as Markdown, for a pull request that carries the patched suites.

The headline and one table of the cases that needed adapting come first; each case then has
its rewrites and its held-out test, folded in ``<details>``, with the new prompt in a code
block. Prompts and outputs come from suites and models: inline text goes into code spans or is
escaped (pipes, ``<``, ``&``), and a prompt is shown in a fence longer than any backtick run
it holds, so nothing in it can close the block or open HTML.
"""

from __future__ import annotations

import re

from promptcheck.adapt.records import AdaptReport, CaseAdaptation
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.report.adapt_text import (
    best_text,
    confirmation_text,
    goal_text,
    models_line,
    note_text,
    rate_text,
    spend_text,
    trial_row,
)


def render(report: AdaptReport) -> str:
    """The whole report, ending with a newline."""
    icon = ":white_check_mark:" if not report.not_adapted else ":warning:"
    parts = [
        f"## {icon} promptcheck adapt: {_text(report.headline)}",
        _text(models_line(report)),
    ]
    if report.cases:
        rows = [
            "| case | why | baseline | candidate | outcome | held-out |",
            "|---|---|---|---|---|---|",
        ]
        for case in report.cases:
            held = case.confirmation
            held_text = "-" if held is None else f"{held.k}/{held.n} ({case.winner})"
            rows.append(
                f"| {_cell(_code(case.name))} | {_cell(_text(' and '.join(case.why)))} "
                f"| {_cell(rate_text(case.baseline))} | {_cell(rate_text(case.candidate))} "
                f"| **{'adapted' if case.adapted else 'not adapted'}** "
                f"| {_cell(_text(held_text))} |"
            )
        parts.append("\n".join(rows))
        parts += [_case(case) for case in report.cases]
    others = [s for s in report.statuses if s.status in ("conforms", "undecided", "skipped")]
    if others:
        listed = "\n".join(
            f"- {_code(f'{s.suite_path}::{s.case_id}')}: {_text(s.status)}"
            + (f" ({_text(s.detail)})" if s.detail else "")
            for s in others
        )
        parts.append(_folded(f"{len(others)} case(s) left as they are", listed))
    parts.append(_text(spend_text(report.spend)))
    if report.patches:
        parts.append(
            "\n".join(
                f"- patched {_code(p.suite_path)}: {', '.join(_code(c) for c in p.cases)}"
                for p in report.patches
            )
        )
    if report.warnings:
        parts.append("\n".join(f"- :warning: {_text(w)}" for w in report.warnings))
    return "\n\n".join(parts) + "\n"


def _case(case: CaseAdaptation) -> str:
    lines = [
        f"**Goal:** {_text(goal_text(case))}. "
        f"{case.search_values} value(s) searched, "
        + (
            "the same value held out on new seeds."
            if case.shared_values
            else f"{case.held_out_values} held out."
        ),
        "",
        "| rewrite | origin | search rate [anytime 95%] | outcome |",
        "|---|---|---|---|",
    ]
    for trial in case.trials:
        name, origin, search, outcome = trial_row(trial)
        lines.append(
            f"| {_cell(_code(name))} | {_cell(_text(origin))} | {_cell(_text(search))} "
            f"| {_cell(_text(outcome))} |"
        )
    lines += ["", _text(confirmation_text(case))]
    if note_text(case):
        lines += ["", f"Note: {_text(note_text(case))}"]
    if case.adapted and case.chosen is not None:
        lines += ["", "New prompt:", "", _fenced(case.chosen)]
    else:
        lines += ["", f"Best seen: {_text(best_text(case))}"]
    lines += ["", "Original prompt:", "", _fenced(case.original)]
    title = f"{_text(case.name)}: {'adapted' if case.adapted else 'not adapted'}"
    return _folded(title, "\n".join(lines))


def _fenced(template: PromptTemplate) -> str:
    text = template.display()
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _folded(summary: str, body: str) -> str:
    # blank lines around the body: GitHub renders Markdown inside <details> only with them
    return f"<details>\n<summary>{summary}</summary>\n\n{body}\n\n</details>"


def _code(text: str) -> str:
    """An inline code span that survives backticks in the text."""
    flat = " ".join(text.split())
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _text(text: str) -> str:
    """Prose on one line, ``&`` and ``<`` escaped so that it cannot open HTML."""
    return " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;")


def _cell(text: str) -> str:
    """A table cell: GFM splits cells at every unescaped pipe, even inside code spans."""
    return text.replace("|", "\\|")
