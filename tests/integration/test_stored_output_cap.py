"""``[tool.promptcheck] max_stored_output``: a long output is scored whole, stored cut with its
full length, and sampled again on a re-run rather than taken from the cache."""

from __future__ import annotations

import json

import pytest

from promptcheck import cli
from promptcheck.config import ExitCode

from .conftest import Project, scripted_model, suite_yaml

LONG = "GOOD" + "!" * 36  # 40 characters
MODELS = {
    "demo": scripted_model(
        rules=[{"match": "^long", "outputs": [LONG]}, {"match": "^short", "outputs": ["GOOD"]}]
    )
}
SUITE = suite_yaml(
    "lengths",
    f"""
    - {{id: long, prompt: long answer, expect: [{{equals: "{LONG}"}}]}}
    - {{id: short, prompt: short answer, expect: [{{equals: GOOD}}]}}
    """,
    defaults="samples: 3",
)


def test_a_long_output_is_scored_whole_stored_cut_and_not_cached(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    project.configure(MODELS, promptcheck="max_stored_output = 10")
    project.suite("lengths", SUITE)
    project.run().assert_outcomes(passed=2)  # the checks saw all 40 characters

    capsys.readouterr()
    assert cli.main(["show", project.runs()[0].id, "--json"]) == ExitCode.OK
    cases = {case["case_id"]: case for case in json.loads(capsys.readouterr().out)["cases"]}
    long_sample, short_sample = cases["long"]["samples"][0], cases["short"]["samples"][0]
    assert long_sample["output"] == "GOOD!!!!!!\n[... 30 more characters not stored]"
    assert (long_sample["output_length"], long_sample["output_truncated"]) == (40, True)
    assert (short_sample["output"], short_sample["output_length"]) == ("GOOD", 4)

    project.run().assert_outcomes(passed=2)
    again = project.last_results()
    assert not any(sample.cached for sample in again["long[demo]"].samples)
    assert all(sample.cached for sample in again["short[demo]"].samples)


def test_a_cap_below_one_is_a_usage_error(project: Project) -> None:
    project.configure(MODELS, promptcheck="max_stored_output = 0")
    project.suite("lengths", SUITE)
    result = project.run()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*[[]tool.promptcheck[]] max_stored_output: *greater than*"])
