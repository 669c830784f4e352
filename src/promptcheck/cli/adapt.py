"""``promptcheck adapt SUITES --model CANDIDATE --baseline BASELINE``: fix the prompts a model
change broke.

The work is :class:`promptcheck.adapt.Adapter`'s; this module reads the options, opens the
project's store and a runner, writes the patched suites (a copy by default, a diff with
``--diff``, in place only with ``--write``) and the reports, and returns the exit code: 0 when
every case that needed adapting was adapted (or none did), 1 when one was not.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from promptcheck.adapt import AdaptContext, Adapter, AdaptReport, AdaptSettings, unified_diff
from promptcheck.adapt.records import SuitePatch
from promptcheck.adapt.settings import DEFAULT_LABEL, DEFAULT_OUT
from promptcheck.cli.project import load_project
from promptcheck.config import STORE_HELP, ExitCode, concurrency, store_path
from promptcheck.errors import ConfigError
from promptcheck.report.output import write_report_file
from promptcheck.stats.racing import CONFIRM_CONTENDERS
from promptcheck.store import RunStatus, Store
from promptcheck.store.provenance import RunFacts, git_commit
from promptcheck.suite import load_suite, suites_under


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``adapt`` to promptcheck's command line."""
    adapt = subparsers.add_parser(
        "adapt",
        help="rewrite the prompts that regressed on a new model until it conforms again",
        description=(
            "Run SUITES on CANDIDATE against BASELINE (a model, or a stored run) as the gate "
            "does; for every case that regressed or fails its threshold, try rewrites of its "
            "prompt (deterministic operators, and an optimizer model's proposals), race them on "
            "part of the case's values and confirm the best on the held-out rest. Confirmed "
            "rewrites are written into patched copies of the suites. Exit code 1 when a case "
            "could not be adapted. See docs/adapt.md."
        ),
    )
    adapt.add_argument(
        "suites", nargs="+", type=Path, metavar="SUITES", help="suite files or folders"
    )
    adapt.add_argument("--model", required=True, metavar="CANDIDATE", help="the new model")
    adapt.add_argument(
        "--baseline",
        required=True,
        metavar="BASELINE",
        help="the model the prompts were written for: a configured model (run live) or a "
        "stored run (id, id prefix or label)",
    )
    adapt.add_argument(
        "--optimizer",
        metavar="MODEL",
        help="a configured model that proposes rewrites too (default: the deterministic operators "
        "only)",
    )
    adapt.add_argument(
        "--samples",
        type=int,
        metavar="N",
        help="samples per case for the diagnosis, the race and the held-out test (default: the "
        "diagnosis draws the gate's planned budget, the race and the test each case's samples)",
    )
    adapt.add_argument(
        "--search-samples", type=int, metavar="N", help="most samples a rewrite draws in the race"
    )
    adapt.add_argument(
        "--confirm-samples", type=int, metavar="N", help="samples of the held-out test"
    )
    adapt.add_argument(
        "--held-out",
        type=float,
        default=0.5,
        metavar="SHARE",
        help="share of a case's variable combinations held out for the confirmation (default 0.5)",
    )
    adapt.add_argument("--seed", type=int, default=0, help="seed of the search / held-out split")
    adapt.add_argument(
        "--contenders",
        type=int,
        default=CONFIRM_CONTENDERS,
        metavar="N",
        help="most rewrites the race could not tell apart that go to the held-out test in turn, "
        f"the level split between them (default {CONFIRM_CONTENDERS})",
    )
    adapt.add_argument(
        "--budget-samples",
        type=int,
        metavar="N",
        help="most samples the races and held-out tests draw in all (cached ones count too)",
    )
    adapt.add_argument("--budget-calls", type=int, metavar="N", help="most optimizer calls in all")
    adapt.add_argument(
        "--budget-cost",
        type=float,
        metavar="X",
        help="stop racing, confirming and asking once the models report costing X (in the unit "
        "of their configured prices)",
    )
    output = adapt.add_mutually_exclusive_group()
    output.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help=f"write patched copies of the suites under DIR (default {DEFAULT_OUT})",
    )
    output.add_argument("--diff", action="store_true", help="print the patches as a unified diff")
    output.add_argument("--write", action="store_true", help="patch the suite files in place")
    adapt.add_argument("--md", type=Path, metavar="PATH", help="write a Markdown report here")
    adapt.add_argument("--html", type=Path, metavar="PATH", help="write an HTML report here")
    adapt.add_argument("--json", action="store_true", help="print the report as JSON")
    adapt.add_argument("--store", type=Path, metavar="PATH", help=STORE_HELP)
    adapt.add_argument("--label", default=DEFAULT_LABEL, help="label of the recorded runs")
    adapt.add_argument("--fresh", action="store_true", help="ignore cached samples")
    adapt.add_argument("--concurrency", type=int, metavar="N", help="requests in flight per model")
    adapt.set_defaults(func=run_adapt)


def run_adapt(args: argparse.Namespace) -> int:
    """The ``adapt`` command; a user error raises PromptcheckError (exit code 2)."""
    from promptcheck.run import Runner

    settings = AdaptSettings(
        samples=args.samples,
        search_samples=args.search_samples or args.samples,
        confirm_samples=args.confirm_samples or args.samples,
        held_out_share=args.held_out,
        budget_samples=args.budget_samples,
        budget_calls=args.budget_calls,
        budget_cost=args.budget_cost,
        seed=args.seed,
        contenders=args.contenders,
    )
    root = Path.cwd()
    project = load_project()
    suites = [load_suite(path, project) for path in suite_files(args.suites)]
    store = Store(
        store_path(root, args.store, project.store), max_output_chars=project.max_stored_output
    )
    runner = Runner(
        cache=store,
        concurrency=concurrency(args.concurrency, project.concurrency),
        fresh=args.fresh,
        announce=lambda line: print(f"promptcheck: {line}", file=sys.stderr, flush=True),
    )
    session = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    facts = RunFacts(session, time.time(), args.label, git_commit(root))
    context = AdaptContext(runner, project, root, facts, store)
    adapter = Adapter(
        context,
        candidate=args.model,
        baseline=args.baseline,
        optimizer=args.optimizer,
        settings=settings,
    )
    interrupted = True
    try:
        report = adapter.adapt(suites)
        interrupted = False
    finally:
        _close(context, interrupted)
    report = _deliver(report, args, root)
    _write_reports(report, args)
    return ExitCode.FAILED if report.not_adapted else ExitCode.OK


def suite_files(paths: Sequence[Path]) -> list[Path]:
    """The suite files named, folders searched (sorted) for YAML files that are suites."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += suites_under(path)
        elif path.is_file() or path.is_symlink():  # a link loop: loading it says so
            found.append(path)
        else:
            raise ConfigError(f"no suite file or folder at {path}")
    if not found:
        raise ConfigError(f"no suite files in {', '.join(map(str, paths))}")
    return found


def _close(context: AdaptContext, interrupted: bool) -> None:
    """Record what the models cost, close the runner and the runs, and the store."""
    runner = context.runner
    backends = runner.backends.built()
    try:
        if context.runs:
            context.store.record_session_usage(context.runs, backends)
        runner.close()
        status = RunStatus.INTERRUPTED if interrupted else RunStatus.FINISHED
        for run_id in sorted(set(context.runs.values())):
            context.store.finish_run(run_id, time.time(), status)
    finally:
        context.store.close()


def _deliver(report: AdaptReport, args: argparse.Namespace, root: Path) -> AdaptReport:
    """Write the patched suites where the options say (or print their diff)."""
    if args.diff:
        for patch in report.patches:
            sys.stdout.write(unified_diff(patch.original, patch.patched, patch.suite_path))
        return report
    written: list[SuitePatch] = []
    for patch in report.patches:
        source = Path(patch.suite_path)
        source = source if source.is_absolute() else root / source
        if args.write:
            target = source
        else:
            out = args.out if args.out is not None else Path(DEFAULT_OUT)
            out = out if out.is_absolute() else root / out
            relative = Path(patch.suite_path)
            target = out / (relative.name if relative.is_absolute() else relative)
        write_report_file("patched suite", target, patch.patched)
        written.append(dataclasses.replace(patch, written=str(target)))
    return dataclasses.replace(report, patches=tuple(written))


def _write_reports(report: AdaptReport, args: argparse.Namespace) -> None:
    from promptcheck.report import adapt_html, adapt_json, adapt_markdown, adapt_text

    if args.md:
        write_report_file("Markdown report", args.md, adapt_markdown.render(report))
    if args.html:
        write_report_file("HTML report", args.html, adapt_html.render(report))
    stream = sys.stderr if args.diff else sys.stdout
    if args.json:
        stream.write(adapt_json.json_text(report))
    else:
        print("\n".join(adapt_text.text_lines(report)), file=stream)
