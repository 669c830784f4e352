"""The ``promptcheck`` command: wires a command line to the library, nothing more.

Suites are *run* by pytest (``pytest --promptcheck``); this command covers what happens around a
run: the suite schema, linting suites, browsing the store, fine-tuning and the tiny models.
Every user error prints one clear message and exits 2; there are no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from promptcheck import __version__
from promptcheck.errors import PromptcheckError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promptcheck",
        description="Regression tests for prompts. Run suites with: pytest --promptcheck suites/",
    )
    parser.add_argument("--version", action="version", version=f"promptcheck {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    schema = commands.add_parser("schema", help="print the JSON Schema of the suite format")
    schema.add_argument("--out", type=Path, help="write to this file instead of stdout")
    schema.add_argument(
        "--builtin", action="store_true", help="built-in checks only (ignore project plugins)"
    )
    schema.set_defaults(func=_schema)

    validate = commands.add_parser("validate", help="lint suites without running them")
    validate.add_argument("paths", nargs="+", type=Path, help="suite files or directories")
    validate.set_defaults(func=_validate)

    runs = commands.add_parser("runs", help="list recorded runs, newest first")
    runs.add_argument("--store", type=Path, help="run store (default .promptcheck/promptcheck.db)")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--json", action="store_true", help="print JSON")
    runs.set_defaults(func=_runs)

    show = commands.add_parser("show", help="print one run: its cases and verdicts")
    show.add_argument("run", help="run id, unique id prefix, or label")
    show.add_argument("--store", type=Path, help="run store (default .promptcheck/promptcheck.db)")
    show.add_argument("--json", action="store_true", help="export the run with all samples")
    show.set_defaults(func=_show)

    from promptcheck.cli.compare import add_commands as add_migration_commands
    from promptcheck.serve.commands import add_commands as add_serve_commands

    add_migration_commands(commands)
    add_serve_commands(commands)
    try:
        from promptcheck.train.commands import add_commands
    except ImportError:  # the train package is optional while it is being built
        pass
    else:
        add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except PromptcheckError as exc:
        print(f"promptcheck: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("promptcheck: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `promptcheck show RUN --json | head`
        sys.stderr.close()
        return EXIT_OK
    return code


def _project() -> tuple[Path, object]:
    from promptcheck.config import load_project_config
    from promptcheck.importing import import_module

    root = Path.cwd()
    project = load_project_config(root)
    for module in project.plugins:
        import_module(module)
    return root, project


def _schema(args: argparse.Namespace) -> int:
    from promptcheck.suite.schema import render, suite_schema

    if not args.builtin:
        _project()
    text = render(suite_schema())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from promptcheck.collection import is_suite_file
    from promptcheck.config import ProjectConfig
    from promptcheck.suite.loader import load_suite

    _, project = _project()
    assert isinstance(project, ProjectConfig)
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*.y*ml")) if is_suite_file(p))
        elif path.exists():
            files.append(path)
        else:
            print(f"{path}: no such file or directory", file=sys.stderr)
            return EXIT_USAGE
    bad = 0
    for file in files:
        try:
            suite = load_suite(file, project)
        except PromptcheckError as exc:
            bad += 1
            print(f"error: {exc}")
            continue
        samples = sum(max(c.samples, len(c.combinations)) for c in suite.cases)
        print(
            f"ok: {file}: suite {suite.id!r}, {len(suite.cases)} cases, {samples} samples per model"
        )
    print(f"{len(files) - bad} valid, {bad} invalid")
    return EXIT_FAILED if bad else EXIT_OK


def _open_store(path: Path | None) -> object:
    from promptcheck.config import load_project_config
    from promptcheck.session import DEFAULT_STORE
    from promptcheck.store.database import Store

    target = path or Path(load_project_config(Path.cwd()).store or DEFAULT_STORE)
    if not target.exists():
        raise PromptcheckError(f"no run store at {target}; run 'pytest --promptcheck' first")
    return Store(target)


def _runs(args: argparse.Namespace) -> int:
    from promptcheck.store.database import Store

    store = _open_store(args.store)
    assert isinstance(store, Store)
    with store:
        runs = store.runs(limit=args.limit)
    if args.json:
        print(json.dumps([_jsonable(run) for run in runs], indent=2, default=str))
        return EXIT_OK
    if not runs:
        print("no runs recorded")
        return EXIT_OK
    print(f"{'run':<40} {'model':<16} {'label':<10} {'started':<17} cases  pass  fail  undecided")
    for run in runs:
        started = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
        print(
            f"{run.id:<40} {run.model:<16} {run.label or '':<10} {started:<17} "
            f"{run.cases:>5} {run.passed:>5} {run.failed:>5} {run.undecided:>10}"
        )
    return EXIT_OK


def _show(args: argparse.Namespace) -> int:
    from promptcheck.report.terminal import row_of, summary_lines
    from promptcheck.store.database import Store

    store = _open_store(args.store)
    assert isinstance(store, Store)
    with store:
        run = store.run(args.run)
        if args.json:
            print(json.dumps(store.export_run(run.id), indent=2, default=str))
            return EXIT_OK
        results = store.case_results(run.id)
    print(f"run {run.id}  model {run.model}  commit {run.git_commit or '-'}")
    if run.usage:
        from promptcheck.store.usage import describe

        print(f"usage: {describe(run.usage)}")
    for line in summary_lines(row_of(result) for result in results):
        print(line)
    return EXIT_OK


def _jsonable(run: object) -> object:
    from dataclasses import asdict, is_dataclass

    return asdict(run) if is_dataclass(run) and not isinstance(run, type) else run


if __name__ == "__main__":
    sys.exit(main())
