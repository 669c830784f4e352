"""A suite run by pytest through the ``anthropic`` backend and the real ``anthropic`` client
against a Messages API that misbehaves: 429s with retry-after, 500s, 529 overloaded, dropped
connections, answers slower than the timeout, garbage bodies, and an overload that never ends.

Every planned sample must come back exactly once, as an output or as an error; errors only where
the API never recovered; no error counted as a failure; retry-after waited out. The API has no
seed, so each sample gets a prompt of its own (one combination per sample) and its fate is
chosen by its prompt.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("anthropic")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.integration.conftest
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.anthropic_server import OK, Fault, fake_anthropic_server

from tests.integration.conftest import Project

SAMPLES = 48
RETRY_AFTER_S = 0.2
FATES = ("rate-limited", "500s", "overloaded", "dropped", "slow", "broken", "garbage", "fine")

SUITE = f"""\
suite: flaky-claude
defaults: {{samples: {SAMPLES}, threshold: 0.5}}
cases:
  - id: numbered
    prompt: "Reply GOOD ({{{{ n }}}})"
    vars: {{n: {list(range(SAMPLES))}}}
    expect: [{{equals: GOOD}}]
"""


def fate(number: int) -> str:
    return FATES[number % len(FATES)]


def number_of(body: dict[str, Any]) -> int:
    found = re.search(r"\((\d+)\)", body["messages"][-1]["content"])
    assert found is not None
    return int(found.group(1))


def plan(body: dict[str, Any], attempt: int) -> Fault:
    kind = fate(number_of(body))
    if kind == "rate-limited" and attempt == 0:
        return Fault(status=429, retry_after=str(RETRY_AFTER_S))
    if kind == "500s" and attempt < 2:
        return Fault(status=500)
    if kind == "overloaded" and attempt < 2:
        return Fault(status=529, message="Overloaded")
    if kind == "dropped" and attempt == 0:
        return Fault(drop=True)
    if kind == "slow" and attempt == 0:
        return Fault(delay_s=5.0)
    if kind == "broken":
        return Fault(status=529, message="Overloaded")
    if kind == "garbage":
        return Fault(garbage=True)
    return OK


@pytest.mark.parametrize("transport", ["aiohttp", "httpx"])
def test_every_sample_completes_or_is_an_error_and_none_is_a_failure(
    pytester: pytest.Pytester, transport: str
) -> None:
    if transport == "aiohttp":
        pytest.importorskip("aiohttp")
    with fake_anthropic_server(plan=plan) as server:
        project = Project(pytester)
        project.configure(
            {
                "claude": {
                    "backend": "anthropic",
                    "base_url": server.url,
                    "model": "claude-flaky",
                    "api_key_env": "",
                    "timeout_s": 1.5,
                    "max_retries": 3,
                    "backoff_s": 0.02,
                    "http_client": transport,
                }
            },
            default="claude",
        )
        project.suite("flaky", SUITE)
        result = project.run("--promptcheck-concurrency=16")
    result.assert_outcomes(passed=1)

    [run] = project.runs()
    [case] = project.results(run.id).values()
    samples = case.samples
    assert len(samples) == SAMPLES
    assert sorted(s.variables["n"] for s in samples) == list(range(SAMPLES))
    statuses = Counter(s.status for s in samples)
    assert set(statuses) <= {"pass", "error"}  # no failure, whatever the API did
    for sample in samples:
        kind = fate(sample.variables["n"])
        assert (sample.status == "error") == (kind in ("broken", "garbage")), (kind, sample)
        if kind == "broken":
            assert sample.error == "HTTP 529 overloaded_error: Overloaded (after 4 attempts)"
        if kind == "garbage":
            assert sample.error is not None and sample.error.startswith("unusable response")
    assert case.verdict.n == case.verdict.k == statuses["pass"] == SAMPLES * 6 // 8

    attempts: dict[int, list[float]] = {}
    for call in server.calls:
        attempts.setdefault(number_of(call.body), []).append(call.at)
    for number, times in attempts.items():
        if fate(number) == "rate-limited":  # (a busy machine may add a timeout's retry)
            assert len(times) >= 2 and times[1] - times[0] >= RETRY_AFTER_S - 0.01
        if fate(number) == "garbage":
            assert len(times) == 1  # retrying cannot cure a body that is not an answer
    result.stdout.fnmatch_lines(["*flaky-claude on claude*", "*model claude: * requests, *"])
