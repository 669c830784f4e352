"""Tool-calling cases run by pytest: calls scored and shown as outputs in the failure text and
the store, read back from the cache on a re-run, and suite mistakes reported at collection."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Project

SUITE = """\
suite: orders
defaults: {samples: 40, threshold: 0.9}
cases:
  - id: calls-lookup
    prompt: "Where is order {{ order }}?"
    vars: {order: [A17, A18]}
    tools: &tools
      - name: lookup
        description: Look an order up.
        parameters:
          type: object
          properties: {order: {type: string, pattern: "^A[0-9]+$"}}
          required: [order]
    tool_choice: required
    expect:
      - tool_call: {name: lookup, count: 1}
  - id: answers-in-text
    prompt: "Thanks!"
    tools: *tools
    expect: [no_tool_call]
"""

MODEL = {
    "backend": "scripted",
    "rules": [
        {
            "match": "A17",
            "outputs": [{"tool_calls": [{"name": "lookup", "arguments": {"order": "A17"}}]}],
        },
        {  # a model that mangles the argument 3 times in 4
            "match": "A18",
            "outputs": [
                {"tool_calls": [{"name": "lookup", "arguments": {"order": "A18"}}]},
                {
                    "tool_calls": [{"name": "lookup", "arguments": {"order": "order 18"}}],
                    "weight": 3,
                },
            ],
        },
        {"match": "Thanks", "outputs": [{"text": "You're welcome."}]},
    ],
}


def orders_project(pytester: pytest.Pytester) -> Project:
    project = Project(pytester)
    project.configure({"agent": MODEL}, default="agent")
    project.suite("orders", SUITE)
    return project


def test_calls_are_scored_and_shown_as_the_output(pytester: pytest.Pytester) -> None:
    project = orders_project(pytester)
    result = project.run()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "orders::calls-lookup on model 'agent': FAIL",
            "*[[]0[]] tool_call  failed *",
            "*tool_call fail: lookup: $.order: 'order 18' does not match '^A[[]0-9[]]+$'",
            '      output: lookup({"order": "order 18"})',
        ]
    )
    [run] = project.runs()
    results = project.results(run.id)
    samples = results["calls-lookup[agent]"].samples
    assert {s.output for s in samples} == {
        'lookup({"order": "A17"})',
        'lookup({"order": "A18"})',
        'lookup({"order": "order 18"})',
    }
    assert {s.output for s in results["answers-in-text[agent]"].samples} == {"You're welcome."}


def test_a_rerun_from_the_cache_scores_the_calls_it_read_back(pytester: pytest.Pytester) -> None:
    project = orders_project(pytester)
    first = project.run()
    second = project.run()
    first.assert_outcomes(passed=1, failed=1)
    second.assert_outcomes(passed=1, failed=1)
    before, after = project.runs()
    old = project.results(before.id)["calls-lookup[agent]"]
    new = project.results(after.id)["calls-lookup[agent]"]
    assert all(sample.cached for sample in new.samples)
    assert [s.status for s in old.samples] == [s.status for s in new.samples]
    assert (new.verdict.k, new.verdict.n) == (old.verdict.k, old.verdict.n)


def test_changing_a_tool_draws_the_case_again(pytester: pytest.Pytester) -> None:
    project = orders_project(pytester)
    project.run()
    project.suite("orders", SUITE.replace("Look an order up.", "Find an order."))
    project.run()
    _, after = project.runs()
    results = project.results(after.id)
    assert not any(s.cached for s in results["calls-lookup[agent]"].samples)


@pytest.mark.parametrize(
    ("mistake", "fix"),
    [
        ("tool_choice: required", "tool_choice: lookpu"),
        ("- tool_call: {name: lookup, count: 1}", "- tool_call: {name: lokup}"),
    ],
)
def test_mistakes_in_tools_are_collection_errors(
    pytester: pytest.Pytester, mistake: str, fix: str
) -> None:
    project = orders_project(pytester)
    project.suite("orders", SUITE.replace(mistake, fix))
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*orders.yaml:1[0-9]: cases[[]0[]].*", "*did you mean 'lookup'*"])
    result.stdout.no_fnmatch_line("*Traceback*")
