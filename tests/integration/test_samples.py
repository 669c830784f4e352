"""``--promptcheck-samples`` overrides the suites' sample counts."""

from __future__ import annotations

import pytest

from .conftest import Project, suite_yaml

SUITE = suite_yaml(
    "counts",
    """
    - id: default
      prompt: perfect
      expect: [{equals: GOOD}]
    - id: own-count
      prompt: perfect
      samples: 9
      expect: [{equals: GOOD}]
    - id: combinations
      prompt: "perfect {{ x }}"
      vars: {x: [a, b, c, d, e]}
      expect: [{equals: GOOD}]
    """,
    defaults="samples: 12",
)


def sample_counts(project: Project) -> dict[str, int]:
    return {name: len(result.samples) for name, result in project.last_results().items()}


def test_the_suite_sets_the_counts(project: Project) -> None:
    project.suite("counts", SUITE)
    project.run()
    assert sample_counts(project) == {
        "combinations[demo]": 12,
        "default[demo]": 12,
        "own-count[demo]": 9,
    }


def test_the_option_overrides_every_case(project: Project) -> None:
    project.suite("counts", SUITE)
    project.run("--promptcheck-samples", "7")
    assert sample_counts(project) == {
        "combinations[demo]": 7,
        "default[demo]": 7,
        "own-count[demo]": 7,
    }
    combinations = project.last_results()["combinations[demo]"]
    assert [s.variables["x"] for s in combinations.samples] == ["a", "b", "c", "d", "e", "a", "b"]


def test_every_combination_is_sampled_at_least_once(project: Project) -> None:
    project.suite("counts", SUITE)
    project.run("--promptcheck-samples=2", "-k", "combinations")
    combinations = project.last_results()["combinations[demo]"]
    assert [s.variables["x"] for s in combinations.samples] == ["a", "b", "c", "d", "e"]
    assert combinations.verdict.n == 5


def test_the_ini_key_sets_the_counts(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure(ini='promptcheck_samples = "3"')
    project.suite("counts", SUITE)
    project.run("-k", "default or own")
    assert sample_counts(project) == {"default[demo]": 3, "own-count[demo]": 3}
    project.run("-k", "default", "--promptcheck-samples=4")
    assert sample_counts(project) == {"default[demo]": 4}


def test_more_samples_reuse_the_cached_ones(project: Project) -> None:
    project.suite("counts", SUITE)
    project.run("--promptcheck-samples=5", "-k", "default")
    project.run("--promptcheck-samples=8", "-k", "default")
    first, second = (project.results(run.id)["default[demo]"] for run in project.runs())
    assert [s.cached for s in second.samples] == [True] * 5 + [False] * 3
    assert [s.seed for s in second.samples[:5]] == [s.seed for s in first.samples]
