"""``promptcheck runs`` and ``promptcheck show``: what the run store holds."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

from promptcheck.cli.project import open_store
from promptcheck.config import STORE_HELP, ExitCode
from promptcheck.report.escaping import printable


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
        "cases  pass  fail  undecided"
    )
    for run in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
        print(
            printable(
                f"{run.id:<40} {run.model:<16} {run.label or '':<10} {started:<17} "
                f"{run.state:<11} {run.cases:>5} {run.passed:>5} {run.failed:>5} "
                f"{run.undecided:>10}"
            )
        )
    return ExitCode.OK


def run_show(args: argparse.Namespace) -> int:
    from promptcheck.report.terminal import row_of, summary_lines
    from promptcheck.store import describe

    with open_store(args.store) as store:
        run = store.run(args.run)
        if args.json:
            print(json.dumps(store.export_run(run.id), indent=2, default=str))
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
    return ExitCode.OK
