"""``promptcheck review``: the web app where people rate sampled outputs, and its files.

``promptcheck review`` serves the store on loopback; ``export``, ``import``, ``lock``, ``verify``
and ``calibrate`` work on review sets from the command line (docs/review.md).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from promptcheck.cli.project import open_store
from promptcheck.cli.runs import calibration_lines
from promptcheck.config import (
    DEFAULT_REVIEW_HOST,
    DEFAULT_REVIEW_PORT,
    STORE_HELP,
    ExitCode,
)
from promptcheck.errors import ConfigError, PromptcheckError
from promptcheck.project import load_project_config


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    review = subparsers.add_parser(
        "review",
        help="rate sampled outputs in a browser; calibrate the judges against the ratings",
        description="Serve the run store as a web app where named raters rate sampled outputs "
        "pass or fail (keyboard: p / f). Loopback by default; any other host needs raters with "
        "tokens. Subcommands work on review sets without the browser.",
    )
    review.add_argument("--store", type=Path, metavar="PATH", help=STORE_HELP)
    review.add_argument(
        "--host",
        default=DEFAULT_REVIEW_HOST,
        help=f"address to listen on (default {DEFAULT_REVIEW_HOST}; another needs raters)",
    )
    review.add_argument(
        "--port", type=int, default=DEFAULT_REVIEW_PORT, help="port (0: any free port)"
    )
    review.add_argument(
        "--raters",
        type=Path,
        metavar="FILE",
        help='a TOML file of raters and their tokens: [raters] alice = "token"',
    )
    review.add_argument(
        "--rater",
        action="append",
        default=[],
        metavar="NAME",
        help="add rater NAME (or give them a new token) and print their login link; repeatable",
    )
    review.add_argument(
        "--overlap",
        type=int,
        metavar="N",
        help="raters per item in new review sets (default: [tool.promptcheck] review_overlap, "
        "else 2)",
    )
    review.set_defaults(func=run_serve)
    commands = review.add_subparsers(dest="review_command", metavar="SUBCOMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        parser.add_argument(
            "--store", type=Path, metavar="PATH", help=STORE_HELP, default=argparse.SUPPRESS
        )
        return parser

    export = command("export", "write a review set's ratings as JSONL (with its lock) or CSV")
    export.add_argument("set", metavar="SET", help="review set id, or a run (id, prefix, label)")
    export.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    export.add_argument("--out", type=Path, metavar="FILE", help="write here (default: stdout)")
    export.set_defaults(func=run_export)

    imported = command("import", "read a review set exported by `review export` into the store")
    imported.add_argument("file", type=Path, metavar="FILE")
    imported.add_argument(
        "--format", choices=("jsonl", "csv"), help="default: from the file's extension"
    )
    imported.set_defaults(func=run_import)

    lock = command("lock", "lock a review set: no further ratings; its digest is recorded")
    lock.add_argument("set", metavar="SET", help="review set id, or a run (id, prefix, label)")
    lock.add_argument("--as", dest="by", metavar="NAME", help="who locks (default: you)")
    lock.set_defaults(func=run_lock)

    verify = command("verify", "check that locked sets' ratings are as they were locked")
    verify.add_argument("set", nargs="?", metavar="SET", help="one set (default: every lock)")
    verify.set_defaults(func=run_verify)

    calibrate = command(
        "calibrate",
        "record every judge's calibration from locked ratings against [tool.promptcheck] "
        "judge_floor (which judges gate in later runs)",
    )
    calibrate.set_defaults(func=run_calibrate)


#: What to install when the web app's server (aiohttp) is missing.
INSTALL_HINT = "install the review extra: pip install 'promptcheck[review]'"


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; the login links of new raters are printed once, when made."""
    from promptcheck.review import ReviewWorkspace
    from promptcheck.review.auth import default_rater_name, new_token, read_raters_file
    from promptcheck.review.auth import token_digest as digest

    if args.overlap is not None and not 1 <= args.overlap <= 50:
        raise ConfigError("--overlap must be between 1 and 50")
    if not 0 <= args.port <= 65535:
        raise ConfigError("--port must be between 0 and 65535 (0: any free port)")
    try:
        from promptcheck.review.server import bind, is_loopback, serve
    except ModuleNotFoundError as exc:
        raise ConfigError(f"promptcheck review needs {exc.name}", hint=INSTALL_HINT) from None
    project = load_project_config(Path.cwd())
    with open_store(args.store) as store:
        now = time.time()
        if args.raters is not None:
            for name, token in read_raters_file(args.raters).items():
                store.save_rater(name, digest(token), now)
        fresh: dict[str, str] = {}
        for name in args.rater:
            fresh[name] = new_token()
            store.save_rater(name, digest(fresh[name]), now)
        can_log_in = [rater.name for rater in store.raters() if rater.can_log_in]
        if not is_loopback(args.host) and not can_log_in:
            raise ConfigError(
                f"listening on {args.host} exposes the store to the network: it needs raters "
                "with tokens",
                hint="give --raters FILE or --rater NAME (each rater then logs in with a link)",
            )
        if not can_log_in:
            name = default_rater_name()
            fresh[name] = new_token()
            store.save_rater(name, digest(fresh[name]), now)
        workspace = ReviewWorkspace(
            store,
            floor=project.judge_floor,
            overlap=args.overlap or project.review_overlap,
        )
        try:
            sock = bind(args.host, args.port)
        except OSError as exc:
            raise PromptcheckError(
                f"cannot listen on {args.host}:{args.port}: {exc} (try --port 0 for any free port)"
            ) from None

        def ready(url: str) -> None:
            print(f"promptcheck review: serving {store.path} on {url}/ (Ctrl-C stops)")
            for name, token in fresh.items():
                print(f"  login as {name}: {url}/login?token={token}")
            others = sorted(set(can_log_in) - set(fresh))
            if others:
                print(f"  raters with earlier links: {', '.join(others)}")
            sys.stdout.flush()

        try:
            asyncio.run(serve(workspace, sock, args.host, ready))
        except KeyboardInterrupt:
            print("promptcheck review: stopped")
        finally:
            sock.close()
    return ExitCode.OK


def run_export(args: argparse.Namespace) -> int:
    from promptcheck.review import ReviewWorkspace
    from promptcheck.review.transfer import export_csv, export_jsonl

    with open_store(getattr(args, "store", None)) as store:
        workspace = ReviewWorkspace(store)
        review_set = workspace.review_set(args.set)
        ratings = store.ratings(review_set.id)
    text = (export_jsonl if args.format == "jsonl" else export_csv)(review_set, ratings)
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise PromptcheckError(f"{args.out}: cannot write the export: {exc}") from None
        print(f"{len(ratings)} rating(s) of {review_set.id} written to {args.out}")
    return ExitCode.OK


def run_import(args: argparse.Namespace) -> int:
    from promptcheck.review.transfer import read_review

    form = args.format or args.file.suffix.lstrip(".").lower()
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PromptcheckError(f"{args.file}: cannot read: {exc}") from None
    review_set, ratings = read_review(text, form, str(args.file))
    with open_store(getattr(args, "store", None)) as store:
        added = store.import_review(review_set, ratings, time.time())
    locked = " (locked: its digest matches)" if review_set.lock is not None else ""
    print(f"{added} of {len(ratings)} rating(s) of {review_set.id} imported{locked}")
    return ExitCode.OK


def run_lock(args: argparse.Namespace) -> int:
    from promptcheck.review import ReviewWorkspace
    from promptcheck.review.auth import default_rater_name

    project = load_project_config(Path.cwd())
    with open_store(getattr(args, "store", None)) as store:
        workspace = ReviewWorkspace(store, floor=project.judge_floor)
        review_set = workspace.review_set(args.set)
        lock = workspace.lock(review_set, args.by or default_rater_name())
    print(f"{review_set.id} locked with {lock.ratings} rating(s), digest {lock.digest}")
    return ExitCode.OK


def run_verify(args: argparse.Namespace) -> int:
    from promptcheck.review import ReviewWorkspace

    tampered = 0
    with open_store(getattr(args, "store", None)) as store:
        workspace = ReviewWorkspace(store)
        sets = [workspace.review_set(args.set)] if args.set else workspace.sets()
        checked = 0
        for review_set in sets:
            check = workspace.check_lock(review_set)
            if check is None:
                if args.set:
                    print(f"{review_set.id}: not locked")
                continue
            checked += 1
            if check.intact:
                print(
                    f"{review_set.id}: intact ({check.lock.ratings} ratings, {check.lock.digest})"
                )
            else:
                tampered += 1
                print(
                    f"{review_set.id}: CHANGED AFTER THE LOCK: locked with {check.lock.ratings} "
                    f"ratings, digest {check.lock.digest}; now {check.ratings_now} ratings, "
                    f"digest {check.digest_now}"
                )
        if not checked and not args.set:
            print("no locked review set")
    return ExitCode.FAILED if tampered else ExitCode.OK


def run_calibrate(args: argparse.Namespace) -> int:
    from promptcheck.review import ReviewWorkspace

    project = load_project_config(Path.cwd())
    with open_store(getattr(args, "store", None)) as store:
        rows = ReviewWorkspace(store, floor=project.judge_floor).calibrate()
    if not rows:
        print("no judge has a rated sample in a locked review set")
        return ExitCode.OK
    for line in calibration_lines(rows, recorded=True):
        print(line)
    return ExitCode.OK
