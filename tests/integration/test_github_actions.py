"""On GitHub Actions promptcheck annotates each failed case at its line, writes the job summary
and sets step outputs; elsewhere it writes none of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import MIGRATION_MODELS, VERDICTS_SUITE, Project, scripted_model, suite_yaml

COMPARED = suite_yaml(
    "main",
    """
    - id: stable-one
      prompt: stable one
      expect: [{equals: GOOD}]
    - id: json-case
      prompt: json please
      expect: [{ends_with: D}, {equals: GOOD}]
    """,
    defaults="samples: 40",
)


@pytest.fixture
def github(project: Project, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    files = {"summary": project.path / "summary.md", "output": project.path / "output.txt"}
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(files["summary"]))
    monkeypatch.setenv("GITHUB_OUTPUT", str(files["output"]))
    return files


def outputs(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_a_failing_case_is_annotated_at_its_line(project: Project, github: dict[str, Path]) -> None:
    suite = project.suite("verdicts", VERDICTS_SUITE)
    result = project.run("--promptcheck-md", "out/summary.md")
    result.assert_outcomes(passed=2, failed=1)
    errors = [line for line in result.stdout.lines if line.startswith("::error ")]
    line = line_of(suite, "id: coin")
    assert errors == [
        f"::error file=suites/verdicts.yaml,line={line},"
        "title=promptcheck%3A verdicts%3A%3Acoin FAIL on demo::" + errors[0].split("::", 2)[2]
    ]
    assert errors[0].split("::", 2)[2].startswith("coin: ")
    summary = github["summary"].read_text()
    assert "verdicts" in summary and "coin" in summary
    found = outputs(github["output"])
    assert (found["pass"], found["fail"], found["undecided"]) == ("1", "1", "1")
    # no baseline: the change counts are zero, not empty, for scripts comparing numbers
    assert [found[name] for name in ("regressed", "improved", "unchanged", "inconclusive")] == [
        "0"
    ] * 4
    assert found["failed_items"] == "1"
    assert found["markdown"] == "out/summary.md" and found["html"] == ""


def test_a_regressed_case_is_annotated_in_a_comparison(
    project: Project, github: dict[str, Path]
) -> None:
    project.configure(MIGRATION_MODELS, default=None)
    suite = project.suite("main", COMPARED)
    result = project.run("--promptcheck-model", "new", "--promptcheck-baseline", "old")
    result.assert_outcomes(passed=1, failed=1)
    [error] = [line for line in result.stdout.lines if line.startswith("::error ")]
    assert error.startswith(
        f"::error file=suites/main.yaml,line={line_of(suite, 'id: json-case')},"
        "title=promptcheck%3A main%3A%3Ajson-case regressed on new::json-case regressed: "
    )
    assert "100.0%25 on the baseline" in error  # "%" escaped as GitHub requires
    found = outputs(github["output"])
    assert (found["regressed"], found["unchanged"], found["failed_items"]) == ("1", "1", "1")
    assert "regressed" in github["summary"].read_text()


def test_nothing_is_written_outside_github_actions(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(project.path / "output.txt"))
    project.suite("verdicts", VERDICTS_SUITE)
    result = project.run()
    result.assert_outcomes(passed=2, failed=1)
    assert not any(line.startswith("::") for line in result.stdout.lines)
    assert not (project.path / "summary.md").exists()
    assert not (project.path / "output.txt").exists()


def test_the_option_writes_them_outside_github_actions_too(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    project.suite("verdicts", VERDICTS_SUITE)
    result = project.run("--promptcheck-github")
    assert any(line.startswith("::error file=suites/verdicts.yaml") for line in result.stdout.lines)


#: A model output that tries to stop promptcheck's commands and forge its own annotations.
FORGING_OUTPUT = (
    "BAD\n::stop-commands::tok123\n::error file=src/app.py,line=3::forged\n"
    "  ::warning::indented\nsee ##[error]legacy form"
)


def runner_commands(lines: list[str]) -> list[str]:
    """The lines the GitHub runner would read as workflow commands, if it processed them all."""
    return [line.strip() for line in lines if line.strip().startswith("::") or "##[" in line]


def test_a_model_output_cannot_forge_workflow_commands(
    project: Project, github: dict[str, Path]
) -> None:
    project.configure({"demo": scripted_model(rules=[{"match": ".", "outputs": [FORGING_OUTPUT]}])})
    project.suite(
        "forged",
        suite_yaml("forged", "- id: c1\n  prompt: hello\n  expect: [{equals: GOOD}]"),
    )
    result = project.run()
    result.assert_outcomes(failed=1)
    lines = result.stdout.lines
    [stop] = [n for n, line in enumerate(lines) if line.startswith("::stop-commands::")]
    token = lines[stop].removeprefix("::stop-commands::")
    assert len(token) >= 32 and token != "tok123"
    [resume] = [n for n, line in enumerate(lines) if line == f"::{token}::"]
    assert stop < resume
    # The window opens before the failure texts, which show the output made inert ...
    window = lines[stop + 1 : resume]
    assert any("\\x3a:error file=src/app.py,line=3::forged" in line for line in window)
    assert any("\\x23#[error]legacy form" in line for line in window)
    assert runner_commands(window) == []
    # ... and outside it the runner reads promptcheck's own annotation, and nothing else.
    [annotation] = runner_commands(lines[:stop] + lines[resume + 1 :])
    assert annotation.startswith("::error file=suites/forged.yaml,line=5,")
    assert lines.index(annotation) > resume


def test_github_sees_at_most_ten_errors_and_a_notice_of_the_rest(
    project: Project, github: dict[str, Path]
) -> None:
    failing = "\n".join(
        f"- id: bad-{n:02d}\n  prompt: always bad {n}\n  expect: [{{equals: GOOD}}]"
        for n in range(12)
    )
    erroring = "- id: down\n  prompt: broken endpoint\n  expect: [{equals: GOOD}]"
    rules = [
        {"match": "^broken", "outputs": [{"error": "HTTP 503: scripted outage"}]},
        {"match": ".", "outputs": ["BAD"]},
    ]
    project.configure({"demo": scripted_model(rules=rules)})
    project.suite("many", suite_yaml("many", erroring + "\n" + failing, defaults="samples: 10"))
    result = project.run()
    result.assert_outcomes(failed=12, errors=1)
    errors = [line for line in result.stdout.lines if line.startswith("::error ")]
    assert len(errors) == 10
    [down] = [line for line in errors if "down ERROR on demo" in line]
    assert down.endswith("::down: no sample was scored: HTTP 503: scripted outage")
    [notice] = [line for line in result.stdout.lines if line.startswith("::notice ")]
    assert notice.startswith("::notice title=promptcheck::3 more failed case(s) not annotated")
    assert result.stdout.lines.index(notice) > result.stdout.lines.index(errors[-1])
    assert outputs(github["output"])["failed_items"] == "13"
