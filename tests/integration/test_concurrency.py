"""``--promptcheck-concurrency``, its ini key and ``[tool.promptcheck] concurrency``.

A project backend (registered from ``plugins/``, as a team would add its own) writes the most
requests it ever had in flight, so the bound the runner keeps can be read back.
"""

from __future__ import annotations

import pytest

from .conftest import Project, suite_yaml

COUNTING_BACKEND = """
import asyncio
from pathlib import Path

from pydantic import BaseModel

from promptcheck.backends.base import Generation, register_backend


class CountingParams(BaseModel):
    log: str


class CountingBackend:
    max_samples_per_request = 1

    def __init__(self, log):
        self.log = Path(log)
        self.in_flight = self.peak = 0

    async def generate(self, request):
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.002)
        self.in_flight -= 1
        self.log.write_text(str(self.peak))
        return [Generation(text="GOOD") for _ in request.seeds]


@register_backend("counting", CountingParams)
def build(params, context):
    return CountingBackend(params.log)
"""

SUITE = suite_yaml(
    "wide", "- {id: case, prompt: p, expect: [{equals: GOOD}]}", defaults="samples: 12"
)


def counting_project(pytester: pytest.Pytester, *, ini: str = "", promptcheck: str = "") -> Project:
    project = Project(pytester)
    project.write("plugins/__init__.py", "")
    project.write("plugins/counting.py", COUNTING_BACKEND)
    project.configure(
        {"demo": {"backend": "counting", "log": "peak.txt"}},
        ini=ini,
        promptcheck='plugins = ["plugins.counting"]\n' + promptcheck,
    )
    project.suite("wide", SUITE)
    return project


def peak(project: Project, *args: str) -> int:
    project.run("--promptcheck-fresh", *args).assert_outcomes(passed=1)
    return int((project.path / "peak.txt").read_text())


def test_the_default_bound(pytester: pytest.Pytester) -> None:
    assert peak(counting_project(pytester)) == 8


def test_the_option_sets_the_bound(pytester: pytest.Pytester) -> None:
    project = counting_project(pytester)
    assert peak(project, "--promptcheck-concurrency=1") == 1
    assert peak(project, "--promptcheck-concurrency", "3") == 3


def test_the_ini_and_pyproject_keys(pytester: pytest.Pytester) -> None:
    assert peak(counting_project(pytester, promptcheck="concurrency = 2")) == 2
    both = counting_project(
        pytester, ini='promptcheck_concurrency = "5"', promptcheck="concurrency = 2"
    )
    assert peak(both) == 5
    assert peak(both, "--promptcheck-concurrency=4") == 4
