"""An ``adapt`` report as JSON (``promptcheck adapt --json``): versioned, for scripts and CI.

Field names follow the records of :mod:`promptcheck.adapt.records`; templates are written as
``{"prompt", "system", "messages"}`` objects, rates as ``{"k", "n", "interval"}``.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from promptcheck.adapt.records import AdaptReport, CaseAdaptation, Rate, Trial
from promptcheck.adapt.templates import PromptTemplate

#: Bumped when a field changes meaning or goes away (added fields do not bump it).
FORMAT_VERSION = 1


def to_dict(report: AdaptReport) -> dict[str, Any]:
    """The report as JSON-ready data."""
    spend = report.spend
    return {
        "format_version": FORMAT_VERSION,
        "candidate": report.candidate,
        "baseline": report.baseline,
        "baseline_live": report.baseline_live,
        "optimizer": report.optimizer,
        "headline": report.headline,
        "statuses": [dataclasses.asdict(status) for status in report.statuses],
        "cases": [_case(case) for case in report.cases],
        "spend": {
            **{f.name: getattr(spend, f.name) for f in dataclasses.fields(spend)},
            "rewrite_samples": spend.rewrite_samples,
        },
        "patches": [
            {"suite_path": p.suite_path, "cases": list(p.cases), "written": p.written or None}
            for p in report.patches
        ],
        "runs": list(report.runs),
        "warnings": list(report.warnings),
    }


def json_text(report: AdaptReport) -> str:
    return json.dumps(to_dict(report), indent=2, default=str) + "\n"


def _case(case: CaseAdaptation) -> dict[str, Any]:
    confirmation = case.confirmation
    return {
        "suite_path": case.suite_path,
        "case_id": case.case_id,
        "why": list(case.why),
        "goal": case.goal,
        "threshold": case.threshold,
        "tolerance": case.tolerance,
        "adapted": case.adapted,
        "original": _template(case.original),
        "chosen": _template(case.chosen) if case.chosen is not None else None,
        "baseline": _rate(case.baseline),
        "candidate": _rate(case.candidate),
        "search_values": case.search_values,
        "held_out_values": case.held_out_values,
        "shared_values": case.shared_values,
        "requirements": list(case.requirements),
        "race": {"winner": case.winner, "reason": case.race_reason},
        "trials": [_trial(trial) for trial in case.trials],
        "confirmation": None if confirmation is None else dataclasses.asdict(confirmation),
        "note": case.note,
    }


def _trial(trial: Trial) -> dict[str, Any]:
    return {
        "name": trial.name,
        "origin": trial.origin,
        "description": trial.description,
        "status": trial.status,
        "reason": trial.reason,
        "search": _rate(trial.search),
        "template": _template(trial.template),
    }


def _rate(rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {"k": rate.k, "n": rate.n, "rate": rate.rate, "interval": list(rate.interval)}


def _template(template: PromptTemplate) -> dict[str, Any]:
    messages = template.messages
    return {
        "prompt": template.prompt,
        "system": template.system,
        "messages": None if messages is None else [{"role": r, "content": c} for r, c in messages],
    }
