"""The gate at its defaults: a plain ``--promptcheck-baseline`` run catches a real drop.

Ten cases that conform 95% of the time, no ``samples`` in the suite (so the suite default of 20
would apply to a threshold run). The scripted candidate ``new`` drops one case to 75%; ``same``
conforms exactly as the baseline does (a different model: its own samples). Nothing but the
model names is given: each case draws its planned budget.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import BAD, GOOD, Project, suite_yaml

CASES = 10
DROPPED = 3


def rates(dropped: float | None = None) -> dict[str, Any]:
    """A scripted model: every case at 95%, case DROPPED at ``dropped`` if given."""
    rules = []
    for i in range(CASES):
        rate = dropped if dropped is not None and i == DROPPED else 0.95
        outputs = [{"text": GOOD, "weight": rate}, {"text": BAD, "weight": 1 - rate}]
        rules.append({"match": f"^case {i}$", "outputs": outputs})
    return {"backend": "scripted", "rules": rules}


SUITE = suite_yaml(
    "ten",
    "\n".join(
        f"- {{id: case-{i}, prompt: 'case {i}', expect: [{{equals: {GOOD}}}]}}"
        for i in range(CASES)
    ),
    defaults="threshold: 0.95",
)


@pytest.fixture
def ten(project: Project) -> Project:
    project.configure({"old": rates(), "new": rates(0.75), "same": rates()}, default=None)
    project.suite("ten", SUITE)
    return project


def comparison(output: str) -> dict[str, str]:
    """case name -> change, from the comparison table of the terminal summary."""
    section = output.split("= promptcheck comparison =")[1]
    found = {}
    for line in section.splitlines():
        if line.startswith("  suites/"):
            words = line.replace(" (critical)", "").split()
            found[words[0].split("::")[1]] = words[1]
    return found


def drawn(output: str) -> int:
    found = re.search(r"^drawn: (\d+) samples a case", output, re.MULTILINE)
    assert found is not None
    return int(found.group(1))


def test_the_plain_invocation_flags_a_drop_from_95_to_75(ten: Project) -> None:
    result = ten.run("--promptcheck-model", "new", "--promptcheck-baseline", "old")
    changes = comparison(result.stdout.str())
    assert changes[f"case-{DROPPED}"] == "REGRESSED"
    # Benjamini-Hochberg controls the false discovery rate: once a real regression is found it
    # lets others through more easily (docs/statistics.md), so only the drop is asserted here
    assert set(changes.values()) <= {"REGRESSED", "UNCHANGED"}
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # it drew the plan, not the suite default of 20, and said what the plan buys
    assert drawn(result.stdout.str()) > 20
    result.stdout.fnmatch_lines(
        [
            "baseline strength: * scored samples a case (fewest *), drawn in this session",
            "budget: planned * samples a case to catch a drop of 0.15 with power 0.8 (exact, at "
            "alpha / 10 = 0.005, the level the suite's first regression needs)",
        ]
    )


def test_an_unchanged_pair_is_not_flagged_even_when_inconclusive_fails(ten: Project) -> None:
    result = ten.run(
        "--promptcheck-model",
        "same",
        "--promptcheck-baseline",
        "old",
        "--promptcheck-fail-on",
        "inconclusive",
    )
    assert set(comparison(result.stdout.str()).values()) == {"UNCHANGED"}
    result.assert_outcomes(passed=CASES)
    assert result.ret == pytest.ExitCode.OK


def test_a_default_stored_baseline_is_topped_up_to_the_plan(ten: Project) -> None:
    """A threshold run at the suite default (20 a case) stored as the baseline: too short for
    the plan, so the gate tops it up with the baseline's model, then flags the drop."""
    ten.run("--promptcheck-model", "old", "--promptcheck-label", "blessed")
    (stored,) = ten.runs()
    assert stored.samples == 20 * CASES
    result = ten.run("--promptcheck-model", "new", "--promptcheck-baseline", "blessed")
    changes = comparison(result.stdout.str())
    assert changes[f"case-{DROPPED}"] == "REGRESSED"
    assert set(changes.values()) <= {"REGRESSED", "UNCHANGED"}
    result.stdout.fnmatch_lines(["warning: 10 baseline case(s) had fewer samples than*topped up*"])


def test_a_budget_below_the_plan_says_what_it_can_detect(ten: Project) -> None:
    result = ten.run(
        "--promptcheck-model",
        "new",
        "--promptcheck-baseline",
        "old",
        "--promptcheck-samples",
        "20",
        "--promptcheck-md",
        "summary.md",
    )
    output = result.stdout.str()
    assert drawn(output) == 20
    found = re.search(
        r"^10 of 10 case\(s\) draw less than their plan: this run can detect drops of "
        r"(\d\.\d\d) or more with power 0.8 \(not 0.15\)",
        output,
        re.MULTILINE,
    )
    assert found is not None and float(found.group(1)) > 0.3
    text = (ten.path / "summary.md").read_text(encoding="utf-8")
    assert f"this run can detect drops of {found.group(1)} or more with power 0.8" in text
