"""``--promptcheck-fail-on``: whether an undecided case fails the run."""

from __future__ import annotations

import pytest

from .conftest import Project, suite_yaml

# 19 of 20 combinations conform: undecided at threshold 0.95 with 20 samples.
UNDECIDED = suite_yaml(
    "undecided",
    """
    - id: nineteen
      prompt: "item {{ i }}"
      vars: {i: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]}
      expect: [{equals: GOOD}]
    - id: perfect
      prompt: perfect
      expect: [{equals: GOOD}]
    """,
)


def test_an_undecided_case_passes_by_default(project: Project) -> None:
    project.suite("undecided", UNDECIDED)
    result = project.run()
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*nineteen*19/20*UNDECIDED*"])


@pytest.mark.parametrize(
    "given", [["--promptcheck-fail-on=undecided"], ["--promptcheck-fail-on", "fail"]]
)
def test_the_option_decides(project: Project, given: list[str]) -> None:
    project.suite("undecided", UNDECIDED)
    result = project.run(*given)
    if given[-1].endswith("undecided"):
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(
            [
                "*undecided::nineteen on model 'demo': UNDECIDED",
                "*19/20 = 95.0%*threshold 95.0%",
                "*19/20 cannot tell*draw more samples",
            ]
        )
    else:
        result.assert_outcomes(passed=2)


def test_the_ini_key_decides_and_the_option_overrides_it(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini='promptcheck_fail_on = "undecided"')
    project.suite("undecided", UNDECIDED)
    project.run().assert_outcomes(passed=1, failed=1)
    project.run("--promptcheck-fail-on=fail").assert_outcomes(passed=2)


def test_an_invalid_choice_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini='promptcheck_fail_on = "sometimes"')
    project.suite("undecided", UNDECIDED)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*promptcheck_fail_on must be one of fail, undecided*"])
    wrong = project.run("--promptcheck-fail-on=never")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(["*invalid choice: 'never'*"])
