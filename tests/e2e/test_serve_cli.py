"""``promptcheck serve DIR`` as a user starts it: a process that prints its URL, serves the
official client, and stops cleanly on SIGTERM; user errors (a missing checkpoint, no key or an
empty one, ``--no-auth`` off loopback) exit 2 with one line, no traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

import openai
from fakes.branching_model import build_branching_dolly

from promptcheck.serve.commands import main

KEY_ENV = "PROMPTCHECK_E2E_CLI_KEY"


@pytest.mark.slow  # a fresh process imports torch and transformers: ten seconds on a busy CPU
def test_serve_prints_its_url_serves_and_stops_on_sigterm(tmp_path: Path) -> None:
    checkpoint = build_branching_dolly(tmp_path / "yes-no", 0.8)
    env = {**os.environ, KEY_ENV: "cli-secret"}
    command = [sys.executable, "-m", "promptcheck.serve", str(checkpoint), "--port", "0"]
    command += ["--api-key-env", KEY_ENV, "--name", "yn", "--threads", "1"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # blocks until the model is loaded and listening
        assert line.startswith("promptcheck serve: yn (dolly format, cpu, float32) at http://")
        url = line.rsplit(" ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        api = openai.OpenAI(base_url=url, api_key="cli-secret", max_retries=0, timeout=30)
        answer = api.chat.completions.create(
            model="yn", messages=[{"role": "user", "content": "Yes?"}], n=4, max_tokens=4
        )
        assert {c.message.content for c in answer.choices} <= {"YES", "NO"}
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        assert process.wait(timeout=30) == 0
        assert time.monotonic() - started < 30
        assert process.stderr is not None
        assert "cli-secret" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["does-not-exist", "--no-auth"], "does not exist"),
        ([".", "--no-auth"], "no config.json"),
        ([".", "--api-key-env", "PROMPTCHECK_UNSET_VARIABLE"], "is not set"),
        ([".", "--api-key", ""], "the API key is empty"),
        ([".", "--host", "0.0.0.0"], "no API key"),
        ([".", "--no-auth", "--host", "0.0.0.0"], "--no-auth on 0.0.0.0"),
        ([".", "--no-auth", "--port", "70000"], "--port"),
    ],
)
def test_user_errors_exit_2_with_one_message(
    arguments: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PROMPTCHECK_UNSET_VARIABLE", raising=False)
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith("promptcheck serve: error: ") and message in error
    assert "Traceback" not in error
