"""An ``adapt`` report as one self-contained HTML page.

As for the run report (:mod:`promptcheck.report.html`), the page is rendered from an
autoescaped Jinja2 template (``templates/adapt.html.j2``) that marks nothing safe, holds its
CSS inline, runs no script and names no URL outside itself; its Content-Security-Policy allows
no script at all. Prompts and reasons from suites and models show as text.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import jinja2

from promptcheck.adapt.records import AdaptReport, CaseAdaptation
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


@dataclass(frozen=True, slots=True)
class CaseView:
    """One adapted (or not) case as the page shows it."""

    name: str
    adapted: bool
    why: str
    baseline: str
    candidate: str
    values: str
    goal: str
    trials: tuple[tuple[str, str, str, str, str], ...]
    confirmation: str
    best: str
    original: str
    chosen: str | None
    requirements: tuple[str, ...]
    note: str


def render(report: AdaptReport) -> str:
    """The page as text."""
    cases = [_case(case) for case in report.cases]
    template = _environment().get_template("adapt.html.j2")
    return template.render(
        title=f"promptcheck adapt: {report.candidate} from {report.baseline}",
        headline=report.headline,
        models=models_line(report),
        statuses=report.statuses,
        cases=cases,
        spend=spend_text(report.spend),
        patches=report.patches,
        warnings=report.warnings,
    )


def _case(case: CaseAdaptation) -> CaseView:
    values = f"{case.search_values} searched, " + (
        "the same value held out on new seeds" if case.shared_values else
        f"{case.held_out_values} held out"
    )  # fmt: skip
    return CaseView(
        name=case.name,
        adapted=case.adapted,
        why=" and ".join(case.why),
        baseline=rate_text(case.baseline),
        candidate=rate_text(case.candidate),
        values=values,
        goal=goal_text(case),
        trials=tuple((*trial_row(t), t.template.display()) for t in case.trials),
        confirmation=confirmation_text(case),
        best=best_text(case),
        original=case.original.display(),
        chosen=case.chosen.display() if case.chosen is not None else None,
        requirements=case.requirements,
        note=note_text(case),
    )


@functools.cache
def _environment() -> jinja2.Environment:
    """The templates' environment: every value escaped, an unknown name an error."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("promptcheck.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
