"""The ``serve`` subcommand's arguments, as ``promptcheck.cli`` mounts them, and the rules for
its key: a key or an explicit ``--no-auth`` (loopback only), never an empty key."""

from __future__ import annotations

import argparse

import pytest

from promptcheck.serve.auth import is_loopback
from promptcheck.serve.commands import add_commands, main, run_serve
from promptcheck.serve.limits import ServerLimits


def parse(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="promptcheck")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["serve", *arguments])


def test_defaults_listen_on_loopback_and_take_the_default_limits() -> None:
    args = parse("models/tiny")
    assert (args.host, args.port, args.api_key, args.api_key_env, args.no_auth) == (
        "127.0.0.1",
        8000,
        None,
        None,
        False,
    )
    assert (args.format, args.device, args.dtype, args.max_batch_size, args.threads) == (
        "auto",
        "auto",
        "auto",
        64,
        None,
    )
    limits = ServerLimits()
    assert (args.max_connections, args.idle_timeout, args.body_timeout) == (
        limits.max_connections,
        limits.idle_timeout_s,
        limits.body_timeout_s,
    )
    assert (args.max_body_bytes, args.max_prompt_chars) == (
        limits.max_body_bytes,
        limits.max_prompt_chars,
    )
    assert args.func is run_serve


def test_options_are_parsed() -> None:
    args = parse("d", "--host", "0.0.0.0", "--port", "0", "--api-key-env", "K", "--name", "m")
    assert (args.host, args.port, args.api_key_env, args.name) == ("0.0.0.0", 0, "K", "m")
    args = parse("d", "--no-auth", "--max-connections", "8", "--idle-timeout", "2.5")
    assert (args.no_auth, args.max_connections, args.idle_timeout) == (True, 8, 2.5)
    with pytest.raises(SystemExit):
        parse("d", "--format", "alpaca")


@pytest.mark.parametrize(
    ("arguments", "environment", "message"),
    [
        ([], {}, "no API key"),
        (["--api-key", ""], {}, "the API key is empty"),
        (["--api-key", "two words"], {}, "spaces or characters outside ASCII"),
        (["--api-key-env", "PROMPTCHECK_SERVE_KEY"], {"PROMPTCHECK_SERVE_KEY": ""}, "is empty"),
        (["--api-key-env", "PROMPTCHECK_SERVE_KEY"], {}, "is not set"),
        (["--api-key", "k", "--api-key-env", "PROMPTCHECK_SERVE_KEY"], {}, "not both"),
        (["--no-auth", "--api-key", "k"], {}, "contradict"),
        (["--no-auth", "--host", "0.0.0.0"], {}, "--no-auth on 0.0.0.0"),
        (["--no-auth", "--host", "192.168.1.5"], {}, "loopback --host only"),
        (["--no-auth", "--max-connections", "0"], {}, "--max-connections"),
        (["--no-auth", "--idle-timeout", "nan"], {}, "--idle-timeout"),
        (["--no-auth", "--body-timeout", "-1"], {}, "--body-timeout"),
        (["--no-auth", "--port", "70000"], {}, "--port"),
    ],
)
def test_what_the_command_refuses_before_loading_anything(
    arguments: list[str],
    environment: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PROMPTCHECK_SERVE_KEY", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["no-such-checkpoint", *arguments]) == 2
    error = capsys.readouterr().err
    assert error.startswith("promptcheck serve: error: ") and message in error
    assert "Traceback" not in error and "two words" not in error


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_no_auth_on_loopback_goes_on_to_load_the_model(
    host: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["no-such-checkpoint", "--no-auth", "--host", host]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("::1", True), ("localhost", True), ("0.0.0.0", False), ("box", False)],
)
def test_which_hosts_are_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
