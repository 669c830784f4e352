"""An ``adapt`` report as terminal text: what was adapted, how each rewrite fared, what it cost.

Prompts and reasons come from suites and models, so every line goes through
:func:`~promptcheck.report.escaping.printable`. The wording of the parts every report shares
(a case's status line, the held-out test, the spend) lives here and is reused by the Markdown
and HTML reports.
"""

from __future__ import annotations

from promptcheck.adapt.records import AdaptReport, CaseAdaptation, Rate, Spend, Trial
from promptcheck.report.comparison_text import percent, rate_cell
from promptcheck.report.escaping import printable
from promptcheck.store.usage import format_cost


def rate_text(rate: Rate | None) -> str:
    """``k/n = rate [low-high]``, or a dash when there is no rate."""
    if rate is None:
        return "-"
    return rate_cell(rate.k, rate.n, rate.interval)


def models_line(report: AdaptReport) -> str:
    kind = "model, run live" if report.baseline_live else "stored run"
    optimizer = f", optimizer {report.optimizer}" if report.optimizer else ", operators only"
    return f"candidate {report.candidate} against baseline {report.baseline} ({kind}){optimizer}"


def outcome_word(case: CaseAdaptation) -> str:
    return "ADAPTED" if case.adapted else "NOT ADAPTED"


def goal_text(case: CaseAdaptation) -> str:
    """What the held-out test had to show."""
    floor = max(case.threshold - case.tolerance, 0.0)
    if case.goal == "baseline":
        return (
            f"no worse than the baseline's held-out rate minus {case.tolerance:g} "
            "(the baseline itself misses the threshold)"
        )
    return f"held-out rate above {floor:g} (threshold {case.threshold:g} - tolerance)"


def note_text(case: CaseAdaptation) -> str:
    """The case's note, unless the confirmation line already gave it (no test was run)."""
    if case.winner is not None and case.confirmation is None:
        return ""
    return case.note


def confirmation_text(case: CaseAdaptation) -> str:
    """The held-out test in one line (or why there was none)."""
    if case.winner is None:
        return f"no rewrite went to the held-out test: {case.race_reason}"
    confirmation = case.confirmation
    if confirmation is None:
        return f"{case.winner} was not tested on the held-out values: {case.note}"
    rate = rate_cell(confirmation.k, confirmation.n, confirmation.interval)
    verdict = "a fix" if confirmation.fixed else "not a fix"
    early = " (stopped early: the decision was certain)" if confirmation.stopped_early else ""
    return f"{case.winner} on new held-out samples: {rate}; {verdict}: {confirmation.reason}{early}"


def best_text(case: CaseAdaptation) -> str:
    """For a case not adapted: the best rates seen."""
    best = case.best_search
    parts = []
    if best is not None and best.search is not None:
        parts.append(f"best search rate {rate_text(best.search)} ({best.name})")
    if case.confirmation is not None:
        parts.append(f"held-out {percent(case.confirmation.rate)} ({case.winner})")
    return "; ".join(parts) or "no rewrite could be sampled"


def trial_row(trial: Trial) -> tuple[str, str, str, str]:
    search = rate_text(trial.search) if trial.search is not None else "-"
    return trial.name, trial.origin, search, f"{trial.status}: {trial.reason}"


def spend_text(spend: Spend) -> str:
    samples = (
        f"samples: diagnosis {spend.diagnosis}, race {spend.search}, held-out tests "
        f"{spend.confirmation} ({spend.cached} of all from the cache)"
    )
    if spend.budget_samples is not None:
        samples += f"; budget {spend.rewrite_samples}/{spend.budget_samples}"
    calls = f"optimizer calls: {spend.calls} ({spend.cached_calls} cached)"
    if spend.budget_calls is not None:
        calls += f"; budget {spend.calls}/{spend.budget_calls}"
    text = f"{samples}; {calls}"
    if spend.cost is not None:
        text += f"; cost {format_cost(spend.cost)}"
        if spend.budget_cost is not None:
            text += f" of {format_cost(spend.budget_cost)}"
    return text


def text_lines(report: AdaptReport) -> list[str]:
    """The report for a terminal."""
    lines = [f"promptcheck adapt: {models_line(report)}", report.headline, ""]
    width = max((len(f"{s.suite_path}::{s.case_id}") for s in report.statuses), default=0)
    for status in report.statuses:
        name = f"{status.suite_path}::{status.case_id}".ljust(width)
        detail = f"  {status.detail}" if status.detail else ""
        lines.append(f"  {name}  {status.status}{detail}")
    for case in report.cases:
        lines += ["", f"{case.name}: {outcome_word(case)} ({' and '.join(case.why)})"]
        lines.append(
            f"  original prompt: baseline {rate_text(case.baseline)}, "
            f"candidate {rate_text(case.candidate)}"
        )
        held = "the same value, new seeds" if case.shared_values else str(case.held_out_values)
        lines.append(f"  values: {case.search_values} searched, {held} held out")
        lines.append(f"  goal: {goal_text(case)}")
        rows = [("rewrite", "origin", "search rate [anytime 95%]", "outcome")]
        rows += [trial_row(trial) for trial in case.trials]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        for row in rows:
            cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:3])]
            lines.append("    " + "  ".join([*cells, row[3]]))
        lines.append(f"  {confirmation_text(case)}")
        if case.adapted and case.chosen is not None:
            lines.append("  new prompt:")
            lines += [f"    | {line}" for line in case.chosen.display().splitlines()]
        elif not case.adapted:
            lines.append(f"  best seen: {best_text(case)}")
        if note_text(case):
            lines.append(f"  note: {note_text(case)}")
    lines += ["", spend_text(report.spend)]
    for patch in report.patches:
        where = f" -> {patch.written}" if patch.written else ""
        lines.append(f"patched {patch.suite_path} ({', '.join(patch.cases)}){where}")
    if report.runs:
        lines.append(f"recorded runs: {', '.join(report.runs)}")
    lines += [f"warning: {warning}" for warning in report.warnings]
    return [printable(line) for line in lines]
