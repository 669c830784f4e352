"""Re-runs reproduce their samples; the cache serves them; ``--promptcheck-fresh`` samples again."""

from __future__ import annotations

import pytest

from promptcheck.results import CaseResult

from .conftest import VERDICTS_SUITE, Project, scripted_model, suite_yaml


def drawn(results: dict[str, CaseResult]) -> dict[str, list[tuple[int, int, str | None]]]:
    """Per case: every sample's index, seed and output."""
    return {
        name: [(s.index, s.seed, s.output) for s in result.samples]
        for name, result in results.items()
    }


def cached_flags(results: dict[str, CaseResult]) -> set[bool]:
    return {sample.cached for result in results.values() for sample in result.samples}


def test_a_second_run_reproduces_every_sample_from_the_cache(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run()
    project.run()
    first, second = (project.results(run.id) for run in project.runs())
    assert drawn(first) == drawn(second)
    assert cached_flags(first) == {False}
    assert cached_flags(second) == {True}


def test_fresh_samples_again_with_the_same_seeds(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run()
    project.run("--promptcheck-fresh")
    first, fresh = (project.results(run.id) for run in project.runs())
    assert cached_flags(fresh) == {False}
    assert drawn(first) == drawn(fresh)  # the scripted model draws by seed


def test_a_fresh_store_reproduces_the_outputs(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run("--promptcheck-store", "one.db")
    project.run("--promptcheck-store", "two.db")
    (one,) = project.runs(project.path / "one.db")
    (two,) = project.runs(project.path / "two.db")
    first = project.results(one.id, project.path / "one.db")
    second = project.results(two.id, project.path / "two.db")
    assert drawn(first) == drawn(second)
    assert cached_flags(second) == {False}


def test_changing_a_prompt_invalidates_that_case_only(project: Project) -> None:
    project.suite("verdicts", VERDICTS_SUITE)
    project.run()
    project.suite("verdicts", VERDICTS_SUITE.replace("coin flip answer", "coin toss answer"))
    project.run()
    first, second = (project.results(run.id) for run in project.runs())
    for name in ("perfect[demo]", "nineteen[demo]"):
        assert [s.cache_key for s in second[name].samples] == [
            s.cache_key for s in first[name].samples
        ]
        assert cached_flags({name: second[name]}) == {True}
    old_keys = {s.cache_key for s in first["coin[demo]"].samples}
    new_keys = {s.cache_key for s in second["coin[demo]"].samples}
    assert not old_keys & new_keys
    assert cached_flags({"coin": second["coin[demo]"]}) == {False}
    # the seeds do not depend on the prompt: the same draws, a new cache entry
    assert [s.seed for s in second["coin[demo]"].samples] == [
        s.seed for s in first["coin[demo]"].samples
    ]


def test_changing_the_model_invalidates_the_cache(pytester: pytest.Pytester) -> None:
    project = Project(pytester)
    project.configure({"demo": scripted_model(0.5)})
    project.suite("one", suite_yaml("one", "- {id: case, prompt: p, expect: [{equals: GOOD}]}"))
    project.run()
    project.configure({"demo": scripted_model(0.6)})
    project.run()
    first, second = (project.results(run.id) for run in project.runs())
    assert cached_flags(second) == {False}
    # another model draws other seeds: a baseline's and a candidate's samples are independent
    assert {s.seed for s in first["case[demo]"].samples}.isdisjoint(
        s.seed for s in second["case[demo]"].samples
    )


def test_errors_are_not_cached(project: Project) -> None:
    project.suite(
        "flaky",
        suite_yaml("flaky", "- {id: flaky, prompt: flaky service, expect: [{equals: GOOD}]}"),
    )
    project.run()
    project.run()
    first, second = (project.results(run.id) for run in project.runs())
    for before, after in zip(
        first["flaky[demo]"].samples, second["flaky[demo]"].samples, strict=True
    ):
        assert after.cached is (before.error is None)
        assert (after.output, after.error) == (before.output, before.error)
