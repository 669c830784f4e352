"""The ``serve`` subcommand for ``promptcheck.cli`` to mount (``python -m promptcheck.serve`` too).

Importing this module imports neither torch nor transformers; the command loads them when it
runs. A user error (no checkpoint there, the port taken) prints one message and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from promptcheck.config import ExitCode
from promptcheck.errors import PromptcheckError

INSTALL_HINT = "install the local extra: pip install 'promptcheck[local]'"


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
    from promptcheck.serve.server import (
        ModelOptions,
        OpenAIServer,
        load_engine,
        serve_until_stopped,
    )

    api_key = args.api_key
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            _error(f"environment variable {args.api_key_env} is not set")
            return ExitCode.USAGE
    if not 0 <= args.port <= 65535 or args.max_batch_size < 1 or (args.threads or 1) < 1:
        _error("--port must be 0-65535, --max-batch-size and --threads at least 1")
        return ExitCode.USAGE
    options = ModelOptions(
        format=args.format,
        device=args.device,
        dtype=args.dtype,
        max_batch_size=args.max_batch_size,
        threads=args.threads,
    )
    engine = load_engine(args.directory, options, model_id=args.name)
    if api_key is None and not _loopback(args.host):
        print(
            f"promptcheck serve: warning: listening on {args.host} without an API key: anyone "
            "who can reach this port can use the model",
            file=sys.stderr,
        )

    def ready(url: str) -> None:
        print(f"promptcheck serve: {engine.model_id} ({engine.describe()}) at {url}", flush=True)

    server = OpenAIServer(engine, api_key=api_key)
    asyncio.run(serve_until_stopped(server, args.host, args.port, ready=ready))
    return ExitCode.OK


def _error(message: str) -> None:
    print(f"promptcheck serve: error: {message}", file=sys.stderr)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m promptcheck.serve DIR ...``: the same command without the ``promptcheck`` CLI."""
    parser = argparse.ArgumentParser(prog="promptcheck")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["serve", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.func(args)
    return code
