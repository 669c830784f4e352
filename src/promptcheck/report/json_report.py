"""A comparison of two runs as JSON, for CI steps and dashboards to read.

The document is versioned: ``format_version`` comes first, and any change that removes or
renames a field, or changes a field's meaning, raises it, so a consumer can refuse a format it
does not know instead of misreading it. Adding a field does not raise it.
Rates and p-values are plain floats in [0, 1]; intervals are ``[low, high]`` pairs.
``baseline`` and ``candidate`` describe the two runs, ``usage`` included: what each run's model
cost (requests, retries, failed_requests, prompt_tokens, completion_tokens, cost; see
:mod:`promptcheck.store.usage`), or null when the run recorded none; and ``status``: running
(never closed), finished, interrupted, or null for a run stored before statuses were.

Version 2: ``settings.min_baseline_samples`` is gone (what the samples can detect is stated
instead), ``settings.tolerance`` became ``settings.detect`` (the drop the comparison is planned
to catch, which "unchanged" rules out) beside ``settings.power``, and a case's ``noninferior``
says whether that drop is ruled out at the suite's beta (Bonferroni over the cases), not per
case. Added: ``baseline_strength`` (samples a case and age of the baseline), ``budget`` (the
live gate's plan per case; null offline), ``detectable`` (the weakest case's detectable drop),
and per case ``p_noninferior``, ``p_noninferior_adjusted`` and ``detectable``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence

    from promptcheck.comparison.budget import Budget
    from promptcheck.comparison.engine import CaseRow, CheckDiagnosis, ComparisonReport
    from promptcheck.review import CalibrationRow
    from promptcheck.stats import Comparison
    from promptcheck.store.database import RunSummary

#: Version of the document below; see the module docstring for when it changes.
FORMAT_VERSION = 2
KIND = "promptcheck.comparison"


def to_dict(
    report: ComparisonReport, calibration: Sequence[CalibrationRow] | None = None
) -> dict[str, Any]:
    """The report as JSON-ready data, ``format_version`` first; with ``calibration`` (the
    judges of the two runs against human ratings: promptcheck review) under ``calibration``."""
    strength = report.strength
    data = {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "headline": report.headline,
        "settings": dataclasses.asdict(report.settings),
        "baseline": _run(report.baseline),
        "candidate": _run(report.candidate),
        "baseline_strength": strength.as_dict() if strength is not None else None,
        "budget": _budget(report.budget) if report.budget is not None else None,
        "detectable": report.detectable,
        "counts": report.counts,
        "warnings": list(report.warnings),
        "cases": [_case(row, report.settings.beta) for row in report.rows],
        "only_in_baseline": list(report.only_in_baseline),
        "only_in_candidate": list(report.only_in_candidate),
    }
    if calibration is not None:
        data["calibration"] = calibration_list(calibration)
    return data


def calibration_list(rows: Sequence[CalibrationRow]) -> list[dict[str, Any]]:
    """Each judging check against the human labels of ``promptcheck review``: the 2x2 table
    (``both_pass``, ``judge_pass_human_fail``, ``judge_fail_human_pass``, ``both_fail``),
    ``sensitivity``, ``specificity`` and ``kappa`` as ``{value, interval, n}`` (value null when
    undefined), ``corrected`` (per run: the judge's pass rate and the Rogan-Gladen corrected
    rate), ``floor`` (whether the judge would gate now, and why) and ``recorded`` (what the
    store recorded from locked ratings, which runs obey; null before any lock)."""
    return [row.as_dict() for row in rows]


def render(report: ComparisonReport) -> str:
    """The report as indented JSON text, ending with a newline."""
    return json.dumps(to_dict(report), indent=2, default=str) + "\n"


def _run(run: RunSummary) -> dict[str, Any]:
    """A run's summary, its usage always present (null for runs stored before usage was)."""
    data = dataclasses.asdict(run)
    data["usage"] = dict(run.usage) if run.usage else None
    return data


def _case(row: CaseRow, report_beta: float) -> dict[str, Any]:
    verdict = row.verdict
    c = row.comparison
    return {
        "name": row.name,
        "suite": row.suite,
        "suite_path": row.suite_path,
        "case_id": row.case_id,
        "tags": list(row.tags),
        "critical": verdict.critical,
        "change": verdict.change.value,
        "explanation": verdict.explanation,
        "baseline": _side(c.k_baseline, c.n_baseline, c.baseline_interval)
        | {"errors": row.baseline_errors, "unscored": row.baseline_unscored},
        "candidate": _side(c.k_candidate, c.n_candidate, c.candidate_interval)
        | {"errors": row.candidate_errors, "unscored": row.candidate_unscored},
        **_contrast(c),
        "p_regressed_adjusted": verdict.p_regressed_adjusted,
        "p_improved_adjusted": verdict.p_improved_adjusted,
        "p_noninferior": c.p_noninferior,
        "p_noninferior_adjusted": verdict.p_noninferior_adjusted,
        "noninferior": verdict.p_noninferior_adjusted <= report_beta * (1.0 + 1e-9),
        "detectable": row.detectable,
        "method": c.method,
        "notes": list(row.notes),
        # unadjusted across checks: says which check moved, decides nothing
        "check_diagnosis": [_check(check) for check in row.checks],
    }


def _budget(budget: Budget) -> dict[str, Any]:
    """The live gate's plan: the targets, the level, and per case what was planned and drawn."""
    return {
        **dataclasses.asdict(budget.targets),
        "level": budget.level,
        "option": budget.option,
        "detectable": budget.weakest,
        "statement": budget.lines(),
        "cases": [
            {
                "name": case.name,
                "planning_rate": case.rate,
                "rate_from": "baseline" if case.from_baseline else "threshold",
                "planned": case.plan.samples,
                "planned_baseline": case.plan.baseline_samples,
                "power": case.plan.power,
                "unchanged_probability": case.plan.unchanged,
                "reached": case.plan.reached,
                "samples": case.samples,
                "stored_baseline": case.stored,
                "detectable": case.detectable,
            }
            for case in budget.cases
        ],
    }


def _side(k: int, n: int, interval: tuple[float, float]) -> dict[str, Any]:
    return {"k": k, "n": n, "rate": k / n if n else None, "interval": list(interval)}


def _contrast(c: Comparison) -> dict[str, Any]:
    return {
        "difference": c.difference if c.n_baseline and c.n_candidate else None,
        "difference_interval": list(c.interval),
        "p_regressed": c.p_regressed,
        "p_improved": c.p_improved,
    }


def _check(check: CheckDiagnosis) -> dict[str, Any]:
    data: dict[str, Any] = {
        "index": check.index,
        "label": check.label,
        "side": check.side.value,
        "direction": check.direction or None,
    }
    c = check.comparison
    if c is not None:
        data["baseline"] = _side(c.k_baseline, c.n_baseline, c.baseline_interval)
        data["candidate"] = _side(c.k_candidate, c.n_candidate, c.candidate_interval)
        data.update(_contrast(c))
    return data
