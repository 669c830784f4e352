"""``promptcheck schema`` and ``promptcheck validate``: the suite format, and suites checked
without running them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from promptcheck.cli.project import load_project
from promptcheck.config import ExitCode
from promptcheck.errors import PromptcheckError


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    schema = subparsers.add_parser("schema", help="print the JSON Schema of the suite format")
    schema.add_argument("--out", type=Path, help="write to this file instead of stdout")
    schema.add_argument(
        "--builtin", action="store_true", help="built-in checks only (ignore project plugins)"
    )
    schema.set_defaults(func=run_schema)

    validate = subparsers.add_parser("validate", help="lint suites without running them")
    validate.add_argument("paths", nargs="+", type=Path, help="suite files or directories")
    validate.set_defaults(func=run_validate)


def run_schema(args: argparse.Namespace) -> int:
    from promptcheck.suite.schema import render, suite_schema

    if not args.builtin:
        load_project()
    text = render(suite_schema())
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def run_validate(args: argparse.Namespace) -> int:
    from promptcheck.suite import load_suite, suites_under

    project = load_project()
    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files.extend(suites_under(path))
        elif path.exists() or path.is_symlink():  # a link loop or a dangling link: said so
            files.append(path)
        else:
            print(f"{path}: no such file or directory", file=sys.stderr)
            return ExitCode.USAGE
    bad = 0
    for file in files:
        try:
            suite = load_suite(file, project, execute=False)
        except PromptcheckError as exc:
            bad += 1
            print(f"error: {exc}")
            continue
        samples = sum(max(c.samples, len(c.combinations)) for c in suite.cases)
        print(
            f"ok: {file}: suite {suite.id!r}, {len(suite.cases)} cases, {samples} samples per model"
        )
    print(f"{len(files) - bad} valid, {bad} invalid")
    return ExitCode.FAILED if bad else ExitCode.OK
