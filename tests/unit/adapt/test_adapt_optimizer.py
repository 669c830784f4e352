"""The optimizer's question and the reading of its reply."""

from __future__ import annotations

from promptcheck.adapt.optimizer import (
    OptimizerBrief,
    call_seed,
    failing_examples,
    optimizer_prompt,
    proposed_template,
    template_from_reply,
)
from promptcheck.adapt.templates import PromptTemplate

TEMPLATE = PromptTemplate(prompt="Classify.\n\nTicket: {{ ticket }}", system="You triage.")


def test_the_reply_is_the_first_fenced_block_else_the_whole_reply() -> None:
    assert template_from_reply("Here:\n```jinja\nA {{ x }}\n```\nand\n```\nB\n```") == "A {{ x }}"
    assert template_from_reply("```\nline one\n\nline two\n```") == "line one\n\nline two"
    assert template_from_reply("  Just {{ x }} please.  ") == "Just {{ x }} please."
    # a block never closed (a reply cut at max_tokens) runs to the end, as in CommonMark
    assert template_from_reply("```unclosed\nA") == "A"
    # a longer fence holds a shorter one; tildes fence too; an inline run is not a fence
    nested = "````text\nReply in a block:\n```json\n{}\n```\n{{ x }}\n````\nthanks"
    assert template_from_reply(nested) == "Reply in a block:\n```json\n{}\n```\n{{ x }}"
    assert template_from_reply("~~~\nA {{ x }}\n~~~") == "A {{ x }}"
    assert template_from_reply("```inline``` then {{ x }}") == "```inline``` then {{ x }}"
    chat = PromptTemplate(messages=(("system", "s"), ("user", "old")))
    assert proposed_template(chat, "```\nnew\n```").messages == (("system", "s"), ("user", "new"))


def test_the_question_shows_everything_the_optimizer_needs() -> None:
    brief = OptimizerBrief(
        TEMPLATE,
        ("ticket",),
        ("The answer is JSON only.", 'It is a JSON object with the keys "a".'),
        (("category: billing", "invalid JSON: Expecting value"),),
        ('{"a": 1}',),
    )
    question = optimizer_prompt(brief)
    assert "{{ ticket }}" in question and "add no other variable" in question
    assert "```\nClassify.\n\nTicket: {{ ticket }}\n```" in question
    assert "You triage." in question
    assert '- It is a JSON object with the keys "a".' in question
    assert "1. category: billing\n   Why it failed: invalid JSON: Expecting value" in question
    assert 'passed:\n1. {"a": 1}' in question
    assert question.endswith("in one fenced code block.")
    bare = optimizer_prompt(OptimizerBrief(PromptTemplate(prompt="Hi"), (), (), (), ()))
    assert "(none)" in bare and "failed" not in bare


def test_seeds_are_fixed_per_case_and_call_and_examples_distinct() -> None:
    assert call_seed("s::c", 0) == call_seed("s::c", 0)
    assert len({call_seed("s::c", 0), call_seed("s::c", 1), call_seed("s::d", 0)}) == 3
    outputs = [("a", "r1"), ("a", "r2"), ("b", "r3"), ("c", "r4")]
    assert failing_examples(outputs, 2) == (("a", "r1"), ("b", "r3"))
