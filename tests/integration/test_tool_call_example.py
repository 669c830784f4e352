"""The worked tool-calling example of docs/checks.md, read from the page and run by pytest: it
passes as the page says, and fails as the page shows when its threshold is raised."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.integration.conftest import Project

PAGE = Path(__file__).resolve().parents[2] / "docs" / "checks.md"


def example() -> str:
    """The YAML block after the page's ``<!-- example: tool-calls -->`` marker."""
    found = re.search(
        r"<!-- example: tool-calls -->\n```yaml\n(.*?)\n```", PAGE.read_text(encoding="utf-8"), re.S
    )
    assert found is not None, "docs/checks.md lost its tool-calling example"
    return found.group(1) + "\n"


def test_the_worked_example_runs_green(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(default=None)
    project.suite("weather", example())
    result = project.run()
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        [
            "*weather-assistant on scripted-assistant*",
            "*small-talk*40/40*PASS*",
            "*weather-question*38/40*PASS*",
        ]
    )
    [run] = project.runs()
    outputs = {s.output for r in project.results(run.id).values() for s in r.samples}
    assert 'get_weather({"city": "Paris", "unit": "celsius"})' in outputs
    assert 'Let me check.\n[1 tool call]\nget_weather({"city": "Oslo"})' in outputs


def test_the_failure_the_page_shows(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(default=None)
    project.suite("weather", example().replace("threshold: 0.9", "threshold: 1.0"))
    result = project.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "weather-assistant::weather-question on model 'scripted-assistant': FAIL",
            "  conformance 38/40 = 95.0% (95% CI 83.1%-99.4%), threshold 100.0%",
            "    #10 seed=5264514247232971789 (city='Paris')",
            "      tool_call fail: no tool call; the output is text: 'It is probably sunny.'",
            "      output: It is probably sunny.",
        ]
    )
