"""Tool-call suites run by ``pytest --promptcheck`` through the real ``openai`` client (at an
OpenAI-compatible endpoint and at an Azure deployment) and the real ``anthropic`` client, each
against its fake on loopback, with faults injected: ``tool_call`` and ``no_tool_call`` decide
the verdicts, a fault the API recovers from costs nothing, one it never recovers from is an
error and never a failure.

Each sample has a prompt of its own (``n``), so its fate is chosen by its prompt whatever the
order in which concurrent requests arrive (the Messages API has no seed).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.integration.conftest
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.anthropic_server import fake_anthropic_server
from fakes.openai_server import OK, Fault, fake_server

from tests.integration.conftest import Project

SAMPLES = 16
TOOLS = """\
    tools:
      - name: get_weather
        description: The current weather in a city.
        parameters:
          type: object
          properties: {city: {type: string}}
          required: [city]
      - name: get_time
        parameters: {type: object, properties: {zone: {type: string}}}
"""
SUITE = f"""\
suite: tools
defaults: {{samples: {SAMPLES}, threshold: 0.8}}
cases:
  - id: weather-calls-the-tool
    prompt: "weather in Paris ({{{{ n }}}})"
    vars: {{n: {list(range(SAMPLES))}}}
{TOOLS}    expect:
      - tool_call: {{name: get_weather, count: 1, arguments: {{city: "^Paris$"}}}}
  - id: time-calls-the-wrong-tool
    prompt: "time in Oslo ({{{{ n }}}})"
    vars: {{n: {list(range(SAMPLES))}}}
{TOOLS}    expect:
      - tool_call: {{name: get_time}}
  - id: greeting-calls-nothing
    prompt: "hello ({{{{ n }}}})"
    vars: {{n: {list(range(SAMPLES))}}}
{TOOLS}    expect: [no_tool_call]
  - id: chat-calls-a-tool-anyway
    prompt: "chat about weather ({{{{ n }}}})"
    vars: {{n: {list(range(SAMPLES))}}}
{TOOLS}    expect: [no_tool_call]
"""


def prompt_of(body: dict[str, Any]) -> str:
    content = body["messages"][-1]["content"]
    return content if isinstance(content, str) else content[0]["text"]


def number_of(body: dict[str, Any]) -> int:
    found = re.search(r"\((\d+)\)", prompt_of(body))
    assert found is not None
    return int(found.group(1))


def plan(body: dict[str, Any], attempt: int) -> Fault:
    """Sample 3 of every case meets an outage that never ends; samples 5 and 9 a 500, then an
    answer; sample 7 a dropped connection, then an answer."""
    number = number_of(body)
    if number == 3:
        return Fault(status=503, message="upstream unavailable")
    if number in (5, 9) and attempt == 0:
        return Fault(status=500)
    if number == 7 and attempt == 0:
        return Fault(drop=True)
    return OK


def called(prompt: str) -> tuple[str, dict[str, str]] | None:
    """What the scripted model does: which tool it calls for a prompt, with which arguments."""
    if prompt.startswith("hello"):
        return None
    if prompt.startswith("time"):
        return ("get_weather", {"city": "Oslo"})  # the wrong tool, every time
    return ("get_weather", {"city": "Paris"})


def gpt(body: dict[str, Any], index: int) -> str | dict[str, Any]:
    call = called(prompt_of(body))
    if call is None:
        return "Hello!"
    name, arguments = call
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"tool_calls": [{"id": "call_1", "type": "function", "function": function}]}


def claude(body: dict[str, Any], index: int) -> str | list[dict[str, Any]]:
    call = called(prompt_of(body))
    if call is None:
        return "Hello!"
    name, arguments = call
    return [{"type": "tool_use", "id": "toolu_1", "name": name, "input": arguments}]


def assert_verdicts(project: Project, result: pytest.RunResult) -> None:
    result.assert_outcomes(passed=2, failed=2)
    [run] = project.runs()
    results = {key.split("[")[0]: value for key, value in project.results(run.id).items()}
    outcomes = {case: str(r.verdict.outcome.value) for case, r in results.items()}
    assert outcomes == {
        "weather-calls-the-tool": "pass",
        "time-calls-the-wrong-tool": "fail",
        "greeting-calls-nothing": "pass",
        "chat-calls-a-tool-anyway": "fail",
    }
    for case in results.values():
        errors = [s for s in case.samples if s.status == "error"]
        assert [s.variables["n"] for s in errors] == [3], case.case_id  # the outage alone
        assert errors[0].error is not None and "503" in errors[0].error
        assert (case.verdict.n, len(case.samples)) == (SAMPLES - 1, SAMPLES)
    weather = results["weather-calls-the-tool"]
    assert weather.verdict.k == SAMPLES - 1  # the recovered faults cost no sample
    wrong = results["time-calls-the-wrong-tool"]
    assert wrong.verdict.k == 0
    [shown] = {s.output for s in wrong.samples if s.status == "fail"}
    assert shown is not None and 'get_weather({"city": "Oslo"})' in shown
    result.stdout.fnmatch_lines(
        [
            "*tools::time-calls-the-wrong-tool on model*FAIL",
            '*output: get_weather({"city": "Oslo"})',
        ]
    )


OPENAI_SETTINGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "openai-compatible": lambda server: {"base_url": server.url, "api_key_env": ""},
    "azure": lambda server: {
        "api_key_env": "PC_E2E_AZURE_KEY",
        "azure": {"endpoint": server.root, "deployment": "tools", "api_version": "2024-10-21"},
    },
}


@pytest.mark.parametrize("flavour", sorted(OPENAI_SETTINGS))
def test_tool_call_checks_decide_verdicts_through_the_openai_client(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    pytest.importorskip("openai")
    key = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("PC_E2E_AZURE_KEY", key)
    azure = {"azure_api_version": "2024-10-21", "auth": {"api-key": key}}
    with fake_server(answer=gpt, plan=plan, **(azure if flavour == "azure" else {})) as server:
        project = Project(pytester)
        settings = {
            "backend": "openai",
            "model": "gpt-tools",
            "n_per_request": 1,
            "max_retries": 2,
            "backoff_s": 0.01,
            "timeout_s": 5.0,
            **OPENAI_SETTINGS[flavour](server),
        }
        project.configure({"gpt": settings}, default="gpt")
        project.suite("tools", SUITE)
        result = project.run("--promptcheck-concurrency=8")
    assert_verdicts(project, result)
    tools = [call.body["tools"] for call in server.calls]
    assert all(t[0]["function"]["name"] == "get_weather" for t in tools)
    if flavour == "azure":
        assert {call.path for call in server.calls} == {
            "/openai/deployments/tools/chat/completions"
        }


def test_tool_call_checks_decide_verdicts_through_the_anthropic_client(
    pytester: pytest.Pytester,
) -> None:
    pytest.importorskip("anthropic")
    with fake_anthropic_server(answer=claude, plan=plan) as server:
        project = Project(pytester)
        project.configure(
            {
                "claude": {
                    "backend": "anthropic",
                    "model": "claude-tools",
                    "base_url": server.url,
                    "api_key_env": "",
                    "max_retries": 2,
                    "backoff_s": 0.01,
                    "timeout_s": 5.0,
                }
            },
            default="claude",
        )
        project.suite("tools", SUITE)
        result = project.run("--promptcheck-concurrency=8")
    assert_verdicts(project, result)
    assert all(call.body["tools"][0]["name"] == "get_weather" for call in server.calls)
