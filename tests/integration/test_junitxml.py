"""``--junitxml`` carries each case's rate, interval and verdict as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from promptcheck.stats import clopper_pearson

from .conftest import VERDICTS_SUITE, Project, junit_cases


def test_junit_properties_carry_the_verdict(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run("--junitxml=report.xml")
    cases = junit_cases(project.path / "report.xml")
    assert set(cases) == {"perfect[demo]", "coin[demo]", "nineteen[demo]"}
    results = project.last_results()
    (run,) = project.runs()
    expected_outcomes = {"perfect": "passed", "coin": "failure", "nineteen": "passed"}
    for name, properties in cases.items():
        verdict = results[name].verdict
        low, high = clopper_pearson(verdict.k, verdict.n)
        assert float(properties["promptcheck_rate"]) == pytest.approx(
            verdict.k / verdict.n, abs=1e-6
        )
        assert float(properties["promptcheck_ci_low"]) == pytest.approx(low, abs=1e-6)
        assert float(properties["promptcheck_ci_high"]) == pytest.approx(high, abs=1e-6)
        assert properties["promptcheck_verdict"] == verdict.outcome.value
        assert properties["promptcheck_conforming"] == str(verdict.k)
        assert properties["promptcheck_scored"] == str(verdict.n)
        assert float(properties["promptcheck_threshold"]) == 0.95
        assert properties["promptcheck_run"] == run.id
        assert properties["promptcheck_model"] == "demo"
        assert properties["promptcheck_suite"] == "verdicts"
        assert properties["outcome"] == expected_outcomes[results[name].case_id]
    assert cases["nineteen[demo]"]["promptcheck_verdict"] == "undecided"
    assert cases["nineteen[demo]"]["promptcheck_rate"] == "0.95"
    assert cases["nineteen[demo]"]["promptcheck_summary"] == "19/20 = 95.0% (95% CI 75.1%-99.9%)"


def test_junit_classname_and_failure_message(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run("--junitxml=report.xml", "-k", "coin")
    (testcase,) = ET.parse(project.path / "report.xml").getroot().iter("testcase")
    assert testcase.get("classname") == "suites.verdicts.yaml"
    failure = testcase.find("failure")
    assert failure is not None
    message = failure.get("message", "")
    assert message.startswith("verdicts::coin on model 'demo': FAIL\n  conformance ")
    assert "failing samples:" in message
