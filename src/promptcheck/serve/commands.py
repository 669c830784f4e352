"""The ``serve`` subcommand for ``promptcheck.cli`` to mount (``python -m promptcheck.serve`` too).

Importing this module imports neither torch, transformers nor aiohttp; the command loads them
when it runs. A user error (no checkpoint there, the port taken, no key) prints one message and
exits 2.

The server takes a key, or is told explicitly to take none: ``--no-auth``, which is allowed on a
loopback address only (anyone who can reach a wider address could use the model). An empty key
is an error, never a way of switching the key off.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from promptcheck.config import ExitCode
from promptcheck.errors import ConfigError, PromptcheckError
from promptcheck.serve.auth import check_api_key, is_loopback
from promptcheck.serve.limits import ServerLimits

INSTALL_HINT = "install the serve extra: pip install 'promptcheck[serve]'"
KEY_NEEDED_HINT = (
    "give a key with --api-key-env VAR (clients send `Authorization: Bearer KEY`), or "
    "--no-auth to serve without one on a loopback address"
)


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``serve DIR`` to a parser's subcommands."""
    serve = subparsers.add_parser(
        "serve",
        help="serve a local checkpoint over an OpenAI-compatible HTTP API",
        description="Serve a Hugging Face checkpoint (Dolly v2 first-class) over an "
        "OpenAI-compatible API: /v1/models, /v1/completions, /v1/chat/completions. Concurrent "
        "requests are batched on the model. Test it with `backend: openai` and "
        "`base_url: http://HOST:PORT/v1`.",
    )
    serve.add_argument("directory", type=Path, metavar="DIR", help="checkpoint directory")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (8000; 0 picks a free one)")
    serve.add_argument(
        "--api-key",
        help="require `Authorization: Bearer KEY` (visible in the process list; prefer "
        "--api-key-env)",
    )
    serve.add_argument(
        "--api-key-env", metavar="VAR", help="require the key held by environment variable VAR"
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="serve without a key (only on a loopback --host: any local process can use it)",
    )
    serve.add_argument("--name", help="model id clients ask for (default: the directory's name)")
    serve.add_argument(
        "--format",
        choices=("auto", "dolly", "chat", "raw"),
        default="auto",
        help="how chat messages are rendered (auto: dolly, else the chat template)",
    )
    serve.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    serve.add_argument(
        "--dtype", choices=("auto", "float32", "bfloat16", "float16"), default="auto"
    )
    serve.add_argument(
        "--max-batch-size", type=int, default=64, help="most rows (samples) per forward pass"
    )
    serve.add_argument(
        "--threads",
        type=int,
        help="torch CPU threads (default: one per core; 1 is often fastest for small models "
        "on a busy machine)",
    )
    limits = ServerLimits()
    serve.add_argument(
        "--max-connections",
        type=int,
        default=limits.max_connections,
        help=f"open connections at most ({limits.max_connections}); at the cap the longest-idle "
        "one is closed, or, when all are busy, the new one gets a 503",
    )
    serve.add_argument(
        "--idle-timeout",
        type=float,
        default=limits.idle_timeout_s,
        metavar="SECONDS",
        help=f"close a connection idle this long, one that has not sent a complete request "
        f"head this long after connecting or its last answer, or one that has not read a piece "
        f"of its answer this long ({limits.idle_timeout_s:g})",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        default=limits.body_timeout_s,
        metavar="SECONDS",
        help=f"time a client has to send a request body ({limits.body_timeout_s:g}; then 408)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=int,
        default=limits.max_body_bytes,
        help=f"largest request body ({limits.max_body_bytes}; then 413)",
    )
    serve.add_argument(
        "--max-prompt-chars",
        type=int,
        default=limits.max_prompt_chars,
        help=f"most prompt characters a request may carry ({limits.max_prompt_chars}; then 400)",
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Load the checkpoint, print the URL, serve until SIGINT or SIGTERM."""
    try:
        return _serve(args)
    except PromptcheckError as exc:
        _error(str(exc))
        return ExitCode.USAGE
    except ModuleNotFoundError as exc:
        _error(f"{exc}\n  hint: {INSTALL_HINT}")
        return ExitCode.USAGE
    except OSError as exc:  # the port is taken, the address is not this machine's
        reason = exc.strerror or str(exc)
        _error(f"cannot listen on {args.host}:{args.port}: {reason}")
        return ExitCode.USAGE


def _serve(args: argparse.Namespace) -> int:
    api_key = _api_key(args)
    if not 0 <= args.port <= 65535 or args.max_batch_size < 1 or (args.threads or 1) < 1:
        _error("--port must be 0-65535, --max-batch-size and --threads at least 1")
        return ExitCode.USAGE
    limits = ServerLimits(
        max_connections=args.max_connections,
        idle_timeout_s=args.idle_timeout,
        body_timeout_s=args.body_timeout,
        max_body_bytes=args.max_body_bytes,
        max_prompt_chars=args.max_prompt_chars,
    )
    from promptcheck.serve.server import (
        ModelOptions,
        OpenAIServer,
        load_engine,
        serve_until_stopped,
    )

    options = ModelOptions(
        format=args.format,
        device=args.device,
        dtype=args.dtype,
        max_batch_size=args.max_batch_size,
        threads=args.threads,
    )
    engine = load_engine(args.directory, options, model_id=args.name)

    def ready(url: str) -> None:
        print(f"promptcheck serve: {engine.model_id} ({engine.describe()}) at {url}", flush=True)
        if api_key is None:
            print(
                "promptcheck serve: no API key (--no-auth): any process on this machine can "
                "use the model",
                file=sys.stderr,
                flush=True,
            )

    server = OpenAIServer(engine, api_key=api_key, limits=limits)
    asyncio.run(serve_until_stopped(server, args.host, args.port, ready=ready))
    return ExitCode.OK


def _api_key(args: argparse.Namespace) -> str | None:
    """The key the server requires, or None under ``--no-auth``; raises ConfigError."""
    if args.api_key is not None and args.api_key_env:
        raise ConfigError("give --api-key or --api-key-env, not both")
    key: str | None = args.api_key
    if args.api_key_env:
        key = os.environ.get(args.api_key_env)
        if key is None:
            raise ConfigError(f"environment variable {args.api_key_env} is not set")
        if not key:
            raise ConfigError(f"environment variable {args.api_key_env} is empty")
    if args.no_auth:
        if key is not None:
            raise ConfigError("--no-auth and an API key contradict each other")
        if not is_loopback(args.host):
            raise ConfigError(
                f"--no-auth on {args.host}: anyone who can reach it could use the model",
                hint="serve without a key on a loopback --host only (127.0.0.1, ::1, "
                "localhost); elsewhere give --api-key-env VAR",
            )
        return None
    if key is None:
        raise ConfigError("no API key", hint=KEY_NEEDED_HINT)
    check_api_key(key)
    return key


def _error(message: str) -> None:
    print(f"promptcheck serve: error: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m promptcheck.serve DIR ...``: the same command without the ``promptcheck`` CLI."""
    parser = argparse.ArgumentParser(prog="promptcheck")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code
