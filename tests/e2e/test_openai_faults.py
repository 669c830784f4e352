"""A suite run by pytest through the ``openai`` backend against an endpoint that misbehaves:
429s with Retry-After, 500s and 503s, dropped connections, answers slower than the timeout,
garbage bodies, fewer choices than ``n``.

Every planned sample must come back exactly once, as an output or as an error; errors only
where the endpoint never recovered; no error counted as a failure; Retry-After waited out.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("openai")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests.integration.conftest
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fakes

from fakes.openai_server import OK, Fault, fake_server

from tests.integration.conftest import Project, suite_yaml

SAMPLES = 40
RETRY_AFTER_S = 0.2

SUITE = suite_yaml(
    "flaky-endpoint",
    """
    - id: first
      prompt: "Reply GOOD ({{ n }})"
      vars: {n: [1, 2]}
      expect: [{equals: GOOD}]
    - id: second
      prompt: "Reply GOOD again"
      expect: [{equals: GOOD}]
    """,
    defaults=f"samples: {SAMPLES}\nthreshold: 0.5",
)


def fate(seed: int) -> str:
    """What the endpoint does to the requests of a seed, by the seed alone (so by sample)."""
    return ("rate-limited", "500s", "dropped", "slow", "broken", "garbage", "fine", "fine")[
        seed % 8
    ]


def plan(body: dict[str, Any], attempt: int) -> Fault:
    kind = fate(body["seed"])
    if kind == "rate-limited" and attempt == 0:
        return Fault(status=429, retry_after=str(RETRY_AFTER_S))
    if kind == "500s" and attempt < 2:
        return Fault(status=500)
    if kind == "dropped" and attempt == 0:
        return Fault(drop=True)
    if kind == "slow" and attempt == 0:
        return Fault(delay_s=5.0)
    if kind == "broken":
        return Fault(status=503)
    if kind == "garbage":
        return Fault(garbage=True)
    if body.get("n", 1) > 1 and attempt == 0:
        return Fault(choices=1)  # n ignored once: the backend must fetch the rest
    return OK


def test_every_sample_completes_or_is_an_error_and_none_is_a_failure(
    pytester: pytest.Pytester,
) -> None:
    with fake_server(plan=plan) as server:
        settings = {
            "backend": "openai",
            "base_url": server.url,
            "model": "flaky",
            "api_key_env": "",
            "timeout_s": 1.5,
            "max_retries": 3,
            "backoff_s": 0.02,
        }
        project = Project(pytester)
        project.configure({"single": {**settings, "n_per_request": 1}}, default="single")
        project.suite("flaky", SUITE)
        result = project.run("--promptcheck-concurrency=16")
    result.assert_outcomes(passed=2)

    [run] = project.runs()
    results = project.results(run.id)
    assert sorted(results) == ["first[single]", "second[single]"]
    for case in results.values():
        samples = case.samples
        assert len(samples) == SAMPLES and len({s.seed for s in samples}) == SAMPLES
        statuses = Counter(s.status for s in samples)
        assert set(statuses) <= {"pass", "error"}  # no failure, whatever the endpoint did
        for sample in samples:
            expected_error = fate(sample.seed) in ("broken", "garbage")
            assert (sample.status == "error") == expected_error, (fate(sample.seed), sample)
            if fate(sample.seed) == "broken":
                assert sample.error is not None and sample.error.endswith("(after 4 attempts)")
        assert case.verdict.outcome.value == "pass"
        assert case.verdict.n == case.verdict.k == statuses["pass"]

    calls: dict[int, list[float]] = {}
    for call in server.calls:
        calls.setdefault(call.body["seed"], []).append(call.at)
    for seed, times in calls.items():
        if fate(seed) == "rate-limited":  # (a busy machine may add a timeout's retry)
            assert len(times) >= 2 and times[1] - times[0] >= RETRY_AFTER_S - 0.01
    result.stdout.fnmatch_lines(["*flaky-endpoint on single*", "*first*PASS*"])


def test_n_requests_survive_faults_too(pytester: pytest.Pytester) -> None:
    """With ``n``, a request's faults hit all its samples together, and an endpoint that
    returns fewer choices than asked costs follow-up requests, never samples."""
    with fake_server(plan=plan) as server:
        project = Project(pytester)
        project.configure(
            {
                "batched": {
                    "backend": "openai",
                    "base_url": server.url,
                    "model": "flaky",
                    "api_key_env": "",
                    "timeout_s": 1.5,
                    "max_retries": 3,
                    "backoff_s": 0.02,
                    "n_per_request": 8,
                }
            },
            default="batched",
        )
        project.suite("flaky", SUITE)
        result = project.run()
    [run] = project.runs()
    for case in project.results(run.id).values():
        assert len(case.samples) == SAMPLES and len({s.seed for s in case.samples}) == SAMPLES
        assert {s.status for s in case.samples} <= {"pass", "error"}
    assert any(call.body.get("n", 1) > 1 for call in server.calls)
    assert result.ret in (0, 1)  # pass or fail on the samples that came, never a crash
    result.stdout.no_fnmatch_line("*Traceback*")
