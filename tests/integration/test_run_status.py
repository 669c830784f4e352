"""A run's status: ``interrupted`` when pytest was cut short, ``finished`` otherwise (``-x``
included), and what ``promptcheck runs``, ``show`` and ``compare`` say of it."""

from __future__ import annotations

import json

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode
from promptcheck.store import RunStatus

from .conftest import PROJECT_CONFTEST, Project, suite_yaml

THREE_CASES = suite_yaml(
    "three",
    """
    - {id: first, prompt: perfect one, expect: [{equals: GOOD}]}
    - {id: second, prompt: perfect two, expect: [{equals: GOOD}]}
    - {id: third, prompt: coin three, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 40",
)

#: Ctrl-C as pytest sees it, when the second case is about to run.
INTERRUPTING_CONFTEST = (
    PROJECT_CONFTEST
    + """

def pytest_runtest_setup(item):
    if item.name.startswith("second"):
        raise KeyboardInterrupt
"""
)


def cli_output(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert cli.main(list(args)) == ExitCode.OK
    return capsys.readouterr().out


@pytest.fixture
def interrupted(project: Project) -> Project:
    """A project whose first run, labelled ``baseline``, was interrupted after its first case."""
    project.suite("three", THREE_CASES)
    project.write("conftest.py", INTERRUPTING_CONFTEST)
    result = project.pytester.runpytest(
        "--promptcheck",
        "--promptcheck-no-progress",
        "--promptcheck-label",
        "baseline",
        no_reraise_ctrlc=True,  # the interruption is the inner session's, not this test's
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    project.write("conftest.py", PROJECT_CONFTEST)
    return project


def test_an_interrupted_session_leaves_an_interrupted_run(
    interrupted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    (run,) = interrupted.runs()
    assert (run.status, run.cases, run.finished_at is not None) == (
        RunStatus.INTERRUPTED,
        1,
        True,
    )

    header, line = cli_output(capsys, "runs").splitlines()
    assert header.split()[4:6] == ["status", "cases"]
    assert line.split()[-6:] == ["interrupted", "1", "1", "0", "0", "0"]  # status, cases, pass ...
    assert cli_output(capsys, "show", "baseline").splitlines()[0].endswith("status interrupted")
    exported = json.loads(cli_output(capsys, "show", "baseline", "--json"))
    assert exported["run"]["status"] == "interrupted"
    assert json.loads(cli_output(capsys, "runs", "--json"))[0]["status"] == "interrupted"


def test_comparing_against_an_interrupted_baseline_warns(
    interrupted: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    interrupted.run().assert_outcomes(passed=2, failed=1)
    baseline, candidate = interrupted.runs()
    assert candidate.status == RunStatus.FINISHED
    warning = (
        f"baseline run {baseline.id} was interrupted: it holds only the cases recorded before "
        "the interruption"
    )

    capsys.readouterr()
    cli.main(["compare", "baseline", candidate.id])
    assert f"warning: {warning}" in capsys.readouterr().out.splitlines()

    cli.main(["compare", "baseline", candidate.id, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert warning in document["warnings"]
    assert (document["baseline"]["status"], document["candidate"]["status"]) == (
        "interrupted",
        "finished",
    )


def test_a_run_stopped_by_exitfirst_is_finished(project: Project) -> None:
    project.suite("three", THREE_CASES.replace("perfect one", "coin one"))
    result = project.run("-x")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    (run,) = project.runs()
    assert (run.status, run.cases) == (RunStatus.FINISHED, 1)


def test_a_run_stopped_by_exitfirst_under_xdist_is_finished(project: Project) -> None:
    """xdist ends a ``-x`` session as INTERRUPTED; the run is still a finished one."""
    pytest.importorskip("xdist")
    project.suite("three", THREE_CASES.replace("perfect one", "coin one"))
    result = project.run_subprocess("-n", "2", "-x")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # what makes the case worth testing
    (run,) = project.runs()
    assert run.status == RunStatus.FINISHED
