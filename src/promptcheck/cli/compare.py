"""``promptcheck compare RUN_A RUN_B``: two stored runs compared from the command line.

The comparison itself is :func:`promptcheck.comparison.engine.compare_results`; this module
reads the runs from the store, asks the pairwise judge when one is named, and writes the table,
JSON, Markdown or HTML, with the exit code a CI job gates on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promptcheck.cli.project import load_project, open_store
from promptcheck.comparison import (
    CompareSettings,
    ComparisonReport,
    PairwiseParams,
    compare_results,
    judge_report,
    pairwise_params,
    resolve_judge,
)
from promptcheck.comparison.budget import kept_cuts
from promptcheck.config import (
    COMPARISON_FAIL_ON,
    DEFAULT_ALPHA,
    DEFAULT_DETECT,
    DEFAULT_POWER,
    STORE_HELP,
    ExitCode,
    concurrency,
)
from promptcheck.errors import PromptcheckError
from promptcheck.report.comparison_text import text_lines
from promptcheck.results import CaseResult
from promptcheck.store import Store

if TYPE_CHECKING:
    from promptcheck.review import CalibrationRow


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``compare RUN_A RUN_B`` to promptcheck's command line."""
    compare = subparsers.add_parser(
        "compare",
        help="compare two recorded runs: did the candidate (RUN_B) regress from RUN_A?",
        description=(
            "Compare the cases two recorded runs have in common: per case, both conformance "
            "rates, the difference, and a verdict (regressed, improved, unchanged, "
            "inconclusive) with false alarms controlled across the suite. Exit code 1 when a "
            "case regressed (or was inconclusive, with --fail-on inconclusive)."
        ),
    )
    compare.add_argument("baseline", metavar="RUN_A", help="baseline run: id, id prefix or label")
    compare.add_argument("candidate", metavar="RUN_B", help="candidate run: id, id prefix or label")
    compare.add_argument(
        "--store",
        type=Path,
        metavar="PATH",
        help=STORE_HELP,
    )
    compare.add_argument(
        "--margin",
        type=float,
        metavar="M",
        default=0.0,
        help="drops up to this much are not regressions (default 0)",
    )
    compare.add_argument(
        "--detect",
        "--tolerance",
        dest="detect",
        type=float,
        metavar="DROP",
        default=DEFAULT_DETECT,
        help="the drop the report says the samples can or cannot catch, and that a case must "
        f"rule out to be unchanged (default {DEFAULT_DETECT:g}; --tolerance is its old name)",
    )
    compare.add_argument(
        "--power",
        type=float,
        metavar="P",
        default=DEFAULT_POWER,
        help=f"the power the detectable drops are stated at (default {DEFAULT_POWER:g})",
    )
    compare.add_argument(
        "--alpha",
        type=float,
        metavar="A",
        default=DEFAULT_ALPHA,
        help=f"chance of any false regression across the suite (default {DEFAULT_ALPHA:g})",
    )
    compare.add_argument("--md", type=Path, metavar="PATH", help="write a Markdown summary here")
    compare.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="write a self-contained HTML report here: both runs side by side, with samples",
    )
    compare.add_argument("--json", action="store_true", help="print JSON instead of the table")
    compare.add_argument(
        "--fail-on",
        choices=COMPARISON_FAIL_ON,
        default="regressed",
        help="exit 1 when a case regressed (default), or also when one is inconclusive",
    )
    compare.add_argument(
        "--pairwise",
        metavar="JUDGE",
        help="also ask JUDGE (a model of [tool.promptcheck.models]) whether each candidate output "
        "is at least as good as the baseline's for the same prompt, in both orders; shown as one "
        "more check per case (diagnosis: it does not change the verdicts or the exit code)",
    )
    compare.add_argument(
        "--pairwise-rubric",
        metavar="TEXT",
        help="what makes a response better, for the pairwise judge (default: follows the "
        "instruction better, including its required format)",
    )
    compare.add_argument(
        "--pairwise-margin",
        type=float,
        metavar="M",
        help="share of prompts the baseline may win on while the candidate passes the pairwise "
        "check (default 0.05)",
    )
    compare.set_defaults(func=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """The ``compare`` command: errors a user can fix raise PromptcheckError, which the CLI's
    ``main`` prints as one line and turns into exit code 2, as for every other command."""
    from promptcheck.report.files import write_comparison_files

    settings = CompareSettings(
        margin=args.margin, detect=args.detect, alpha=args.alpha, power=args.power
    )
    pairwise = pairwise_params(args.pairwise, args.pairwise_rubric, args.pairwise_margin)
    with open_store(args.store) as store:
        base_run = store.run(args.baseline)
        cand_run = store.run(args.candidate)
        base_cases = store.case_results(base_run.id)
        cand_cases = store.case_results(cand_run.id)
        with kept_cuts(store.path.parent):  # the detectable drops reuse the plans' cut-offs
            report = compare_results(base_run, base_cases, cand_run, cand_cases, settings)
        if not report.rows:
            raise PromptcheckError(
                f"runs {report.baseline.id} and {report.candidate.id} have no case in common "
                "(cases are matched by suite path and case id); nothing to compare"
            )
        if pairwise is not None:
            report = _judge_offline(report, base_cases, cand_cases, pairwise, store)
        write_comparison_files(report, md=args.md, html=args.html, store=store)
        if args.json:
            from promptcheck.project import load_project_config
            from promptcheck.review import store_calibration

            floor = load_project_config(Path.cwd()).judge_floor
            calibration = store_calibration(store, floor, [base_run.id, cand_run.id])
            sys.stdout.write(json_text(report, calibration))
    if not args.json:
        print("\n".join(text_lines(report)))
    return ExitCode.FAILED if report.failing(args.fail_on) else ExitCode.OK


def _judge_offline(
    report: ComparisonReport,
    baseline_cases: Sequence[CaseResult],
    candidate_cases: Sequence[CaseResult],
    params: PairwiseParams,
    store: Store,
) -> ComparisonReport:
    """Ask the pairwise judge, a model of the project in the working directory, through a
    runner of its own whose cache is the store: a second ``compare`` asks nothing again."""
    from promptcheck.run import Runner

    project = load_project()
    judge = resolve_judge(params.model, project)
    runner = Runner(cache=store, concurrency=concurrency(None, project.concurrency))
    try:
        return judge_report(report, baseline_cases, candidate_cases, runner, judge, params)
    finally:
        runner.close()


def json_text(report: ComparisonReport, calibration: Sequence[CalibrationRow] = ()) -> str:
    """``compare --json``: the versioned document of :mod:`promptcheck.report.json_report`, with
    each case's pairwise check under ``pairwise`` (null without a judge; an added field) and the
    two runs' judges against human ratings under ``calibration`` (empty without ratings)."""
    import json

    from promptcheck.report import json_report

    data = json_report.to_dict(report, calibration)
    for case, row in zip(data["cases"], report.rows, strict=True):
        case["pairwise"] = row.pairwise.as_dict() if row.pairwise is not None else None
    return json.dumps(data, indent=2, default=str) + "\n"
