"""Suite patches: only the adapted cases' prompts change, every other byte stays."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
import yaml

from promptcheck.adapt.patches import patch_suite, unified_diff
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
TRIAGE = (ROOT / "suites" / "triage.yaml").read_text()

SUITE = """\
# a comment at the top
suite: s   # trailing comment
cases:
  - id: plain
    prompt: Say hi to {{ name }}.   # kept
    vars: {name: [a]}
    expect: [json]

  - id: block
    description: "keeps: this"
    prompt: |
      Line one {{ x }}

      Line three
    # a comment between keys
    expect:
      - json
  - id: chat
    messages:
      - {role: system, content: "Be brief."}
      - role: user
        content: "Hi {{ y }}"
    expect: [json]
"""


def changed_lines(before: str, after: str) -> list[str]:
    """The lines a patch removed or added (diff markers and context dropped)."""
    return [
        line
        for line in difflib.ndiff(before.splitlines(), after.splitlines())
        if line[:2] in ("- ", "+ ")
    ]


@pytest.mark.parametrize(
    "prompt",
    [
        "Ticket: {{ ticket }}\n\nClassify it.",
        "one line: with a colon # and a hash",
        "quotes \" and ' and a tab\there",
        "  leading spaces\n\nthen more",
        "ends with a newline {{ x }}\n",
        "two trailing newlines\n\n",
        "unicode: café, 日本, emoji \U0001f600",
        "a control \x07 character\nand a second line",
        "{{ x }}",
        "- looks like a list\n- item",
    ],
)
def test_any_prompt_round_trips_and_nothing_else_changes(prompt: str) -> None:
    patched = patch_suite(SUITE, {1: PromptTemplate(prompt=prompt)})
    data = yaml.safe_load(patched)
    assert data["cases"][1]["prompt"] == prompt
    original = yaml.safe_load(SUITE)
    original["cases"][1]["prompt"] = prompt
    assert data == original
    # every line outside the replaced value is kept, comments included
    start = SUITE.index("    prompt: |")
    end = SUITE.index("    # a comment between keys")
    assert patched.startswith(SUITE[:start])
    assert patched.endswith(SUITE[end:])


def test_a_plain_prompt_is_replaced_in_place_and_its_comment_kept() -> None:
    patched = patch_suite(SUITE, {0: PromptTemplate(prompt="Hello {{ name }}.")})
    assert changed_lines(SUITE, patched) == [
        "-     prompt: Say hi to {{ name }}.   # kept",
        '+     prompt: "Hello {{ name }}."   # kept',
    ]


def test_a_system_message_is_added_after_the_prompt() -> None:
    patched = patch_suite(SUITE, {1: PromptTemplate(prompt="Data {{ x }}", system="Instr.")})
    data = yaml.safe_load(patched)["cases"][1]
    assert data["prompt"] == "Data {{ x }}" and data["system"] == "Instr."
    assert '    system: "Instr."\n    # a comment between keys' in patched
    plain = patch_suite(SUITE, {0: PromptTemplate(prompt="D {{ name }}", system="I.")})
    assert '    prompt: "D {{ name }}"   # kept\n    system: "I."\n    vars:' in plain


def test_messages_are_written_as_a_block_list() -> None:
    messages = (("system", "Sys."), ("user", "Ticket: {{ y }}\n\nClassify."))
    patched = patch_suite(SUITE, {2: PromptTemplate(messages=messages)})
    data = yaml.safe_load(patched)["cases"][2]
    assert data["messages"] == [{"role": r, "content": c} for r, c in messages]
    assert patched.endswith("    expect: [json]\n")


def test_several_cases_of_the_real_suite() -> None:
    changes = {
        0: PromptTemplate(
            prompt="Ticket: {{ ticket }}\n\nClassify this support ticket. Reply with JSON only, "
            'with the keys "category" and "priority".'
        ),
        1: PromptTemplate(prompt="Message: {{ message }}", system="Extract the sender as JSON."),
    }
    patched = patch_suite(TRIAGE, changes, "suites/triage.yaml")
    diff = unified_diff(TRIAGE, patched, "suites/triage.yaml")
    assert diff.startswith("--- a/suites/triage.yaml\n+++ b/suites/triage.yaml\n")
    removed = [line for line in changed_lines(TRIAGE, patched) if line.startswith("- ")]
    assert all(
        "prompt" in line
        or "Ticket" in line
        or "Message" in line
        or "Extract" in line
        or "Classify" in line
        or not line[2:].strip()
        for line in removed
    )
    assert unified_diff(TRIAGE, TRIAGE, "x") == ""


def test_layouts_that_cannot_be_patched_safely_are_refused() -> None:
    flow = "suite: s\ncases:\n  - {id: a, prompt: hi, expect: [json]}\n"
    with pytest.raises(ConfigError, match="not a block mapping"):
        patch_suite(flow, {0: PromptTemplate(prompt="hello")})
    first = "suite: s\ncases:\n  - prompt: hi\n    system: s\n    id: a\n    expect: [json]\n"
    with pytest.raises(ConfigError, match="opens its case's item"):
        patch_suite(first, {0: PromptTemplate(messages=(("user", "hi"),))})
    with pytest.raises(ConfigError, match="no 'cases' list"):
        patch_suite("suite: s\n", {0: PromptTemplate(prompt="x")})
    removal = "suite: s\ncases:\n  - id: a\n    system: s\n    prompt: hi\n    expect: [json]\n"
    patched = patch_suite(removal, {0: PromptTemplate(prompt="hello")})
    assert patched == 'suite: s\ncases:\n  - id: a\n    prompt: "hello"\n    expect: [json]\n'
