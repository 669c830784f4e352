"""A suite file's cases run together on a model, so requests overlap across cases.

A project backend (from ``plugins/``) holds every request until ``expect`` requests are in
flight at once (or a generous deadline passes) and writes the most it ever saw: with the cases
of a file run together the peak reaches the sum of their requests; had each case waited for the
previous one, it would stop at one case's.
"""

from __future__ import annotations

import pytest

from .conftest import Project, junit_cases, suite_yaml

BARRIER_BACKEND = """
import asyncio
from pathlib import Path

from pydantic import BaseModel

from promptcheck.backends.base import Generation, register_backend


class BarrierParams(BaseModel):
    log: str
    expect: int


class BarrierBackend:
    max_samples_per_request = 1

    def __init__(self, log, expect):
        self.log = Path(log)
        self.expect = expect
        self.in_flight = self.peak = 0
        self.full = asyncio.Event()

    async def generate(self, request):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        if self.in_flight >= self.expect:
            self.full.set()
        try:
            await asyncio.wait_for(self.full.wait(), timeout=20)
        except asyncio.TimeoutError:
            pass
        self.in_flight -= 1
        self.log.write_text(str(self.peak))
        return [Generation(text="GOOD") for _ in request.seeds]


@register_backend("barrier", BarrierParams)
def build(params, context):
    return BarrierBackend(params.log, params.expect)
"""

THREE_CASES = suite_yaml(
    "three",
    """
    - {id: one, prompt: first, expect: [{equals: GOOD}]}
    - {id: two, prompt: second, expect: [{equals: GOOD}]}
    - {id: third, prompt: third, expect: [{equals: GOOD}]}
    """,
    defaults="samples: 2",
)


def barrier_project(pytester: pytest.Pytester, expect: int) -> Project:
    project = Project(pytester)
    project.write("plugins/__init__.py", "")
    project.write("plugins/barrier.py", BARRIER_BACKEND)
    project.configure(
        {"demo": {"backend": "barrier", "log": "peak.txt", "expect": expect}},
        promptcheck='plugins = ["plugins.barrier"]',
    )
    project.suite("three", THREE_CASES)
    return project


def peak(project: Project) -> int:
    return int((project.path / "peak.txt").read_text())


def test_the_cases_of_a_suite_file_overlap(pytester: pytest.Pytester) -> None:
    project = barrier_project(pytester, expect=6)
    project.run("--promptcheck-fresh", "--junitxml=report.xml").assert_outcomes(passed=3)
    assert peak(project) == 6  # 3 cases x 2 samples, one request each, all in flight at once
    cases = junit_cases(project.path / "report.xml")
    assert {name: c["promptcheck_conforming"] for name, c in cases.items()} == {
        "one[demo]": "2",
        "two[demo]": "2",
        "third[demo]": "2",
    }


def test_the_concurrency_bound_holds_across_cases(pytester: pytest.Pytester) -> None:
    project = barrier_project(pytester, expect=4)
    project.run("--promptcheck-fresh", "--promptcheck-concurrency=4").assert_outcomes(passed=3)
    assert peak(project) == 4


def test_deselected_cases_are_not_sampled(pytester: pytest.Pytester) -> None:
    project = barrier_project(pytester, expect=4)
    project.run("--promptcheck-fresh", "-k", "not third").assert_outcomes(passed=2)
    assert peak(project) == 4
    (run,) = project.runs()
    assert run.cases == 2
    assert run.samples == 4


def test_a_single_model_run_writes_a_markdown_summary(project: Project) -> None:
    project.suite(
        "mixed",
        suite_yaml(
            "mixed",
            """
            - {id: good-case, prompt: perfect, expect: [{equals: GOOD}]}
            - {id: bad-case, prompt: coin, expect: [{equals: GOOD}]}
            """,
            defaults="samples: 40",
        ),
    )
    result = project.run("--promptcheck-md", "summary.md")
    result.assert_outcomes(passed=1, failed=1)
    text = (project.path / "summary.md").read_text(encoding="utf-8")
    assert text.startswith("## :x: promptcheck: 1 case failed\n")
    assert "### `mixed` on `demo`" in text
    bad_line = next(line for line in text.splitlines() if "`bad-case`" in line)
    assert "| **fail** |" in bad_line
    assert "<summary>Passing (1)</summary>" in text
    assert text.index("`bad-case`") < text.index("`good-case`")


def test_an_xdist_worker_sent_whole_files_runs_them_together(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    project = barrier_project(pytester, expect=6)
    result = project.run_subprocess("--promptcheck-fresh", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=3)
    assert peak(project) == 6


def test_a_single_model_run_writes_an_html_report(project: Project) -> None:
    project.suite("three", THREE_CASES.replace("first", "perfect first"))
    result = project.run("--promptcheck-html", "out/report.html")
    # the default model answers only "perfect...": the others error, nothing scored
    result.assert_outcomes(passed=1, errors=2)
    target = project.path / "out" / "report.html"
    result.stdout.fnmatch_lines([f"HTML report written to {target}"])
    text = target.read_text(encoding="utf-8")
    assert text.lstrip().lower().startswith("<!doctype html>")
    (run,) = project.runs()
    assert run.id in text
