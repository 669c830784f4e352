"""A case nothing could score is an error, called so by every report.

Samples were drawn and none could be scored: every one errored (an outage), or no check could
tell (a check that always says "unscored"). The case was never judged, so its verdict's
"undecided, 0/0" is no verdict: the pytest item is an error with the reason, and the terminal
summary, the Markdown and HTML reports, JUnit properties, GitHub's annotations and step
outputs, ``promptcheck show`` (text and JSON) and ``promptcheck runs`` all say ``error`` with
that reason, whatever ``--promptcheck-fail-on`` says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptcheck.cli import main
from promptcheck.config import ExitCode

from .conftest import Project, junit_cases, scripted_model, suite_yaml

OUTAGE = "no sample was scored: HTTP 503: scripted outage"
UNSURE = "no sample was scored: python unscored: the judge could not read its own answer"
CASES = """
- id: down
  prompt: broken endpoint
  expect: [{equals: GOOD}]
- id: unsure
  prompt: fine answer
  expect: [{python: plugins.unsure:unsure}]
- id: fine
  prompt: fine answer
  expect: [{equals: GOOD}]
"""


@pytest.fixture
def unscorable(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project whose ``down`` case only errors, ``unsure`` is never scored, ``fine`` passes;
    run under GitHub output."""
    rules = [
        {"match": "^broken", "outputs": [{"error": "HTTP 503: scripted outage"}]},
        {"match": ".", "outputs": ["GOOD"]},
    ]
    project.configure({"demo": scripted_model(rules=rules)})
    project.write("plugins/__init__.py", "")
    project.write(
        "plugins/unsure.py",
        "from promptcheck.checks import CheckResult\n\n"
        "def unsure(output, context):\n"
        "    return CheckResult.unscored('the judge could not read its own answer')\n",
    )
    project.suite("nothing", suite_yaml("nothing", CASES, defaults="samples: 20"))
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_WORKSPACE", str(project.path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(project.path / "summary.md"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(project.path / "output.txt"))
    return project


def section(result: pytest.RunResult, title: str) -> list[str]:
    """The lines of the ``=== title ===`` section of pytest's output, up to the next one."""
    lines = result.stdout.lines
    start = next(n for n, line in enumerate(lines) if f" {title} " in line and "===" in line)
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("===")), None)
    return lines[start + 1 : end]


@pytest.mark.parametrize("fail_on", ["fail", "undecided"])
def test_every_report_calls_a_case_nothing_scored_an_error_with_its_reason(
    unscorable: Project, fail_on: str
) -> None:
    project = unscorable
    result = project.run(
        f"--promptcheck-fail-on={fail_on}",
        "--junitxml=report.xml",
        "--promptcheck-md=report.md",
        "--promptcheck-html=report.html",
    )
    # the items: two errors (not failures), the scored case passes; pytest's summary says so
    result.assert_outcomes(passed=1, errors=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "ERROR suites/nothing.yaml::down[[]demo[]] - nothing::down on model 'demo': ERROR",
            "ERROR suites/nothing.yaml::unsure[[]demo[]] - nothing::unsure on model 'demo': ERROR",
        ],
        consecutive=False,
    )
    assert "FAILED suites/nothing.yaml" not in result.stdout.str()
    # the item's own text: ERROR, then why
    result.stdout.fnmatch_lines(
        [
            "nothing::down on model 'demo': ERROR",
            "  conformance no scored samples, *",
            f"  {OUTAGE}",
        ]
    )
    result.stdout.fnmatch_lines([f"  {UNSURE}"])
    # the terminal summary: the same word in the verdict column, the reasons, the counts
    summary = section(result, "promptcheck summary")
    verdicts = {line.split()[0]: line.split()[5] for line in summary[2:5]}
    assert verdicts == {"down": "ERROR", "fine": "PASS", "unsure": "ERROR"}
    assert f"  down ERROR: {OUTAGE}" in summary
    assert f"  unsure ERROR: {UNSURE}" in summary
    assert "  1 pass, 0 fail, 0 undecided, 2 error" in summary
    # JUnit XML properties
    junit = junit_cases(project.path / "report.xml")
    assert [junit[f"{case}[demo]"]["promptcheck_verdict"] for case in ("down", "unsure")] == [
        "error",
        "error",
    ]
    assert junit["down[demo]"]["promptcheck_reason"] == OUTAGE
    assert junit["fine[demo]"]["promptcheck_verdict"] == "pass"
    assert "promptcheck_reason" not in junit["fine[demo]"]
    # the Markdown report (also the job summary)
    markdown = (project.path / "report.md").read_text()
    assert markdown.startswith("## :x: promptcheck: 2 error\n")
    assert "3 cases: 1 pass, 0 fail, 0 undecided, 2 error." in markdown
    assert f"| `down` | **error** | `{OUTAGE}` |" in markdown
    assert "undecided |" not in markdown
    assert (project.path / "summary.md").read_text() == markdown
    # the HTML report
    html = (project.path / "report.html").read_text()
    assert html.count('<span class="badge outcome-error">error</span>') == 2
    assert html.count('<span class="badge outcome-undecided">') == 0
    assert OUTAGE in html
    # GitHub: annotations and step outputs
    annotations = [line for line in result.stdout.lines if line.startswith("::error ")]
    assert len(annotations) == 2
    assert all("ERROR on demo::" in line for line in annotations)
    assert any(line.endswith(f"::down: {OUTAGE}") for line in annotations)
    outputs = dict(
        line.split("=", 1) for line in (project.path / "output.txt").read_text().splitlines()
    )
    assert (outputs["pass"], outputs["fail"], outputs["undecided"], outputs["error"]) == (
        "1",
        "0",
        "0",
        "2",
    )


def test_an_xdist_controller_calls_a_workers_case_nothing_scored_an_error(
    unscorable: Project,
) -> None:
    """The error is read from the item's properties, which reach the controller."""
    result = unscorable.pytester.runpytest_subprocess(
        "--promptcheck", "--promptcheck-no-progress", "-n", "2", "--dist", "loadfile",
        timeout=180,
    )  # fmt: skip
    result.assert_outcomes(passed=1, errors=2)
    assert "  1 pass, 0 fail, 0 undecided, 2 error" in section(result, "promptcheck summary")


def test_in_a_live_comparison_a_candidate_nothing_scored_is_an_error(project: Project) -> None:
    """Its change can only be inconclusive, which passes by default: the item says ERROR."""
    down = [{"match": ".", "outputs": [{"error": "HTTP 503: scripted outage"}]}]
    project.configure(
        {"old": scripted_model(rules=[{"match": ".", "outputs": ["GOOD"]}]),
         "new": scripted_model(rules=down)},
        default=None,
    )  # fmt: skip
    project.suite("pair", suite_yaml("pair", "- {id: case, prompt: p, expect: [{equals: GOOD}]}"))
    result = project.run("--promptcheck-model", "new", "--promptcheck-baseline", "old")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["pair::case on model 'new': ERROR", "*", f"  {OUTAGE}"])
    assert "  0 pass, 0 fail, 0 undecided, 1 error" in section(result, "promptcheck summary")


def test_show_and_runs_call_a_stored_case_nothing_scored_an_error(
    unscorable: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    unscorable.run()
    capsys.readouterr()  # the pytest run's own output
    assert main(["show", unscorable.runs()[0].id]) == ExitCode.OK
    shown = capsys.readouterr().out.splitlines()
    verdicts = {line.split()[0]: line.split()[5] for line in shown[3:6]}
    assert verdicts == {"down": "ERROR", "fine": "PASS", "unsure": "ERROR"}
    assert f"  down ERROR: {OUTAGE}" in shown
    assert "  1 pass, 0 fail, 0 undecided, 2 error" in shown

    assert main(["show", unscorable.runs()[0].id, "--json"]) == ExitCode.OK
    exported = {case["case_id"]: case for case in json.loads(capsys.readouterr().out)["cases"]}
    assert {name: case["status"] for name, case in exported.items()} == {
        "down": "error",
        "fine": "pass",
        "unsure": "error",
    }
    assert (exported["unsure"]["reason"], exported["fine"]["reason"]) == (UNSURE, None)
    assert exported["down"]["verdict"]["outcome"] == "undecided"  # the statistics' own word

    assert main(["runs"]) == ExitCode.OK
    header, row = capsys.readouterr().out.splitlines()
    assert header.split()[-5:] == ["cases", "pass", "fail", "undecided", "error"]
    assert row.split()[-5:] == ["3", "1", "0", "0", "2"]
    (summary,) = unscorable.runs()
    assert (summary.passed, summary.failed, summary.undecided, summary.errored) == (1, 0, 0, 2)


def test_a_case_with_some_samples_scored_keeps_its_verdict(project: Project) -> None:
    """Errors next to scored samples are reported beside the verdict, never instead of it."""
    project.configure({"demo": scripted_model(1.0, errors=0.5)})
    project.suite("mixed", suite_yaml("mixed", "- {id: case, prompt: p, expect: [{equals: GOOD}]}"))
    result = project.run()
    result.assert_outcomes(passed=1)
    assert "no sample was scored" not in result.stdout.str()
    assert Path(project.store_path).exists()
