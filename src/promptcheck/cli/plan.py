"""``promptcheck plan SUITES --baseline B``: what a comparison needs before it is run.

Per case, the samples that catch the detectable drop with the requested power at the level the
suite's first regression needs, and that show unchanged cases unchanged (the gate's own plan,
:mod:`promptcheck.comparison.budget`, computed exactly); what drawing them takes in requests,
tokens, money and time at the pace of the stored runs of the models
(:mod:`promptcheck.comparison.costs`); and, with ``--samples N``, which drop a budget of N
samples a case can detect. The pytest gate draws this plan by default.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from promptcheck.cli.project import load_project
from promptcheck.comparison import CompareSettings, case_name
from promptcheck.comparison.budget import (
    Budget,
    CaseBudget,
    CaseInput,
    baseline_draws,
    budget_for,
    kept_cuts,
)
from promptcheck.comparison.costs import Estimate, Pace, pace
from promptcheck.comparison.live import Baseline, resolve_baseline
from promptcheck.config import (
    DEFAULT_ALPHA,
    DEFAULT_BETA,
    DEFAULT_DETECT,
    DEFAULT_MARGIN,
    DEFAULT_POWER,
    STORE_HELP,
    ExitCode,
    store_path,
)
from promptcheck.errors import PromptcheckError
from promptcheck.project import ProjectConfig
from promptcheck.store import Store
from promptcheck.store.database import RunSummary
from promptcheck.store.usage import format_cost
from promptcheck.suite import SuiteSpec, find_model, load_suite, stored_suite_path, suites_under


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``plan SUITES --baseline B`` to promptcheck's command line."""
    plan = subparsers.add_parser(
        "plan",
        help="samples, requests, tokens, cost and time a comparison needs to catch a drop",
        description=(
            "Plan a comparison against BASELINE (a model, or a stored run id, prefix or label): "
            "per case, the samples that catch a drop of DROP with power P across the suite "
            "(exact power of the gate's test, at the level its first regression needs: alpha "
            "over the number of cases), and that show an unchanged case unchanged; what they "
            "cost at the pace of the stored runs; and with --samples N, what N can detect."
        ),
    )
    plan.add_argument("paths", nargs="+", type=Path, metavar="SUITES", help="suite files or dirs")
    plan.add_argument("--baseline", required=True, metavar="B", help="model or stored run")
    plan.add_argument(
        "--model", metavar="CANDIDATE", help="the candidate model, for its recorded pace"
    )
    plan.add_argument(
        "--detect",
        type=float,
        metavar="DROP",
        default=DEFAULT_DETECT,
        help=f"the drop in conformance to catch (default {DEFAULT_DETECT:g})",
    )
    plan.add_argument(
        "--power",
        type=float,
        metavar="P",
        default=DEFAULT_POWER,
        help=f"the chance of catching it on one case of the suite (default {DEFAULT_POWER:g})",
    )
    plan.add_argument(
        "--samples",
        type=int,
        metavar="N",
        help="a budget of N samples a case: what it can detect (as --promptcheck-samples N)",
    )
    plan.add_argument("--alpha", type=float, default=DEFAULT_ALPHA, metavar="A")
    plan.add_argument("--beta", type=float, default=DEFAULT_BETA, metavar="B")
    plan.add_argument("--margin", type=float, default=DEFAULT_MARGIN, metavar="M")
    plan.add_argument("--store", type=Path, metavar="PATH", help=STORE_HELP)
    plan.add_argument("--json", action="store_true", help="print JSON instead of the table")
    plan.set_defaults(func=run_plan)


def run_plan(args: argparse.Namespace) -> int:
    """The ``plan`` command; errors a user can fix raise PromptcheckError (exit code 2)."""
    if args.samples is not None and args.samples < 1:
        raise PromptcheckError(f"--samples must be a whole number >= 1, not {args.samples}")
    settings = CompareSettings(
        margin=args.margin, detect=args.detect, alpha=args.alpha, beta=args.beta, power=args.power
    )
    project = load_project()
    root = Path.cwd()
    suites = [load_suite(path, project) for path in suite_files(args.paths)]
    store = store_path(root, args.store, project.store)
    baseline = resolve_baseline(args.baseline, project.known_models, store)
    inputs, missing = case_inputs(suites, baseline, project, root, args.model)
    if not inputs:
        raise PromptcheckError(
            f"no case of these suites is in baseline {args.baseline!r}: nothing to compare"
        )
    with kept_cuts(store.parent):
        budget = budget_for(inputs, settings.targets, args.samples)
    runs = stored_runs(store)
    base_pace = pace(baseline.model, runs, prices(baseline.model, suites, project))
    candidate = args.model or baseline.model
    cand_pace = pace(candidate, runs, prices(candidate, suites, project))
    if not cand_pace.runs:
        cand_pace = Pace(candidate, 0)
    document = plan_document(budget, baseline, candidate, base_pace, cand_pace, missing)
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print("\n".join(plan_lines(budget, document)))
    return ExitCode.OK


def suite_files(paths: list[Path]) -> list[Path]:
    """The suite files named or found under the directories named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(suites_under(path))
        elif path.exists() or path.is_symlink():  # a link loop: loading it says so
            files.append(path)
        else:
            raise PromptcheckError(f"{path}: no such file or directory")
    if not files:
        raise PromptcheckError("no suite file found: name suite files or directories holding some")
    return files


def case_inputs(
    suites: list[SuiteSpec],
    baseline: Baseline,
    project: ProjectConfig,
    root: Path,
    candidate: str | None = None,
) -> tuple[list[CaseInput], list[str]]:
    """The compared cases (those the baseline has, all of them against a model) and the names
    of those a stored baseline lacks. A stored baseline is topped up by its model when that is
    configured and is not the candidate (whose stored run is never mixed with new samples)."""
    inputs: list[CaseInput] = []
    missing: list[str] = []
    for suite in suites:
        path = stored_suite_path(suite.path, root)
        top_up = (
            candidate != baseline.model
            and find_model(baseline.model, suite.models, project) is not None
        )
        for case in suite.cases:
            name = case_name(path, case.id)
            stored = None if baseline.live else baseline.cases.get((path, case.id))
            if not baseline.live and stored is None:
                missing.append(name)
                continue
            samples = max(case.samples, len(case.combinations))
            inputs.append(CaseInput(name, case.threshold, samples, stored, top_up))
    return inputs, missing


def stored_runs(path: Path) -> list[RunSummary]:
    """Every run the store holds (none without a store): the models' recorded pace."""
    if not path.is_file():
        return []
    with Store(path) as store:
        return list(store.runs(limit=10_000))


def prices(
    model: str, suites: list[SuiteSpec], project: ProjectConfig
) -> tuple[float, float] | None:
    """The prices a model is configured with, per 1,000 input and output tokens, if both are."""
    for suite in suites:
        found = find_model(model, suite.models, project)
        if found is not None:
            per_input = getattr(found.params, "price_per_1k_input", None)
            per_output = getattr(found.params, "price_per_1k_output", None)
            if isinstance(per_input, float | int) and isinstance(per_output, float | int):
                return float(per_input), float(per_output)
            return None
    return None


def plan_document(
    budget: Budget,
    baseline: Baseline,
    candidate: str,
    base_pace: Pace,
    cand_pace: Pace,
    missing: list[str],
) -> dict[str, Any]:
    """The plan as JSON-ready data: targets, every case, and the totals with their estimates."""
    total = Estimate(0, 0.0, 0.0, 0.0, 0.0)
    cases = []
    for case in budget.cases:
        drawn = cand_pace.estimate(case.samples) + base_pace.estimate(baseline_draws(case))
        total = total + drawn
        cases.append(
            {
                "name": case.name,
                "planning_rate": case.rate,
                "rate_from": "baseline" if case.from_baseline else "threshold",
                "stored_baseline": case.stored,
                "planned": case.plan.samples,
                "power": case.plan.power,
                "unchanged_probability": case.plan.unchanged,
                "reached": case.plan.reached,
                "samples": case.samples,
                "baseline_samples": baseline_draws(case),
                "detectable": case.detectable,
                "estimate": asdict(drawn),
            }
        )
    return {
        "baseline": {
            "ref": baseline.ref,
            "model": baseline.model,
            "run": baseline.run.id if baseline.run is not None else None,
            "live": baseline.live,
        },
        "candidate": candidate,
        "targets": asdict(budget.targets),
        "cases_compared": len(budget.cases),
        "level": budget.level,
        "samples_option": budget.option,
        "cases": cases,
        "not_in_baseline": missing,
        "detectable": budget.weakest if budget.short else None,
        "pace": {"baseline": asdict(base_pace), "candidate": asdict(cand_pace)},
        "total": asdict(total),
    }


def plan_lines(budget: Budget, document: dict[str, Any]) -> list[str]:
    """The plan for a terminal: the targets, one row per case, the totals."""
    t = budget.targets
    base = document["baseline"]
    if base["run"]:
        against = f"stored run {base['run']} (model {base['model']})"
    else:
        against = f"model {base['model']}, sampled live"
    lines = [
        f"plan: {len(budget.cases)} case(s) against {against}",
        f"catch a drop of {t.detect:g} with power {t.power:g} on one case of the suite: exact "
        f"power of the gate's test at alpha / {len(budget.cases)} = {budget.level:.2g} (the "
        f"level its first regression needs); unchanged rules the drop out at beta {t.beta:g}",
        "",
    ]
    header = ("case", "rate (from)", "stored", "plan", "power", "P(unchanged)", "draws")
    rows = [header]
    for case, data in zip(budget.cases, document["cases"], strict=True):
        unchanged = case.plan.unchanged
        rows.append(
            (
                case.name,
                f"{case.rate:.2f} ({'baseline' if case.from_baseline else 'threshold'})",
                "-" if case.stored is None else str(case.stored),
                str(case.plan.samples) + ("" if case.plan.reached else "!"),
                f"{case.plan.power:.2f}",
                "-" if unchanged is None else f"{unchanged:.4f}",
                f"{case.samples} + {data['baseline_samples']}"
                + (_detects(case) if budget.option is not None else ""),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("  " + "  ".join(cells).rstrip())
    lines.append("")
    if any(not case.plan.reached for case in budget.cases):
        lines.append("!: not reached within the cap; the power shown is the cap's")
    total = document["total"]
    lines.append(f"draws: candidate + baseline samples a case; {total['samples']:,} samples in all")
    lines.append(f"expected: {_estimate(total)}" + _pace_note(document))
    if budget.option is not None:
        weakest = budget.weakest
        lines.append(
            f"a budget of {budget.option} samples a case detects drops of "
            f"{weakest:.2f} or more with power {t.power:g} (the weakest case)"
            if weakest is not None and budget.short
            else f"a budget of {budget.option} samples a case meets the plan"
            if not budget.short
            else f"a budget of {budget.option} samples a case cannot detect any drop with power "
            f"{t.power:g} on some case"
        )
    if document["not_in_baseline"]:
        lines.append(
            "not in the baseline (judged on their thresholds): "
            + ", ".join(document["not_in_baseline"])
        )
    return lines


def _detects(case: CaseBudget) -> str:
    if not case.short:
        return ""
    return f" (detects {case.detectable:.2f})" if case.detectable is not None else " (detects none)"


def _estimate(total: dict[str, Any]) -> str:
    requests, tokens, cost, seconds = (
        total[key] for key in ("requests", "tokens", "cost", "seconds")
    )
    parts = [
        f"{requests:,.0f} requests" if requests is not None else "requests unknown",
        f"{tokens:,.0f} tokens" if tokens is not None else "tokens unknown",
        format_cost(cost) if cost is not None else "cost unknown",
        _duration(seconds) if seconds is not None else "time unknown",
    ]
    return ", ".join(parts)


def _pace_note(document: dict[str, Any]) -> str:
    paces = document["pace"]
    base, cand = paces["baseline"], paces["candidate"]
    if base["model"] == cand["model"]:
        return f" (both at the pace of {base['runs']} stored run(s) of {base['model']})"
    return (
        f" (the candidate at the pace of {cand['runs']} stored run(s) of {cand['model']}, the "
        f"baseline at that of {base['runs']} of {base['model']})"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
