"""pytest's own ``-x`` and ``--lf`` work on cases, and the store never counts a case twice."""

from __future__ import annotations

from .conftest import VERDICTS_SUITE, Project, suite_yaml

TWO_FAILING = suite_yaml(
    "failing",
    """
    - {id: first-bad, prompt: coin one, expect: [{equals: GOOD}]}
    - {id: good, prompt: perfect, expect: [{equals: GOOD}]}
    - {id: second-bad, prompt: coin two, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 40",
)


def test_exitfirst_stops_at_the_first_failing_case(project: Project) -> None:
    project.suite("failing", TWO_FAILING)
    result = project.run("-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    (run,) = project.runs()
    assert run.cases == 1
    assert run.finished_at is not None


def test_last_failed_reruns_only_the_failures(project: Project) -> None:
    project.suite("failing", TWO_FAILING)
    project.suite("verdicts", VERDICTS_SUITE)
    project.run().assert_outcomes(passed=3, failed=3)
    again = project.run("--lf", "-v")
    again.assert_outcomes(failed=3)
    again.stdout.fnmatch_lines(
        [
            "run-last-failure: rerun previous 3 failures*",
            "suites/failing.yaml::first-bad[[]demo[]] FAILED*",
            "suites/failing.yaml::second-bad[[]demo[]] FAILED*",
            "suites/verdicts.yaml::coin[[]demo[]] FAILED*",
        ]
    )
    first, second = project.runs()
    assert (first.cases, second.cases) == (6, 3)
    assert (second.failed, second.passed) == (3, 0)
    cached = project.results(second.id)
    assert all(sample.cached for result in cached.values() for sample in result.samples)
