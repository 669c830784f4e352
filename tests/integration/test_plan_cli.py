"""``promptcheck plan SUITES --baseline B``: the gate's plan, and what it costs, before a run.

The references are the library's own plan (``comparison.budget.plan_case``, whose exactness is
tested in tests/unit/stats/test_power.py) and arithmetic on the usage recorded in the store: the
command must print what the gate will draw and price it at the recorded pace.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from promptcheck import cli
from promptcheck.comparison.budget import Targets, plan_case
from promptcheck.config import ExitCode

from .conftest import MIGRATION_MODELS, Project, suite_yaml

MAIN = suite_yaml(
    "main",
    """
    - {id: stable-one, prompt: stable one, expect: [{equals: GOOD}]}
    - {id: stable-two, prompt: stable two, expect: [{equals: GOOD}]}
    - {id: json-case, prompt: json please, threshold: 0.9, expect: [{equals: GOOD}]}
    """,
)
TARGETS = Targets(alpha=0.05, beta=0.2, margin=0.0, detect=0.15, power=0.8)

Plan = Callable[..., tuple[int, str, str]]


@pytest.fixture
def plan(capsys: pytest.CaptureFixture[str]) -> Plan:
    """Run ``promptcheck plan ARGS`` in-process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli.main(["plan", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def migrating(project: Project) -> Project:
    project.configure(MIGRATION_MODELS, default=None)
    project.suite("main", MAIN)
    return project


def rows(out: str) -> dict[str, list[str]]:
    """The plan's table: case id -> its cells."""
    found = {}
    for line in out.splitlines():
        if line.startswith("  suites/"):
            cells = line.split()
            found[cells[0].split("::")[1]] = cells[1:]
    return found


def test_a_live_baseline_is_planned_at_each_cases_threshold(migrating: Project, plan: Plan) -> None:
    code, out, _ = plan("suites", "--baseline", "old")
    assert code == ExitCode.OK
    assert out.startswith("plan: 3 case(s) against model old, sampled live\n")
    table = rows(out)
    for case, threshold in (("stable-one", 0.95), ("json-case", 0.9)):
        expected = plan_case(threshold, TARGETS, 3, 0, top_up=True)
        rate, source, stored, planned, power = table[case][:5]
        assert (rate, source, stored) == (f"{threshold:.2f}", "(threshold)", "-")
        assert (int(planned), power) == (expected.samples, f"{expected.power:.2f}")
        assert table[case][-3:] == [str(expected.samples), "+", str(expected.samples)]
    assert int(table["json-case"][3]) > int(table["stable-one"][3])  # a lower rate needs more
    # nothing stored yet: nothing to price
    assert "expected: requests unknown, tokens unknown, cost unknown, time unknown" in out


def test_a_stored_baseline_prices_the_plan_at_its_recorded_pace(
    migrating: Project, plan: Plan
) -> None:
    migrating.run("--promptcheck-model", "old", "--promptcheck-label", "blessed")
    (stored,) = migrating.runs()
    assert stored.samples == 60
    with migrating.store() as store:
        store.record_usage(
            stored.id,
            {"requests": 30, "prompt_tokens": 6_000, "completion_tokens": 600, "cost": 0.6},
        )
    # no candidate named: it is assumed to keep the baseline model's pace
    code, text, _ = plan("suites", "--baseline", "blessed", "--json")
    assert code == ExitCode.OK
    document = json.loads(text)
    assert document["baseline"]["run"] == stored.id
    base_pace = document["pace"]["baseline"]
    assert (base_pace["requests"], base_pace["tokens"], base_pace["cost"]) == (0.5, 110.0, 0.01)
    total = document["total"]
    # 20 stored a case: every case is topped up to its plan, and the candidate draws its plan
    drawn = sum(case["samples"] + case["baseline_samples"] for case in document["cases"])
    assert all(case["baseline_samples"] == case["samples"] - 20 for case in document["cases"])
    assert total["samples"] == drawn
    assert total["requests"] == pytest.approx(0.5 * drawn)
    assert total["tokens"] == pytest.approx(110.0 * drawn)
    assert total["cost"] == pytest.approx(0.01 * drawn)
    assert total["seconds"] is not None
    code, out, _ = plan("suites", "--baseline", "blessed")
    assert f"expected: {0.5 * drawn:,.0f} requests, {110 * drawn:,.0f} tokens, $" in out
    # against its own stored run a model is never topped up: that would mix its past samples
    # with its present ones; the short baseline then limits what can be detected
    code, text, _ = plan("suites", "--baseline", "blessed", "--model", "old", "--json")
    own = json.loads(text)
    assert all(case["baseline_samples"] == 0 for case in own["cases"])
    assert all(case["detectable"] is None or case["detectable"] > 0.15 for case in own["cases"])


def test_a_budget_says_which_drop_it_can_detect(migrating: Project, plan: Plan) -> None:
    code, out, _ = plan("suites", "--baseline", "old", "--samples", "20")
    assert code == ExitCode.OK
    lines = out.splitlines()
    weakest = next(line for line in lines if line.startswith("a budget of 20 samples a case"))
    drop = float(weakest.split("detects drops of ")[1].split()[0])
    assert drop > 0.3
    assert all("(detects" in " ".join(cells) for cells in rows(out).values())
    code, text, _ = plan("suites", "--baseline", "old", "--samples", "20", "--json")
    assert json.loads(text)["detectable"] == pytest.approx(drop, abs=0.005)
    _, out, _ = plan("suites", "--baseline", "old", "--samples", "900")
    assert "a budget of 900 samples a case meets the plan" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suites", "--baseline", "nowhere"], "baseline 'nowhere' is neither a model"),
        (["missing-dir", "--baseline", "old"], "missing-dir: no such file or directory"),
        (["suites", "--baseline", "old", "--detect", "0"], "the drop to detect must be above"),
        (["suites", "--baseline", "old", "--samples", "0"], "--samples must be a whole number"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(
    migrating: Project, plan: Plan, args: list[str], message: str
) -> None:
    code, out, err = plan(*args)
    assert code == ExitCode.USAGE
    assert err.startswith("promptcheck: error: ") and message in err
    assert "Traceback" not in err and out == ""
