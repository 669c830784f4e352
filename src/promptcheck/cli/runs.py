"""``promptcheck runs`` and ``promptcheck show``: what the run store holds."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck.cli.project import open_store
from promptcheck.config import STORE_HELP, ExitCode
from promptcheck.report.escaping import printable

if TYPE_CHECKING:
    from promptcheck.review import CalibrationRow


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = subparsers.add_parser("runs", help="list recorded runs, newest first")
    runs.add_argument("--store", type=Path, help=STORE_HELP)
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(func=run_runs)

    show = subparsers.add_parser("show", help="print one run: its cases and verdicts")
    show.add_argument("run", help="run id, unique id prefix, or label")
    show.add_argument("--store", type=Path, help=STORE_HELP)
    show.add_argument("--json", action="store_true", help="export the run with all samples")
    show.set_defaults(func=run_show)


def run_runs(args: argparse.Namespace) -> int:
    with open_store(args.store) as store:
        runs = store.runs(limit=args.limit)
    if args.json:
        print(json.dumps([asdict(run) for run in runs], indent=2, default=str))
        return ExitCode.OK
    if not runs:
        print("no runs recorded")
        return ExitCode.OK
    print(
        f"{'run':<40} {'model':<16} {'label':<10} {'started':<17} {'status':<11} "
        "cases  pass  fail  undecided  error"
    )
    for run in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
        print(
            printable(
                f"{run.id:<40} {run.model:<16} {run.label or '':<10} {started:<17} "
                f"{run.state:<11} {run.cases:>5} {run.passed:>5} {run.failed:>5} "
                f"{run.undecided:>10} {run.errored:>6}"
            )
        )
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    from promptcheck.project import load_project_config
    from promptcheck.report.json_report import calibration_list
    from promptcheck.report.terminal import row_of, summary_lines
    from promptcheck.review import store_calibration
    from promptcheck.store import describe

    floor = load_project_config(Path.cwd()).judge_floor
    with open_store(args.store) as store:
        run = store.run(args.run)
        calibration = store_calibration(store, floor, [run.id])
        if args.json:
            data = store.export_run(run.id)
            data["calibration"] = calibration_list(calibration)
            print(json.dumps(data, indent=2, default=str))
            return ExitCode.OK
        results = store.case_results(run.id)
    print(
        printable(
            f"run {run.id}  model {run.model}  commit {run.git_commit or '-'}  status {run.state}"
        )
    )
    if run.usage:
        print(f"usage: {describe(run.usage)}")
    for line in summary_lines(row_of(result) for result in results):
        print(line)
    if calibration:
        for line in calibration_lines(calibration):
            print(line)
    return ExitCode.OK


def calibration_lines(rows: Sequence[CalibrationRow], *, recorded: bool = False) -> list[str]:
    """The judges against the human labels (promptcheck review), one line per judging check:
    the labelled items, sensitivity, specificity and kappa with 95% intervals, the corrected
    rate of each run shown, and whether the judge gates (as recorded from locked ratings)."""
    lines = ["judges against human ratings (promptcheck review; positive = pass, 95% intervals)"]
    for row in rows:
        c = row.calibration
        key = c.key
        lines.append(
            f"  {key.suite}::{key.case_id} [{key.check_index}] {key.label} by {key.judge}: "
            f"{c.items} labelled ({c.human_pass} pass, {c.human_fail} fail)"
        )
        lines.append(
            f"    sensitivity {_estimate(c.sensitivity)}  specificity {_estimate(c.specificity)}"
            f"  kappa {_estimate(c.kappa, percent=False)}"
        )
        for rate in row.corrected:
            lines.append(
                f"    run {rate.run_id}: judge passes {rate.positives}/{rate.judged}, corrected "
                f"rate {_estimate(rate.corrected)}"
            )
        state = row.recorded if recorded else row.recorded or None
        if state is not None:
            gates = "gates" if state.gates else "diagnostic only"
            lines.append(f"    recorded: {gates} ({state.reason})")
        else:
            gates = "would gate" if row.decision.gates else "would be diagnostic only"
            lines.append(
                f"    not recorded yet (lock a review set): {gates} ({row.decision.reason})"
            )
    return [printable(line) for line in lines]


def _estimate(estimate: object, *, percent: bool = True) -> str:
    value = getattr(estimate, "value", None)
    low, high = getattr(estimate, "interval", (0.0, 1.0))
    if value is None:
        return "undefined"
    if percent:
        return f"{100 * value:.1f}% ({100 * low:.1f}-{100 * high:.1f}%)"
    return f"{value:.3f} ({low:.3f} to {high:.3f})"
