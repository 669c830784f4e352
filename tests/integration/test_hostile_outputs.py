"""Outputs written to attack the reader and the runner: shown, never interpreted; bounded.

A model's output is not controlled by anyone. These runs feed promptcheck outputs that backtrack a
pattern for ever, run to tens of megabytes, carry terminal escape sequences and bidi controls,
hold text Python cannot encode, and a user's check that never returns; each run must end, keep
every sample, and say plainly what happened.

A run that could hang or blow up on a regression (a pattern, a stuck check, a huge output) runs
in a child pytest under a time limit (``TIME_LIMIT_S``: the test fails instead of hanging CI)
and a limit on its address space (``MEMORY_LIMIT``), with the check time limits cut short there
(``CHECK_TIMEOUT_S``) so that it is quick. The others run in-process: they feed a few dozen
characters to code that is linear in them.
"""

from __future__ import annotations

import textwrap

import pytest

from .conftest import Project, scripted_model, suite_yaml

HOSTILE = "\x1b]52;c;cHduZWQ=\x07\x1b[2J\u202eevil\u202c\x00 done"
#: A child run takes a couple of seconds; a hang is what this cuts short.
TIME_LIMIT_S = 120
#: The child's address space: pytest, promptcheck and their threads take under 700 MiB of it;
#: a 32 MiB output copied for every sample and check (3 x 4) would not fit beside them.
MEMORY_LIMIT = 1024 * 2**20
#: Loaded first in the child (``-p``): its limits, and the regex's and the runner's check time
#: limits cut short.
LIMITS_PLUGIN = """\
import resource

from promptcheck.checks import text
from promptcheck.run import scoring

resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
text.CHECK_TIMEOUT_S = 0.2
scoring.CHECK_TIMEOUT_S = {check_limit_s}
"""


def run_bounded(project: Project, *args: str, check_limit_s: float = 3.0) -> pytest.RunResult:
    """The project's run in a child pytest, within TIME_LIMIT_S and MEMORY_LIMIT; a check that
    can run long is given up after ``check_limit_s`` (a regex after 0.2 s)."""
    limits = LIMITS_PLUGIN.format(memory=MEMORY_LIMIT, check_limit_s=check_limit_s)
    project.write("hostile_limits.py", limits)
    return project.pytester.runpytest_subprocess(
        "-p",
        "hostile_limits",
        "--promptcheck",
        "--promptcheck-no-progress",
        *args,
        timeout=TIME_LIMIT_S,
    )


def test_a_pattern_that_backtracks_for_ever_is_unscored_and_the_run_goes_on(
    project: Project,
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
    result = run_bounded(project)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        ["*regex unscored: the pattern took longer than 0.2 s on this output*backtracking*"]
    )


def test_a_check_that_never_returns_is_given_up(project: Project) -> None:
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
    result = run_bounded(project, check_limit_s=1.0)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*python unscored: python took longer than 1 s*given up*"])


def test_a_huge_output_is_scored_bounded_and_stored_cut(project: Project) -> None:
    """32 MiB of one backtracking word: every check answers (the pattern within its time
    limit), the run stays within the memory limit, and the store keeps the output cut."""
    project.write("plugins/__init__.py", "")
    project.write(
        "plugins/huge.py",
        textwrap.dedent(
            """\
            from pydantic import BaseModel
            from promptcheck.backends import Generation, register_backend

            HUGE = "a" * (32 * 2**20)

            class Params(BaseModel):
                pass

            class Huge:
                async def generate(self, request):
                    return [Generation(text=HUGE) for _ in request.seeds]

            @register_backend("huge", Params)
            def build(params, context):
                return Huge()
            """
        ),
    )
    project.configure(
        {"huge": {"backend": "huge"}}, default="huge", promptcheck='plugins = ["plugins.huge"]'
    )
    project.suite(
        "huge",
        suite_yaml(
            "huge",
            """
            - id: huge
              prompt: anything
              samples: 3
              expect: [{max_words: 2}, {regex: "(a|aa)+b"}, json, {not_contains: "!"}]
            """,
        ),
    )
    result = run_bounded(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*regex unscored: the pattern took longer than 0.2 s*"])
    assert "MemoryError" not in result.stdout.str() + result.stderr.str()
    [case] = project.last_results("huge").values()
    assert len(case.samples) == 3
    sample = case.samples[0]
    assert sample.output.startswith("a" * 1000) and "more characters not stored" in sample.output
    assert len(sample.output) < 2 * 10**5


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
