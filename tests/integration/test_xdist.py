"""``pytest -n 2``: the same verdicts as a serial run, one run per model, no sample lost or doubled.

Starting workers takes seconds, so one xdist run serves every assertion.
"""

from __future__ import annotations

import pytest

from .conftest import VERDICTS_SUITE, Project, junit_cases, scripted_model, suite_yaml

pytest.importorskip("xdist")

MORE = suite_yaml(
    "more",
    """
    - {id: a, prompt: "perfect {{ x }}", vars: {x: [1, 2, 3]}, expect: [{equals: GOOD}]}
    - {id: b, prompt: coin b, expect: [{equals: GOOD}]}
    - {id: c, prompt: flaky c, expect: [{equals: GOOD}]}
    - {id: d, prompt: "item {{ i }}", vars: {i: [5, 6, 7]}, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 30",
)


def summary_rows(result: pytest.RunResult) -> list[str]:
    section = result.stdout.str().split("= promptcheck summary =")[1].split("runs recorded in")[0]
    return sorted(line for line in section.splitlines() if line.strip())


def test_xdist_matches_a_serial_run_and_records_everything_once(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(), "other": scripted_model(0.9, errors=0.1)})
    project.suite("verdicts", VERDICTS_SUITE)
    project.suite("more", MORE)
    models = ("--promptcheck-model", "demo,other")

    serial = project.run(*models, "--junitxml=serial.xml")
    parallel = project.run_subprocess(
        *models, "--promptcheck-fresh", "-n", "2", "-v", "--junitxml=xdist.xml"
    )

    assert parallel.ret == serial.ret
    assert parallel.parseoutcomes() == serial.parseoutcomes()
    workers = {line.split("]")[0] for line in parallel.outlines if line.startswith("[gw")}
    assert workers == {"[gw0", "[gw1"}

    serial_cases = junit_cases(project.path / "serial.xml")
    parallel_cases = junit_cases(project.path / "xdist.xml")
    assert len(serial_cases) == 14
    keys = ("outcome", "promptcheck_verdict", "promptcheck_rate", "promptcheck_errors")
    for name, properties in serial_cases.items():
        assert [parallel_cases[name][key] for key in keys] == [properties[key] for key in keys]
    assert summary_rows(parallel) == summary_rows(serial)

    runs = project.runs()
    serial_runs, parallel_runs = runs[:2], runs[2:]
    assert len(runs) == 4
    assert len({run.session for run in parallel_runs}) == 1
    assert sorted(run.model for run in parallel_runs) == ["demo", "other"]
    assert {run.id for run in parallel_runs} == {
        properties["promptcheck_run"] for properties in parallel_cases.values()
    }
    for serial_run, parallel_run in zip(
        sorted(serial_runs, key=lambda r: r.model),
        sorted(parallel_runs, key=lambda r: r.model),
        strict=True,
    ):
        assert parallel_run.finished_at is not None
        assert (parallel_run.cases, parallel_run.samples) == (7, serial_run.samples)
        expected = project.results(serial_run.id)
        with project.store() as store:
            cases = store.case_results(parallel_run.id)
        recorded = {f"{case.case_id}[{case.model}]": case for case in cases}
        assert len(cases) == len(recorded) == len(expected) == 7
        assert recorded.keys() == expected.keys()
        for name, result in recorded.items():
            indexes = [sample.index for sample in result.samples]
            assert indexes == list(range(len(expected[name].samples)))
            assert [(s.seed, s.output, s.error) for s in result.samples] == [
                (s.seed, s.output, s.error) for s in expected[name].samples
            ]
            assert not any(sample.cached for sample in result.samples)
