"""The ``promptcheck`` fixture runs a case from a Python test."""

from __future__ import annotations

import pytest

from .conftest import VERDICTS_SUITE, Project, scripted_model

TESTS = """
from promptcheck.results import CaseResult
from promptcheck.stats import Outcome


def test_run_a_case(promptcheck):
    result = promptcheck.run("suites/verdicts.yaml", "perfect", samples=10)
    assert isinstance(result, CaseResult)
    assert (result.case_id, result.model) == ("perfect", "demo")
    assert (result.verdict.k, result.verdict.n) == (10, 10)
    assert len(result.samples) == 10


def test_a_sample_count_applies_to_one_call(promptcheck):
    assert len(promptcheck.run("suites/verdicts.yaml", "coin", samples=3).samples) == 3
    assert len(promptcheck.run("suites/verdicts.yaml", "coin").samples) == 40


def test_another_model(promptcheck):
    result = promptcheck.run("suites/verdicts.yaml", "coin", model="never", samples=5)
    assert result.model == "never"
    assert result.verdict.outcome is Outcome.FAIL
    assert {sample.output for sample in result.samples} == {"BAD"}


def test_an_unknown_case(promptcheck):
    from promptcheck.errors import ConfigError
    import pytest

    with pytest.raises(ConfigError, match="has no case 'coins'.*did you mean 'coin'"):
        promptcheck.run("suites/verdicts.yaml", "coins")
"""


def test_the_fixture_runs_cases_and_records_them(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(), "never": scripted_model(0.0)})
    project.suite("verdicts", VERDICTS_SUITE)
    project.write("test_prompts.py", TESTS)
    result = project.run("test_prompts.py", promptcheck=False)
    result.assert_outcomes(passed=4)
    # one run per test that ran a case; a case run twice in a test is recorded once, as last run
    runs = project.runs()
    assert [(run.model, run.cases, run.samples) for run in runs] == [
        ("demo", 1, 10),
        ("demo", 1, 40),
        ("never", 1, 5),
    ]
    assert all(run.finished_at is not None for run in runs)
