"""The ``promptcheck`` command: wires a command line to the library, nothing more.

Suites are *run* by pytest (``pytest --promptcheck``); this command covers what happens around a
run: the suite schema, linting suites (:mod:`.suites`), browsing the store (:mod:`.runs`),
comparing runs (:mod:`.compare`), planning a comparison's budget (:mod:`.plan`), rating
outputs and calibrating judges (:mod:`.review`), adapting prompts to a new model
(:mod:`.adapt`), serving, fine-tuning and the tiny models (their packages' own ``commands``
modules). Every user error prints one clear message and exits 2; no tracebacks.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from promptcheck import __version__
from promptcheck.config import ExitCode
from promptcheck.errors import PromptcheckError


def build_parser() -> argparse.ArgumentParser:
    from promptcheck.cli import adapt, compare, init, plan, review, runs, suites
    from promptcheck.serve import commands as serve_commands
    from promptcheck.train import commands as train_commands

    parser = argparse.ArgumentParser(
        prog="promptcheck",
        description="Regression tests for prompts. Run suites with: pytest --promptcheck suites/",
    )
    parser.add_argument("--version", action="version", version=f"promptcheck {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for module in (
        init,
        suites,
        runs,
        compare,
        plan,
        review,
        adapt,
        serve_commands,
        train_commands,
    ):
        module.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except PromptcheckError as exc:
        print(f"promptcheck: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print("promptcheck: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # `promptcheck show RUN --json | head`
        sys.stderr.close()
        return ExitCode.OK
    return code
