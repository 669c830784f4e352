"""Collection: suites become ``file::case[model]`` items, only with ``--promptcheck``."""

from __future__ import annotations

import pytest

from .conftest import TWO_CASES, VERDICTS_SUITE, Project, collected, suite_yaml


def test_nothing_is_collected_without_the_option(project: Project) -> None:
    project.suite("pair", TWO_CASES)
    result = project.run("--collect-only", "-q", promptcheck=False)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert collected(result) == []


def test_the_ini_key_enables_collection(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini="promptcheck = true")
    project.suite("pair", TWO_CASES)
    result = project.run("--collect-only", "-q", promptcheck=False)
    assert collected(result) == ["suites/pair.yaml::alpha[demo]", "suites/pair.yaml::beta[demo]"]


def test_item_ids_are_file_case_and_model(project: Project) -> None:
    project.suite("pair", TWO_CASES)
    result = project.run("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["suites/pair.yaml::alpha[[]demo[]] PASSED*", "suites/pair.yaml::beta[[]demo[]] PASSED*"]
    )


def test_yaml_data_files_next_to_suites_are_not_collected(project: Project) -> None:
    project.write("suites/data/items.yaml", "- text: perfect one\n- text: perfect two\n")
    project.write("suites/data/other.yml", "config:\n  cases: 3\n")
    project.write("suites/notes.txt", "suite: not yaml\n")
    project.suite(
        "data",
        suite_yaml(
            "data",
            """
            - id: from-file
              prompt: "{{ text }}"
              vars: {text: {file: data/items.yaml, field: text}}
              expect: [{equals: GOOD}]
            """,
        ),
    )
    result = project.run("--collect-only", "-q")
    assert collected(result) == ["suites/data.yaml::from-file[demo]"]


def test_dash_k_selects_cases(project: Project) -> None:
    project.suite("pair", TWO_CASES)
    result = project.run("-k", "beta", "-v")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["suites/pair.yaml::beta[[]demo[]] PASSED*"])


def test_case_tags_become_markers(project: Project) -> None:
    project.suite(
        "tagged",
        suite_yaml(
            "tagged",
            """
            - id: vital
              prompt: perfect a
              tags: [critical]
              expect: [{equals: GOOD}]
            - id: minor
              prompt: perfect b
              expect: [{equals: GOOD}]
            """,
            defaults="samples: 2",
        ),
    )
    result = project.run("-m", "critical", "-v", "--strict-markers")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["suites/tagged.yaml::vital[[]demo[]] PASSED*"])


def test_suites_with_other_tests(project: Project) -> None:
    """A project's Python tests still run next to its suites."""
    project.suite("verdicts", VERDICTS_SUITE)
    project.write("test_plain.py", "def test_plain():\n    assert True\n")
    result = project.run("-k", "plain or perfect")
    result.assert_outcomes(passed=2, deselected=2)


def test_running_from_a_subdirectory_finds_the_project(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Project plugins and the models of pyproject.toml come from the rootdir, not the cwd."""
    project.write("plugins/__init__.py", "")
    project.write(
        "plugins/shout.py",
        "def shout(output, context):\n"
        "    from promptcheck.checks import CheckResult\n"
        "    return CheckResult.passed() if output.isupper() else CheckResult.failed('quiet')\n",
    )
    project.configure(promptcheck='plugins = ["plugins.shout"]')
    project.suite(
        "loud",
        suite_yaml(
            "loud", "- {id: loud, prompt: perfect, expect: [{python: plugins.shout:shout}]}"
        ),
    )
    # a conftest at the rootdir would put the rootdir on sys.path itself: keep it out of the way
    (project.path / "conftest.py").rename(project.path / "suites" / "conftest.py")
    monkeypatch.chdir(project.path / "suites")
    result = project.run(".", "-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["loud.yaml::loud[[]demo[]] PASSED*"])
