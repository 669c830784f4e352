"""Where runs are recorded: ``--promptcheck-store``, the ini key, ``[tool.promptcheck] store``."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import Project, scripted_model, suite_yaml

SUITE = suite_yaml(
    "one", "- {id: case, prompt: perfect, expect: [{equals: GOOD}]}", defaults="samples: 3"
)


def recorded(project: Project, path: Path) -> list[str]:
    return [run.model for run in project.runs(path)]


def test_the_default_store(project: Project) -> None:
    project.suite("one", SUITE)
    result = project.run()
    result.stdout.fnmatch_lines([f"runs recorded in {project.store_path}"])
    assert recorded(project, project.store_path) == ["demo"]


def test_the_option_names_the_store(project: Project) -> None:
    project.suite("one", SUITE)
    result = project.run("--promptcheck-store", "results/runs.db")
    result.stdout.fnmatch_lines([f"runs recorded in {project.path / 'results' / 'runs.db'}"])
    assert recorded(project, project.path / "results" / "runs.db") == ["demo"]
    assert not project.store_path.exists()


def test_an_absolute_store_path(project: Project, tmp_path_factory: pytest.TempPathFactory) -> None:
    store = tmp_path_factory.mktemp("elsewhere") / "runs.db"
    project.suite("one", SUITE)
    project.run(f"--promptcheck-store={store}")
    assert recorded(project, store) == ["demo"]


def test_the_ini_key_and_the_pyproject_key(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(promptcheck='store = "from-pyproject.db"')
    project.suite("one", SUITE)
    project.run()
    assert recorded(project, project.path / "from-pyproject.db") == ["demo"]
    project.configure(
        ini='promptcheck_store = "from-ini.db"', promptcheck='store = "from-pyproject.db"'
    )
    project.run()
    assert recorded(project, project.path / "from-ini.db") == ["demo"]
    project.run("--promptcheck-store=from-option.db")
    assert recorded(project, project.path / "from-option.db") == ["demo"]
    assert recorded(project, project.path / "from-pyproject.db") == ["demo"]


def test_a_run_records_model_suites_label_and_versions(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": {**scripted_model(1.0), "latency_ms": 0}})
    project.suite("one", SUITE)
    project.suite("two", SUITE.replace("suite: one", "suite: two"))
    project.run("--promptcheck-label", "baseline")
    (run,) = project.runs()
    assert run.label == "baseline"
    assert run.model == "demo"
    assert run.model_spec["backend"] == "scripted"
    assert sorted(Path(path).name for path in run.suites) == ["one.yaml", "two.yaml"]
    assert run.versions["promptcheck"]
    assert run.finished_at is not None and run.finished_at >= run.started_at
    assert (run.cases, run.samples, run.undecided) == (2, 6, 2)  # 3/3 cannot tell
