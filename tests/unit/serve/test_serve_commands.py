"""The ``serve`` subcommand's arguments, as ``promptcheck.cli`` mounts them."""

from __future__ import annotations

import argparse

import pytest

from promptcheck.serve.commands import _loopback, add_commands, run_serve


def parse(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="promptcheck")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["serve", *arguments])


def test_defaults_listen_on_loopback_without_a_key() -> None:
    args = parse("models/tiny")
    assert (args.host, args.port, args.api_key, args.api_key_env) == ("127.0.0.1", 8000, None, None)
    assert (args.format, args.device, args.dtype, args.max_batch_size, args.threads) == (
        "auto",
        "auto",
        "auto",
        64,
        None,
    )
    assert args.func is run_serve


def test_options_are_parsed() -> None:
    args = parse("d", "--host", "0.0.0.0", "--port", "0", "--api-key-env", "K", "--name", "m")
    assert (args.host, args.port, args.api_key_env, args.name) == ("0.0.0.0", 0, "K", "m")
    with pytest.raises(SystemExit):
        parse("d", "--format", "alpaca")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("box", False)],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert _loopback(host) is loopback
