"""A failed case reads like a good assertion message."""

from __future__ import annotations

import re

import pytest

from promptcheck.stats import clopper_pearson

from .conftest import Project, scripted_model, suite_yaml

MIXED = suite_yaml(
    "mixed",
    """
    - id: greeting
      prompt: "Say GOOD to {{ name }}"
      vars: {name: [Ada, Grace]}
      expect: [{starts_with: G}, {equals: GOOD}]
    """,
    defaults="samples: 40\nthreshold: 0.9",
)


@pytest.fixture
def failed(pytester: pytest.Pytester) -> tuple[Project, str]:
    """A case at a true rate of 0.5 whose failing outputs ("GOAT") pass one check of two."""
    project = Project(pytester)
    project.configure({"coin": scripted_model(0.5, bad="GOAT")}, default="coin")
    project.suite("mixed", MIXED)
    result = project.run()
    result.assert_outcomes(failed=1)
    section = result.stdout.str().split(" mixed::greeting[coin] ")[1]
    return project, section.split("= promptcheck summary =")[0]


def test_the_failure_names_case_model_rate_interval_and_threshold(
    failed: tuple[Project, str],
) -> None:
    project, text = failed
    verdict = project.last_results("coin")["greeting[coin]"].verdict
    low, high = clopper_pearson(verdict.k, verdict.n)
    assert "mixed::greeting on model 'coin': FAIL" in text
    rate = f"{verdict.k}/40 = {100 * verdict.k / 40:.1f}%"
    assert f"conformance {rate} (95% CI {100 * low:.1f}%-{100 * high:.1f}%)" in text
    assert "threshold 90.0%" in text
    assert re.search(r"95% upper bound 0\.\d+ < threshold 0\.9", text)


def test_the_failure_counts_the_failing_check_only(failed: tuple[Project, str]) -> None:
    project, text = failed
    verdict = project.last_results("coin")["greeting[coin]"].verdict
    assert f"[1] equals  failed {verdict.n - verdict.k}/40" in text
    assert "starts_with" not in text.split("failing samples:")[0]


def test_the_failure_shows_three_failing_outputs_with_reasons(failed: tuple[Project, str]) -> None:
    project, text = failed
    samples = text.split("failing samples:")[1]
    heads = re.findall(r"#(\d+) seed=(\d+) \(name='(\w+)'\)", samples)
    assert len(heads) == 3
    recorded = {s.index: s for s in project.last_results("coin")["greeting[coin]"].samples}
    for index, seed, name in heads:
        sample = recorded[int(index)]
        assert (sample.seed, sample.variables["name"], sample.output) == (int(seed), name, "GOAT")
    assert samples.count("equals fail: expected exactly 'GOOD'; output is 'GOAT'") == 3
    assert samples.count("output: GOAT") == 3


def test_the_short_summary_line_names_the_verdict(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"coin": scripted_model(0.5, bad="GOAT")}, default="coin")
    project.suite("mixed", MIXED)
    result = project.run("-rf")
    result.stdout.fnmatch_lines(
        ["FAILED suites/mixed.yaml::greeting[[]coin[]] - mixed::greeting on model 'coin': FAIL"]
    )


def test_long_and_multiline_outputs_are_clipped_and_indented(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    long_output = "line one\nline two\n" + "x" * 1000
    project.configure({"demo": scripted_model(0.0, bad=long_output)})
    project.suite("long", suite_yaml("long", "- {id: case, prompt: p, expect: [{equals: GOOD}]}"))
    result = project.run()
    text = result.stdout.str()
    assert "      output: line one\n              line two\n              xxx" in text
    assert "x" * 1000 not in text
    assert "xxx..." in text
