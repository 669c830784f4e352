"""The terminal summary: one table per suite and model."""

from __future__ import annotations

import pytest

from .conftest import VERDICTS_SUITE, Project, scripted_model, suite_yaml


def summary(result: pytest.RunResult) -> list[str]:
    text = result.stdout.str()
    assert "= promptcheck summary =" in text
    section = text.split("= promptcheck summary =")[1].split("\n", 1)[1]
    return section.split("runs recorded in")[0].rstrip("\n").split("\n")


def test_one_table_per_suite_and_model(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(), "rival": scripted_model(1.0)})
    project.suite("verdicts", VERDICTS_SUITE)
    project.suite(
        "other",
        suite_yaml("other", "- {id: only, prompt: perfect, expect: [{equals: GOOD}]}"),
    )
    result = project.run("--promptcheck-model=demo,rival")
    lines = summary(result)
    headers = [line for line in lines if line and not line.startswith(" ")]
    assert headers == ["other on demo", "other on rival", "verdicts on demo", "verdicts on rival"]
    start = lines.index("verdicts on demo")
    table = lines[start + 1 : start + 6]
    assert table[0].split() == [
        "case",
        "conforming",
        "rate",
        "95%",
        "CI",
        "threshold",
        "verdict",
        "errors",
    ]
    assert table[1].split() == [
        "coin",
        f"{project.last_results()['coin[demo]'].verdict.k}/40",
        *table[1].split()[2:5],
        "FAIL",
    ]
    assert table[2].split() == ["nineteen", "19/20", "95.0%", "75.1%-99.9%", "95.0%", "UNDECIDED"]
    assert table[3].split() == ["perfect", "20/20", "100.0%", "83.2%-100.0%", "95.0%", "PASS"]
    assert table[4] == "  1 pass, 1 fail, 1 undecided"
    rival = lines.index("verdicts on rival")
    assert lines[rival + 5] == "  3 pass, 0 fail, 0 undecided"


def test_errors_have_a_column(project: Project) -> None:
    project.suite(
        "errors",
        suite_yaml("errors", "- {id: broken, prompt: broken service, expect: [{equals: GOOD}]}"),
    )
    lines = summary(project.run())
    assert lines[2].split() == ["broken", "0/0", "-", "0.0%-100.0%", "95.0%", "ERROR", "20"]


def test_no_summary_without_cases(project: Project) -> None:
    project.write("test_plain.py", "def test_plain():\n    pass\n")
    result = project.run()
    assert "promptcheck summary" not in result.stdout.str()


def test_the_summary_with_quiet_and_junit(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    result = project.run("-q", "--junitxml=out.xml")
    assert summary(result)[0] == "verdicts on demo"
