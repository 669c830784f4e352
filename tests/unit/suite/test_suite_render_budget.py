"""A suite's renders share one time budget at collection, and judges' rubrics are rendered too."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptcheck import templating
from promptcheck.errors import SuiteError
from promptcheck.project import ProjectConfig
from promptcheck.suite import loader
from promptcheck.suite.loader import SuiteSpec, load_suite

LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load(path: Path) -> SuiteSpec:
    return load_suite(path, ProjectConfig(base_dir=path.parent))


@pytest.fixture
def small_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """A suite budget far below one render's own limit (which stays short, so that a budget
    that were not applied fails the test in seconds instead of running on)."""
    monkeypatch.setattr(loader, "MAX_SUITE_RENDER_SECONDS", 0.3)
    monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 5.0)


def test_a_suite_past_its_budget_is_one_error_naming_the_file(
    tmp_path: Path, small_budget: None
) -> None:
    path = write(
        tmp_path,
        "slow.yaml",
        f"""\
        suite: slow
        cases:
          - id: a
            prompt: "{LOOPS}"
            expect: [json]
        """,
    )
    with pytest.raises(SuiteError) as raised:
        load(path)
    error = raised.value
    assert (error.path, error.line, error.key) == (path, 4, "cases[0].prompt")
    assert "rendering this suite's prompts took more than 0.3 s in all" in error.message
    assert error.hint is not None and "fewer combinations" in error.hint


def test_the_budget_is_the_suites_own(tmp_path: Path, small_budget: None) -> None:
    """A suite that spent its budget leaves nothing behind for the next suite loaded."""
    slow = write(
        tmp_path,
        "slow.yaml",
        f'suite: slow\ncases:\n  - id: a\n    prompt: "{LOOPS}"\n    expect: [json]\n',
    )
    with pytest.raises(SuiteError):
        load(slow)
    quick = write(
        tmp_path,
        "quick.yaml",
        "suite: quick\ncases:\n  - id: a\n    prompt: 'hi {{ x }}'\n    vars: {x: [1, 2, 3]}\n"
        "    expect: [json]\n",
    )
    assert [c.prompt for c in load(quick).cases[0].combinations] == ["hi 1", "hi 2", "hi 3"]


JUDGED = """\
suite: judged
models:
  critic: {{backend: scripted, rules: [{{match: ".", outputs: ["YES"]}}]}}
cases:
  - id: a
    prompt: "Say {{{{ word }}}}"
    vars: {{word: [one, two]}}
    expect:
      - judge: {{model: critic, rubric: "{rubric}"}}
"""


def test_a_judge_rubric_that_cannot_render_is_a_collection_error(tmp_path: Path) -> None:
    path = write(tmp_path, "judged.yaml", JUDGED.format(rubric="says {{ word + 1 }}"))
    with pytest.raises(SuiteError) as raised:
        load(path)
    assert (raised.value.line, raised.value.key) == (9, "cases[0].expect[0].judge")
    assert "template error: TypeError" in raised.value.message


def test_a_judge_rubric_counts_against_the_budget(tmp_path: Path, small_budget: None) -> None:
    path = write(tmp_path, "judged.yaml", JUDGED.format(rubric=LOOPS))
    with pytest.raises(SuiteError) as raised:
        load(path)
    assert raised.value.key == "cases[0].expect[0].judge"
    assert "took more than 0.3 s in all" in raised.value.message


def test_a_rubric_that_renders_loads(tmp_path: Path) -> None:
    path = write(tmp_path, "judged.yaml", JUDGED.format(rubric="it says {{ word }}"))
    assert len(load(path).cases[0].combinations) == 2
