"""Deterministic rewrites of a prompt: what ``adapt`` tries without any model to ask.

Each operator is a small, well-known repair of a prompt that a model misreads, applied to the
case's main template (the prompt, or the last user message):

* ``format-reminder``: what the checks require, in words, appended at the end (models weigh the
  last words they read);
* ``baseline-example``: one conforming output of the baseline model shown as an example answer
  (taken from a *search* value, so that no held-out answer leaks into the prompt);
* ``after-data``: the instruction moved after the data (``Ticket: ...`` first, then the task);
* ``input-section``: the data put in an ``Input:`` section after the instruction, the layout of
  Dolly's instruction format;
* ``system-instruction``: the instruction as a system message, the data as the user message;
* ``instruction-repeated``: the instruction before and again after the data.

The *instruction* is the main text up to its first blank line and the *data* the rest, the
layout the example suites (and most prompts with data) use; operators that move them apply only
when the main text has both. Text an operator inserts is escaped for Jinja, so an example
output holding ``{{`` stays literal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from promptcheck.adapt.templates import PromptTemplate

#: Marks a block Jinja copies as it is, for inserted text that holds template syntax.
_RAW_OPEN, _RAW_CLOSE = "{% raw %}", "{% endraw %}"


@dataclass(frozen=True, slots=True)
class OperatorInput:
    """What the operators know of a case besides its templates."""

    requirements: tuple[str, ...] = ()
    example: str | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    """A named rewrite: ``apply`` returns the rewritten templates, or None where it does not
    apply (no data to move, no example to show)."""

    name: str
    description: str
    apply: Callable[[PromptTemplate, OperatorInput], PromptTemplate | None]


def literal(text: str) -> str | None:
    """``text`` as template text that renders to itself (None if it cannot be: it would close
    its own raw block)."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return text
    if _RAW_CLOSE in text or "endraw" in text:
        return None
    return f"{_RAW_OPEN}{text}{_RAW_CLOSE}"


def split_instruction(text: str) -> tuple[str, str] | None:
    """(instruction, data): the text up to its first blank line and the rest; None unless both
    are there and the data uses a variable (else there is no data to move)."""
    instruction, separator, data = text.partition("\n\n")
    if not separator or not instruction.strip() or not data.strip():
        return None
    if "{{" not in data and "{%" not in data:
        return None
    return instruction.strip(), data.strip()


def reminder_text(requirements: Sequence[str]) -> str | None:
    """The format reminder: every requirement sentence after one lead-in."""
    if not requirements:
        return None
    return literal("Required answer format: " + " ".join(requirements))


def _format_reminder(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    reminder = reminder_text(given.requirements)
    if reminder is None:
        return None
    return template.with_main(f"{template.main.rstrip()}\n\n{reminder}")


def _baseline_example(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    if not given.example or not given.example.strip():
        return None
    example = literal(given.example.strip())
    if example is None:
        return None
    shown = f"{template.main.rstrip()}\n\nAn example of a correct answer:\n{example}"
    return template.with_main(shown)


def _after_data(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    parts = split_instruction(template.main)
    if parts is None:
        return None
    instruction, data = parts
    return template.with_main(f"{data}\n\n{instruction}")


def _input_section(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    parts = split_instruction(template.main)
    if parts is None:
        return None
    instruction, data = parts
    return template.with_main(f"{instruction}\n\nInput:\n{data}")


def _system_instruction(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    parts = split_instruction(template.main)
    if parts is None or template.system is not None:
        return None
    instruction, data = parts
    if template.messages is None:
        return PromptTemplate(prompt=data, system=instruction)
    if any(role == "system" for role, _ in template.messages):
        return None
    moved = template.with_main(data)
    assert moved.messages is not None
    return PromptTemplate(messages=(("system", instruction), *moved.messages))


def _instruction_repeated(template: PromptTemplate, given: OperatorInput) -> PromptTemplate | None:
    parts = split_instruction(template.main)
    if parts is None:
        return None
    instruction, data = parts
    return template.with_main(f"{instruction}\n\n{data}\n\n{instruction}")


OPERATORS: tuple[Operator, ...] = (
    Operator("format-reminder", "the checks' requirements appended in words", _format_reminder),
    Operator("baseline-example", "a conforming baseline output as an example", _baseline_example),
    Operator("after-data", "the instruction moved after the data", _after_data),
    Operator(
        "input-section", "the data in an Input: section after the instruction", _input_section
    ),
    Operator("system-instruction", "the instruction as a system message", _system_instruction),
    Operator(
        "instruction-repeated", "the instruction before and after the data", _instruction_repeated
    ),
)
