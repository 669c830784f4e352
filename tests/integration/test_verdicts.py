"""Verdicts on models whose true conformance rate is known: pass, fail, undecided."""

from __future__ import annotations

import pytest

from promptcheck.stats import Outcome

from .conftest import VERDICTS_SUITE, Project, scripted_model, suite_yaml


def test_each_verdict_on_its_known_rate(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    result = project.run("-v")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "suites/verdicts.yaml::perfect[[]demo[]] PASSED*",
            "suites/verdicts.yaml::coin[[]demo[]] FAILED*",
            "suites/verdicts.yaml::nineteen[[]demo[]] PASSED*",
        ]
    )
    results = project.last_results()
    assert results["perfect[demo]"].verdict.outcome is Outcome.PASS
    assert (results["perfect[demo]"].verdict.k, results["perfect[demo]"].verdict.n) == (20, 20)
    coin = results["coin[demo]"].verdict
    assert coin.outcome is Outcome.FAIL
    assert coin.n == 40
    assert 10 <= coin.k <= 30  # drawn at 0.5 by the samples' fixed seeds
    nineteen = results["nineteen[demo]"].verdict
    assert nineteen.outcome is Outcome.UNDECIDED
    assert (nineteen.k, nineteen.n) == (19, 20)


@pytest.mark.parametrize(
    ("rate", "outcome"),
    [(1.0, Outcome.PASS), (0.5, Outcome.FAIL), (0.0, Outcome.FAIL)],
)
def test_weighted_scripted_outputs(
    pytester: pytest.Pytester, rate: float, outcome: Outcome
) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(rate)})
    project.suite(
        "weighted",
        suite_yaml("weighted", "- {id: case, prompt: anything, expect: [{equals: GOOD}]}"),
    )
    result = project.run()
    assert (result.ret == 0) is (outcome is Outcome.PASS)
    verdict = project.last_results()["case[demo]"].verdict
    assert verdict.outcome is outcome
    assert verdict.n == 20


def test_a_sample_conforms_only_when_every_check_passes(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(0.5, bad="GOAT")})
    project.suite(
        "checks",
        suite_yaml(
            "checks",
            """
            - id: two-checks
              prompt: anything
              expect: [{starts_with: G}, {equals: GOOD}]
            """,
        ),
    )
    project.run()
    result = project.last_results()["two-checks[demo]"]
    goods = sum(1 for sample in result.samples if sample.output == "GOOD")
    assert result.verdict.k == goods
    starts_with, equals = result.tallies
    assert (starts_with.passed, starts_with.failed) == (20, 0)
    assert (equals.passed, equals.failed) == (goods, 20 - goods)


def test_the_threshold_and_tolerance_come_from_the_suite(project: Project) -> None:
    """19/20 is undecided at 0.95, but passes a 0.8 threshold and fails a 0.999 one at n=20."""
    cases = """
    - id: lenient
      prompt: "item {{ i }}"
      threshold: 0.8
      vars: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
      expect: [{equals: GOOD}]
    - id: strict
      prompt: "item {{ i }}"
      threshold: 1.0
      tolerance: 0.01
      vars: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
      expect: [{equals: GOOD}]
    """
    project.suite("thresholds", suite_yaml("thresholds", cases))
    result = project.run("-v")
    result.stdout.fnmatch_lines(["*lenient*PASSED*", "*strict*FAILED*"])
    results = project.last_results()
    assert results["lenient[demo]"].verdict.outcome is Outcome.PASS
    assert results["strict[demo]"].verdict.threshold == 1.0
    assert results["strict[demo]"].verdict.outcome is Outcome.FAIL
