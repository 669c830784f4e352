"""``--promptcheck-model`` and the ini key: which models the cases run on."""

from __future__ import annotations

import pytest

from .conftest import TWO_CASES, Project, collected, scripted_model, suite_yaml


@pytest.mark.parametrize(
    "options",
    [["--promptcheck-model", "one,two"], ["--promptcheck-model", "one", "--promptcheck-model=two"]],
    ids=["comma-separated", "repeated"],
)
def test_one_item_per_case_per_model(pytester: pytest.Pytester, options: list[str]) -> None:
    project = Project(pytester)
    project.configure(
        {"one": scripted_model(1.0), "two": scripted_model(1.0), "three": scripted_model(1.0)}
    )
    project.suite("pair", TWO_CASES)
    result = project.run("--collect-only", "-q", *options)
    assert collected(result) == [
        "suites/pair.yaml::alpha[one]",
        "suites/pair.yaml::alpha[two]",
        "suites/pair.yaml::beta[one]",
        "suites/pair.yaml::beta[two]",
    ]


def test_the_ini_names_the_models(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(
        {"one": scripted_model(1.0), "two": scripted_model(1.0)},
        ini='promptcheck_model = "two"',
    )
    project.suite("pair", TWO_CASES)
    result = project.run("--collect-only", "-q")
    assert collected(result) == ["suites/pair.yaml::alpha[two]", "suites/pair.yaml::beta[two]"]


def test_without_a_default_every_defined_model_runs(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"one": scripted_model(1.0), "two": scripted_model(1.0)}, default=None)
    project.suite("pair", TWO_CASES)
    result = project.run("--collect-only", "-q", "-k", "alpha")
    assert collected(result) == ["suites/pair.yaml::alpha[one]", "suites/pair.yaml::alpha[two]"]


def test_a_model_defined_in_the_suite(project: Project) -> None:
    project.suite(
        "own",
        suite_yaml(
            "own",
            """
            - id: alpha
              prompt: anything
              expect: [{equals: GOOD}]
            """,
            defaults="samples: 3\nmodel: local-copy",
            extra="""
            models:
              local-copy: {backend: scripted, default: [GOOD]}
            """,
        ),
    )
    result = project.run("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["suites/own.yaml::alpha[[]local-copy[]] PASSED*"])


def test_an_unknown_model_is_one_clean_collection_error(project: Project) -> None:
    project.suite("pair", TWO_CASES)
    result = project.run("--promptcheck-model", "dmeo")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*ERROR collecting suites/pair.yaml*", "*unknown model 'dmeo'*did you mean 'demo'?*"]
    )
    assert "Traceback" not in result.stdout.str()
    assert "promptcheck/" not in result.stdout.str()


def test_a_case_restricted_to_some_models(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"one": scripted_model(1.0), "two": scripted_model(1.0)})
    project.suite(
        "restricted",
        suite_yaml(
            "restricted",
            """
            - id: everywhere
              prompt: a
              expect: [{equals: GOOD}]
            - id: only-two
              prompt: b
              models: [two]
              expect: [{equals: GOOD}]
            """,
        ),
    )
    result = project.run("--collect-only", "-q", "--promptcheck-model", "one,two")
    assert collected(result) == [
        "suites/restricted.yaml::everywhere[one]",
        "suites/restricted.yaml::everywhere[two]",
        "suites/restricted.yaml::only-two[two]",
    ]


def test_a_case_restricted_to_an_undefined_model_is_a_collection_error(project: Project) -> None:
    project.suite(
        "typo",
        suite_yaml(
            "typo",
            """
            - id: alpha
              prompt: a
              models: [demi]
              expect: [{equals: GOOD}]
            """,
        ),
    )
    result = project.run()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*suites/typo.yaml:5: cases[[]0[]].models: unknown model 'demi'", "*did you mean 'demo'?"]
    )
    assert "Traceback" not in result.stdout.str()
