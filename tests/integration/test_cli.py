"""The ``promptcheck`` command around a run: ``runs``, ``show``, ``validate``, ``schema``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from promptcheck.cli import main
from promptcheck.config import ExitCode

from .conftest import VERDICTS_SUITE, Project


@pytest.fixture
def recorded(project: Project) -> Project:
    """A project with two runs: one labelled ``baseline``, then a default one."""
    project.suite("verdicts", VERDICTS_SUITE)
    project.run("--promptcheck-label", "baseline")
    project.run("-k", "perfect")
    return project


def test_runs_lists_the_runs_newest_first(
    recorded: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs"]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    first, second = recorded.runs()
    assert lines[0].split()[:3] == ["run", "model", "label"]
    assert lines[1].startswith(second.id)
    assert lines[2].startswith(first.id)
    assert "baseline" in lines[2]
    # cases, pass, fail, undecided, error
    assert lines[2].split()[-5:] == ["3", "1", "1", "1", "0"]


def test_runs_as_json(recorded: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--json", "--store", str(recorded.store_path)]) == ExitCode.OK
    runs = json.loads(capsys.readouterr().out)
    assert [run["label"] for run in runs] == [None, "baseline"]
    assert [(run["cases"], run["passed"], run["failed"], run["undecided"]) for run in runs] == [
        (1, 1, 0, 0),
        (3, 1, 1, 1),
    ]


def test_show_prints_one_run_by_id_prefix_or_label(
    recorded: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    first, _ = recorded.runs()
    for reference in (first.id, first.id[:-3], "baseline"):
        assert main(["show", reference]) == ExitCode.OK
        out = capsys.readouterr().out
        assert out.startswith(f"run {first.id}  model demo")
        assert "verdicts on demo" in out
        assert "1 pass, 1 fail, 1 undecided" in out


def test_show_json_exports_every_sample(
    recorded: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "baseline", "--json"]) == ExitCode.OK
    exported = json.loads(capsys.readouterr().out)
    assert exported["run"]["label"] == "baseline"
    cases = {case["case_id"]: case for case in exported["cases"]}
    assert set(cases) == {"perfect", "coin", "nineteen"}
    assert cases["nineteen"]["verdict"]["outcome"] == "undecided"
    assert (cases["nineteen"]["verdict"]["k"], cases["nineteen"]["verdict"]["n"]) == (19, 20)
    assert len(cases["coin"]["samples"]) == 40
    sample = cases["coin"]["samples"][0]
    assert {"seed", "output", "prompt", "checks", "status", "cached"} <= set(sample)


def test_show_an_unknown_run_is_a_usage_error(
    recorded: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["show", "no-such-run"]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "no run id, id prefix or label matches 'no-such-run'" in err
    assert "Traceback" not in err


def test_runs_without_a_store_is_a_usage_error(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs"]) == ExitCode.USAGE
    assert "no run store at" in capsys.readouterr().err


def test_validate_good_and_bad_suites(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.write("suites/data/rows.yaml", "- a: 1\n")  # data, not a suite
    assert main(["validate", "suites"]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "ok: suites/verdicts.yaml: suite 'verdicts', 3 cases, 80 samples per model" in out
    assert "1 valid, 0 invalid" in out

    project.suite("broken", "suite: broken\ncases:\n  - id: a\n    prompt: p\n    expect: [nope]\n")
    assert main(["validate", "suites"]) == ExitCode.FAILED
    out = capsys.readouterr().out
    assert "error: suites/broken.yaml:5: cases[0].expect[0]: unknown check 'nope'" in out
    assert "1 valid, 1 invalid" in out

    assert main(["validate", "suites/missing.yaml"]) == ExitCode.USAGE


def test_validate_names_a_suite_that_is_a_link_loop(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    """Named or met in a folder, a loop is an invalid suite, not "no such file" nor skipped."""
    (project.path / "suites").mkdir(exist_ok=True)
    (project.path / "suites" / "loop.yaml").symlink_to("loop.yaml")
    for target in ("suites/loop.yaml", "suites"):
        assert main(["validate", target]) == ExitCode.FAILED
        out = capsys.readouterr().out
        loop = "error: suites/loop.yaml: cannot read suite: the file suites/loop.yaml is a"
        assert f"{loop} symbolic link loop" in out
        assert "hint: point the link at a real file" in out
        assert "0 valid, 1 invalid" in out


def test_the_console_script_runs(recorded: Project) -> None:
    """The installed entry point, in a child process, as a user or CI calls it."""
    completed = subprocess.run(
        [sys.executable, "-m", "promptcheck.cli", "show", "baseline", "--json"],
        cwd=recorded.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == ExitCode.OK, completed.stderr
    assert json.loads(completed.stdout)["run"]["label"] == "baseline"
