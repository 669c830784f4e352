"""The deterministic rewrite operators: what each does to a prompt, and where it does not apply."""

from __future__ import annotations

import pytest

from promptcheck.adapt.operators import (
    OPERATORS,
    OperatorInput,
    literal,
    reminder_text,
    split_instruction,
)
from promptcheck.adapt.templates import PromptTemplate
from promptcheck.templating import Template

TICKET = PromptTemplate(
    prompt="Classify this ticket. Reply with JSON only.\n\nTicket: {{ ticket }}"
)
GIVEN = OperatorInput(
    requirements=("The answer is JSON only.", 'It is a JSON object with the keys "a".'),
    example='{"a": 1}',
)


def apply(
    name: str, template: PromptTemplate, given: OperatorInput = GIVEN
) -> PromptTemplate | None:
    operator = next(op for op in OPERATORS if op.name == name)
    return operator.apply(template, given)


def test_every_operator_has_a_distinct_name_and_a_description() -> None:
    names = [op.name for op in OPERATORS]
    assert len(set(names)) == len(names) == 6
    assert all(op.description for op in OPERATORS)


def test_instruction_and_data_are_split_at_the_first_blank_line() -> None:
    assert split_instruction(TICKET.main) == (
        "Classify this ticket. Reply with JSON only.",
        "Ticket: {{ ticket }}",
    )
    assert split_instruction("Give three options for {{ topic }}.") is None  # no data part
    assert split_instruction("Say hello.\n\nThanks a lot.") is None  # the rest holds no variable
    assert split_instruction("\n\n{{ x }}") is None


def test_the_data_operators_move_the_instruction_and_the_data() -> None:
    after = apply("after-data", TICKET)
    assert after == PromptTemplate(
        prompt="Ticket: {{ ticket }}\n\nClassify this ticket. Reply with JSON only."
    )
    section = apply("input-section", TICKET)
    assert section is not None and section.prompt == (
        "Classify this ticket. Reply with JSON only.\n\nInput:\nTicket: {{ ticket }}"
    )
    repeated = apply("instruction-repeated", TICKET)
    assert repeated is not None and repeated.prompt is not None
    assert repeated.prompt.startswith("Classify") and repeated.prompt.endswith("JSON only.")
    system = apply("system-instruction", TICKET)
    assert system == PromptTemplate(
        prompt="Ticket: {{ ticket }}", system="Classify this ticket. Reply with JSON only."
    )


@pytest.mark.parametrize(
    "name", ["after-data", "input-section", "instruction-repeated", "system-instruction"]
)
def test_data_operators_do_not_apply_without_data(name: str) -> None:
    assert apply(name, PromptTemplate(prompt="Give three options for {{ topic }}.")) is None


def test_the_reminder_and_the_example_are_appended() -> None:
    reminded = apply("format-reminder", TICKET)
    assert reminded is not None and reminded.prompt is not None
    assert reminded.prompt.startswith(TICKET.main)
    assert reminded.prompt.endswith(
        'Required answer format: The answer is JSON only. It is a JSON object with the keys "a".'
    )
    example = apply("baseline-example", TICKET)
    assert example is not None and example.prompt is not None
    assert example.prompt.endswith('An example of a correct answer:\n{"a": 1}')
    assert apply("format-reminder", TICKET, OperatorInput()) is None
    assert apply("baseline-example", TICKET, OperatorInput(example="  ")) is None


def test_inserted_text_that_looks_like_a_template_stays_literal() -> None:
    hostile = "{{ ticket }} and {% if x %}y{% endif %}"
    example = apply("baseline-example", TICKET, OperatorInput(example=hostile))
    assert example is not None and example.prompt is not None
    rendered = Template(example.prompt).render({"ticket": "T"})
    assert rendered.endswith(hostile)
    assert Template(example.prompt).variables == {"ticket"}
    assert literal("{% endraw %} escape") is None
    assert apply("baseline-example", TICKET, OperatorInput(example="{% endraw %}{{ x }}")) is None
    assert reminder_text([]) is None


def test_chat_messages_have_their_last_user_message_rewritten() -> None:
    chat = PromptTemplate(
        messages=(
            ("user", "Summarize this.\n\nText: {{ text }}"),
            ("assistant", "ok"),
            ("user", "Classify it.\n\nTicket: {{ ticket }}"),
        )
    )
    after = apply("after-data", chat)
    assert after is not None and after.messages is not None
    assert after.messages[0] == chat.messages[0]  # type: ignore[index]
    assert after.messages[2] == ("user", "Ticket: {{ ticket }}\n\nClassify it.")
    system = apply("system-instruction", chat)
    assert system is not None and system.messages is not None
    assert system.messages[0] == ("system", "Classify it.")
    with_system = PromptTemplate(messages=(("system", "Be brief."), *chat.messages))  # type: ignore[misc]
    assert apply("system-instruction", with_system) is None
    assert apply("system-instruction", PromptTemplate(prompt=TICKET.prompt, system="S")) is None
