"""Errors: API errors are never conformance failures, bad input is one clean message."""

from __future__ import annotations

import pytest

from promptcheck.stats import Outcome

from .conftest import Project, junit_cases, scripted_model, suite_yaml

ERRORS = suite_yaml(
    "errors",
    """
    - id: broken
      prompt: broken service
      expect: [{equals: GOOD}]
    - id: flaky
      prompt: flaky service
      samples: 100
      expect: [{equals: GOOD}]
    """,
)


def test_a_case_whose_samples_all_error_is_an_error_with_the_error(project: Project) -> None:
    project.suite("errors", ERRORS)
    result = project.run("-k", "broken")
    result.assert_outcomes(errors=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "errors::broken on model 'demo': ERROR",
            "  conformance no scored samples, threshold 95.0%",
            "  no sample was scored: HTTP 503: scripted outage",
            "  20 sample(s) errored and were not scored, e.g.: HTTP 503: scripted outage",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_errors_are_never_counted_as_conformance_failures(project: Project) -> None:
    """A model that errors 90% of the time and answers well otherwise is not FAIL."""
    project.suite("errors", ERRORS)
    result = project.run("-k", "flaky", "--junitxml=report.xml")
    result.assert_outcomes(passed=1, deselected=1)
    flaky = project.last_results()["flaky[demo]"]
    assert flaky.errors > 70
    assert flaky.verdict.k == flaky.verdict.n == 100 - flaky.errors
    assert flaky.verdict.outcome is not Outcome.FAIL
    assert flaky.tallies[0].failed == 0
    properties = junit_cases(project.path / "report.xml")["flaky[demo]"]
    assert properties["promptcheck_errors"] == str(flaky.errors)
    assert properties["promptcheck_verdict"] == flaky.verdict.outcome.value


def test_errors_are_shown_next_to_a_failure(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(0.2, errors=0.5)})
    project.suite("mixed", suite_yaml("mixed", "- {id: case, prompt: p, expect: [{equals: GOOD}]}"))
    result = project.run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "mixed::case on model 'demo': FAIL",
            "*sample(s) errored and were not scored, e.g.: scripted API error",
        ]
    )
    errors = project.last_results()["case[demo]"].errors
    result.stdout.fnmatch_lines([f"  case  */*  *FAIL*  {errors}"])


def test_a_check_that_cannot_tell_leaves_samples_unscored(project: Project) -> None:
    project.write(
        "plugins/unsure.py",
        "from promptcheck.checks import CheckResult\n\n"
        "def unsure(output, context):\n"
        "    return CheckResult.unscored('the judge could not read its own answer')\n",
    )
    project.write("plugins/__init__.py", "")
    project.suite(
        "unsure",
        suite_yaml(
            "unsure", "- {id: case, prompt: perfect, expect: [{python: plugins.unsure:unsure}]}"
        ),
    )
    result = project.run("--promptcheck-fail-on=undecided")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "unsure::case on model 'demo': ERROR",
            "  conformance no scored samples, threshold 95.0%",
            "  no sample was scored: python unscored: the judge could not read its own answer",
            "  20 sample(s) could not be scored by a check",
            "    [[]0[]] python  failed 0/20, 20 unscored",
            "*python unscored: the judge could not read its own answer",
        ]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("suite: s\ncases:\n  - id: a\n    prompt: [unclosed\n", "*bad.yaml:*"),
        (
            "suite: s\ncases:\n  - id: a\n    prompt: p\n    expect: [{equal: GOOD}]\n",
            "*bad.yaml:5: cases[[]0[]].expect[[]0[]]: unknown check 'equal'*",
        ),
        (
            "suite: s\ncases:\n  - id: a\n    prompt: '{{ missing }}'\n    expect: [json]\n",
            "*bad.yaml:4: cases[[]0[]].prompt: undefined template variable 'missing'*",
        ),
        (
            "suite: s\ndefaults:\n  tolerance: 0.1\ncases:\n  - id: a\n    prompt: p\n"
            "    threshold: 0.1\n    expect: [json]\n",
            "*bad.yaml:7: cases[[]0[]].threshold: threshold 0.1 minus tolerance 0.1 is 0: no rate "
            "would be clearly below the bar, so every model would pass*",
        ),
        (
            "suite: s\ndefaults:\n  threshold: 0.0\ncases:\n  - id: a\n    prompt: p\n"
            "    expect: [json]\n",
            "*bad.yaml:3: defaults.threshold: threshold 0 minus tolerance 0.05 is -0.05*",
        ),
    ],
    ids=[
        "yaml-syntax",
        "unknown-check",
        "undefined-variable",
        "threshold-within-tolerance",
        "threshold-zero",
    ],
)
def test_a_bad_suite_is_one_collection_error_without_traceback(
    project: Project, text: str, message: str
) -> None:
    project.suite("good", suite_yaml("good", "- {id: a, prompt: perfect, expect: [json]}"))
    project.suite("bad", text)
    result = project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting suites/bad.yaml*", message])
    assert "Traceback" not in result.stdout.str()
    assert "src/promptcheck" not in result.stdout.str()


@pytest.mark.parametrize(
    "option",
    [
        "--promptcheck-samples=0",
        "--promptcheck-samples=-3",
        "--promptcheck-concurrency=0",
        "--promptcheck-concurrency=-1",
    ],
)
def test_counts_below_one_are_usage_errors(project: Project, option: str) -> None:
    project.suite("good", suite_yaml("good", "- {id: a, prompt: perfect, expect: [json]}"))
    result = project.run(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*must be a whole number >= 1*"])


def test_a_bad_ini_count_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini='promptcheck_samples = "many"')
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--promptcheck-samples (ini promptcheck_samples)*'many'*"])


def test_a_bad_pyproject_table_is_a_usage_error(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(promptcheck="concurency = 4")
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.promptcheck[]] concurency: Extra inputs*"])


def test_a_file_that_is_not_a_store_fails_the_cases_cleanly(project: Project) -> None:
    project.suite("good", suite_yaml("good", "- {id: a, prompt: perfect, expect: [json]}"))
    project.write("not-a-store.db", "just text, not SQLite\n" * 100)
    result = project.run("--promptcheck-store", "not-a-store.db")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*not-a-store.db is not an SQLite database*"])
    assert "Traceback" not in result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()
