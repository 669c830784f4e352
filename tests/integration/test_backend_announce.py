"""A backend's long work (building a model) is announced past pytest's output capture.

A model built inside a test would otherwise stay silent for minutes in a CI log: pytest keeps a
passing test's output to itself. The project backend here announces as the tiny Dolly does.
"""

from __future__ import annotations

import pytest

from .conftest import Project, suite_yaml

ANNOUNCING_BACKEND = """
import sys

from pydantic import BaseModel

from promptcheck.backends.base import Generation, register_backend


class Params(BaseModel):
    pass


class Backend:
    async def generate(self, request):
        return [Generation(text="GOOD") for _ in request.seeds]


@register_backend("announcing", Params)
def build(params, context):
    context.announce("building the announcing model (a minute)")
    print("a stray line a backend prints", file=sys.stderr)
    return Backend()
"""


def announcing_project(pytester: pytest.Pytester) -> Project:
    project = Project(pytester)
    project.write("plugins/__init__.py", "")
    project.write("plugins/announcing.py", ANNOUNCING_BACKEND)
    project.configure(
        {"demo": {"backend": "announcing"}}, promptcheck='plugins = ["plugins.announcing"]\n'
    )
    project.suite("s", suite_yaml("s", "- {id: c, prompt: p, expect: [{equals: GOOD}]}"))
    return project


@pytest.mark.parametrize("where", ["in-process", "subprocess"])
def test_the_announcement_reaches_the_log_of_a_passing_run(
    pytester: pytest.Pytester, where: str
) -> None:
    project = announcing_project(pytester)
    result = project.run() if where == "in-process" else project.run_subprocess()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["promptcheck: building the announcing model (a minute)"])
    # everything else a backend prints stays captured, as pytest keeps a passing test's output
    assert "a stray line" not in result.stdout.str() + result.stderr.str()
