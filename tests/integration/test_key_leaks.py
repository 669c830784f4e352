"""A hosted model's key reaches no file and no terminal, even read with the trailing newline of
a secret file and echoed back by the server in an error: the Azure deployment case the audit of
issue 17 found leaking through the HTTP client's complaint about the header."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fakes package

from fakes.openai_server import Fault, fake_server

from tests.integration.conftest import Project

KEY = "0123456789abcdef0123456789abcdef"  # Azure's shape: 32 hexadecimal digits

SUITE = """\
suite: leaks
defaults: {samples: 2, threshold: 0.5}
cases:
  - id: a
    prompt: hi
    expect: [{equals: GOOD}]
"""


def test_an_azure_key_with_a_trailing_newline_is_sent_clean_and_never_written(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    monkeypatch.setenv("PC_AZURE_KEY", KEY + "\n")

    def echo_the_key(body: dict[str, Any], attempt: int) -> Fault:
        return Fault(status=401, message=f"Access denied: invalid subscription key {KEY}.")

    with fake_server(plan=echo_the_key, azure_api_version="2024-10-21") as server:
        project = Project(pytester)
        project.configure(
            {
                "az": {
                    "backend": "openai",
                    "model": "gpt",
                    "http_client": "httpx",
                    "max_retries": 0,
                    "api_key_env": "PC_AZURE_KEY",
                    "azure": {"endpoint": server.root, "api_version": "2024-10-21"},
                }
            },
            default="az",
        )
        project.suite("leaks", SUITE)
        result = project.run(
            "--junitxml=junit.xml", "--promptcheck-md=report.md", "--promptcheck-html=report.html"
        )
    assert server.calls and all(call.headers["api-key"] == KEY for call in server.calls)
    written = [p for p in project.path.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"junit.xml", "report.md", "report.html", "promptcheck.db"} <= names, names
    [run] = project.runs()
    errors = [s.error for r in project.results(run.id).values() for s in r.samples]
    assert errors and all(e is not None and "HTTP 401" in e for e in errors), errors
    for path in written:
        assert KEY[:16].encode() not in path.read_bytes(), path
    terminal = result.stdout.str() + result.stderr.str()
    assert "HTTP 401" in terminal and "<redacted>" in terminal
    assert KEY[:16] not in terminal
