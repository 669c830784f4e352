"""Suites run by pytest through the hosted backends' newer paths, each against its fake on
loopback: the ``anthropic`` backend (text and tool calls, usage and cost in the summary, the key
nowhere in the store) and the ``openai`` backend on an Azure deployment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fakes package

from fakes.anthropic_server import fake_anthropic_server
from fakes.openai_server import fake_server

from tests.integration.conftest import Project

SECRET = "sk-ant-integration-0123456789"

SUITE = """\
suite: support
defaults: {samples: 12, threshold: 0.8}
cases:
  - id: refund-calls-the-tool
    system: You route support requests.
    prompt: "I want a refund for order {{ order }}."
    vars: {order: [A1, A2]}
    tools:
      - name: refund
        description: Refund an order.
        parameters:
          type: object
          properties: {order: {type: string}}
          required: [order]
    tool_choice: required
    expect:
      - tool_call: {name: refund, count: 1, arguments: {order: "A[0-9]"}}
  - id: greeting
    prompt: Say GOOD.
    expect: [{equals: GOOD}]
"""


def claude(body: dict[str, Any], index: int) -> str | list[dict[str, Any]]:
    """Calls refund with the order the prompt names; says GOOD otherwise."""
    prompt = body["messages"][-1]["content"]
    if "refund" in prompt:
        order = prompt.split("order ")[1].rstrip(".")
        return [
            {"type": "text", "text": "Sure."},
            {"type": "tool_use", "name": "refund", "input": {"order": order}},
        ]
    return "GOOD"


def test_a_suite_runs_on_the_anthropic_backend(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("anthropic")
    monkeypatch.setenv("PC_ANTHROPIC_KEY", SECRET)
    with fake_anthropic_server(answer=claude, key=SECRET) as server:
        project = Project(pytester)
        project.configure(
            {
                "claude": {
                    "backend": "anthropic",
                    "model": "claude-test",
                    "base_url": server.url,
                    "api_key_env": "PC_ANTHROPIC_KEY",
                    "price_per_1k_input": 3.0,
                    "price_per_1k_output": 15.0,
                }
            },
            default="claude",
        )
        project.suite("support", SUITE)
        result = project.run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*model claude: 24 requests, 0 retries, * tokens, $*"])
    bodies = [call.body for call in server.calls]
    refund = [b for b in bodies if "tools" in b]
    assert len(refund) == 12 and all(b["system"] == "You route support requests." for b in refund)
    assert all(b["tool_choice"] == {"type": "any"} for b in refund)
    [run] = project.runs()
    outputs = {s.output for r in project.results(run.id).values() for s in r.samples}
    assert outputs == {
        'Sure.\n[1 tool call]\nrefund({"order": "A1"})',
        'Sure.\n[1 tool call]\nrefund({"order": "A2"})',
        "GOOD",
    }
    for path in project.path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def gpt(body: dict[str, Any], index: int) -> str | dict[str, Any]:
    """The same model in the Chat Completions API's words."""
    prompt = body["messages"][-1]["content"]
    if "refund" in prompt:
        order = prompt.split("order ")[1].rstrip(".")
        call = {"name": "refund", "arguments": f'{{"order": "{order}"}}'}
        return {"tool_calls": [{"id": "call_1", "type": "function", "function": call}]}
    return "GOOD"


def test_a_suite_runs_on_an_azure_deployment(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openai")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    with fake_server(
        answer=gpt, azure_api_version="2024-10-21", auth={"api-key": SECRET}
    ) as server:
        project = Project(pytester)
        project.configure(
            {
                "azure-4o": {
                    "backend": "openai",
                    "model": "gpt-4o-mini",
                    "azure": {
                        "endpoint": server.root,
                        "deployment": "prod",
                        "api_version": "2024-10-21",
                    },
                }
            },
            default="azure-4o",
        )
        project.suite("support", SUITE)
        result = project.run()
    result.assert_outcomes(passed=2)
    assert {call.path for call in server.calls} == {"/openai/deployments/prod/chat/completions"}
    refund = [call.body for call in server.calls if "tools" in call.body]
    assert refund and all(body["tool_choice"] == "required" for body in refund)
    [run] = project.runs()
    outputs = {s.output for r in project.results(run.id).values() for s in r.samples}
    assert outputs == {'refund({"order": "A1"})', 'refund({"order": "A2"})', "GOOD"}
    for path in project.path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
