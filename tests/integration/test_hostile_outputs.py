"""Outputs written to attack the reader and the runner: shown, never interpreted; bounded.

A model's output is not controlled by anyone. These runs feed promptcheck outputs that backtrack a
pattern for ever, carry terminal escape sequences and bidi controls, hold text Python cannot
encode, and a user's check that never returns; each run must end, keep every sample, and say
plainly what happened. The time limits are cut short here (``CHECK_TIMEOUT_S``) so that the test
is quick; every run is also bounded by the test's own limit on the step that could hang.
"""

from __future__ import annotations

import pytest

from promptcheck.checks import text as text_checks
from promptcheck.run import scoring

from .conftest import Project, scripted_model, suite_yaml

HOSTILE = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\u202eevil\u202c\x00 done"


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The regex's own limit, then the runner's for a check that never returns."""
    monkeypatch.setattr(text_checks, "CHECK_TIMEOUT_S", 0.2)
    monkeypatch.setattr(scoring, "CHECK_TIMEOUT_S", 3.0)


def test_a_pattern_that_backtracks_for_ever_is_unscored_and_the_run_goes_on(
    project: Project, short_timeouts: None
) -> None:
    project.configure(
        {
            "demo": scripted_model(
                rules=[
                    {"match": "^long", "outputs": ["a" * 40]},
                    {"match": ".", "outputs": ["fine"]},
                ]
            )
        }
    )
    project.suite(
        "regex",
        suite_yaml(
            "regex",
            """
            - id: backtracking
              prompt: long answer
              samples: 3
              expect: [{regex: "(a|aa)+b"}]
            - id: ordinary
              prompt: short answer
              samples: 3
              expect: [{equals: fine}]
            """,
        ),
    )
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*regex unscored: the pattern took longer than 0.2 s on this output*backtracking*"]
    )


def test_a_check_that_never_returns_is_given_up(project: Project, short_timeouts: None) -> None:
    project.write("plugins/__init__.py", "")
    project.write(
        "plugins/stuck.py",
        "import threading\n\n_never = threading.Event()\n\n"
        "def check(output):\n    _never.wait(3600)\n    return True\n",
    )
    project.suite(
        "stuck",
        suite_yaml(
            "stuck",
            "- {id: stuck, prompt: perfect, samples: 2, expect: [{python: plugins.stuck:check}]}",
        ),
    )
    result = project.run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*python unscored: python took longer than 3 s*given up*"])


def test_escape_sequences_in_outputs_are_shown_escaped(project: Project) -> None:
    project.configure({"demo": scripted_model(rules=[{"match": ".", "outputs": [HOSTILE]}])})
    project.suite(
        "escapes",
        suite_yaml("escapes", "- {id: show, prompt: anything, samples: 3, expect: [json]}"),
    )
    result = project.run()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "\x1b" not in text and "\u202e" not in text and "\x00" not in text
    assert "\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\u202eevil\\u202c\\x00 done" in text
    [case] = project.last_results().values()
    assert case.samples[0].output == HOSTILE  # stored as it came: only its display is escaped


def test_outputs_python_cannot_encode_are_kept_with_visible_escapes(project: Project) -> None:
    project.write("plugins/__init__.py", "")
    project.write(
        "plugins/surrogates.py",
        "from pydantic import BaseModel\n"
        "from promptcheck.backends import Generation, register_backend\n\n"
        "class Params(BaseModel):\n    pass\n\n"
        "class Broken:\n"
        "    async def generate(self, request):\n"
        "        return [Generation(text='bad \\ud800 text') for _ in request.seeds]\n\n"
        "@register_backend('surrogates', Params)\n"
        "def build(params, context):\n    return Broken()\n",
    )
    project.configure(
        {"broken": {"backend": "surrogates"}},
        default="broken",
        promptcheck='plugins = ["plugins.surrogates"]',
    )
    project.suite(
        "encode",
        suite_yaml("encode", "- {id: surrogate, prompt: hi, samples: 3, expect: [{max_words: 9}]}"),
    )
    result = project.run()
    result.assert_outcomes(passed=1)
    assert "writing the generation cache failed" not in result.stdout.str()
    [case] = project.last_results("broken").values()
    assert [sample.output for sample in case.samples] == ["bad \\ud800 text"] * 3
    rerun = project.run()  # the escaped text was cached: a re-run reads it back
    rerun.assert_outcomes(passed=1)


def test_a_case_nothing_could_score_is_an_error_whatever_fail_on_says(project: Project) -> None:
    project.write("plugins/__init__.py", "")
    project.write("plugins/unsure.py", "def unsure(output):\n    return 'maybe'\n")
    project.suite(
        "unsure",
        suite_yaml(
            "unsure", "- {id: case, prompt: perfect, expect: [{python: plugins.unsure:unsure}]}"
        ),
    )
    result = project.run()  # the default --promptcheck-fail-on fail
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*20 sample(s) could not be scored by a check*", "*returned str; expected a bool*"]
    )
