"""Wrong answers on purpose: format violations, and the critique tasks built from them.

The same corruptions serve two ends. A ``corrupt-<family>`` mix trains a model that answers in the
wrong format (a known regression), and critique tasks show a model an instruction with a correct or
a corrupted response and ask whether the format was followed, so a model can later grade its own
samples. Every corruption must fail the check it targets, or a critique label would lie.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence

from promptcheck.train.records import Record


def corrupt_ticket(category: str, priority: str, rng: random.Random) -> str:
    """A ticket answer that is not a valid ``{"category", "priority"}`` JSON object."""
    choices = (
        f"category: {category}, priority: {priority}",
        f"{{'category': '{category}', 'priority': '{priority}'}}",
        json.dumps({"category": category}),
        json.dumps({"category": category, "priority": priority})[:-1],
        f"The category is {category} and the priority is {priority}.",
        json.dumps({"category": "other", "priority": priority}),
        json.dumps({"category": category, "priority": "high"}),
    )
    return rng.choice(choices)


def corrupt_contact(name: str, email: str, rng: random.Random) -> str:
    """A sender answer that is not JSON, lacks a key, or carries a malformed or shouted email."""
    local, _, domain = email.partition("@")
    choices = (
        f"name: {name}, email: {email}",
        json.dumps({"name": name}),
        json.dumps({"name": name, "email": f"{local}@{local[:3]}@{domain}"}),
        json.dumps({"name": name, "email": email.upper()}),
        f"The sender is {name} ({email}).",
        json.dumps({"name": name, "email": email})[:-1],
    )
    return rng.choice(choices)


def corrupt_options(options: Sequence[str], extra: str, rng: random.Random) -> str:
    """Options that are numbered, unlabeled, or not three."""
    choices = (
        "\n".join(f"{i}. {text}" for i, text in enumerate(options, start=1)),
        "\n".join(f"- {text}" for text in options),
        "\n".join(
            f"{label}) {text}" for label, text in zip("ABCD", (*options, extra), strict=True)
        ),
        "\n".join(f"{label}) {text}" for label, text in zip("AB", options[:2], strict=True)),
    )
    return rng.choice(choices)


def corrupt_yes_no(answer: str, rng: random.Random) -> str:
    """Anything but a bare ``YES`` or ``NO``."""
    word = "even" if answer == "YES" else "odd"
    choices = (answer.capitalize(), f"{answer}.", f"{answer}, it is.", f"It is {word}.", "Maybe")
    return rng.choice(choices)


def corrupt_list(items: Sequence[str], extra: str, rng: random.Random) -> str:
    """A list with one item too many or too few, numbered, or on one line."""
    choices = (
        "\n".join(f"- {item}" for item in (*items, extra)),
        "\n".join(f"- {item}" for item in items[:-1]) if len(items) > 1 else "",
        "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1)),
        ", ".join(items),
    )
    return rng.choice([text for text in choices if text])


def corrupt_summary(summary: str, paragraph: str, rng: random.Random) -> str:
    """A summary with more than one line or sentence, too long, or without its final period."""
    choices = (
        summary.rstrip("."),
        f"{summary}\n{summary}",
        paragraph if len(paragraph.split()) > 20 else f"{paragraph} {paragraph}",
        f"- {summary}",
    )
    return rng.choice(choices)


CRITIQUE_TEMPLATES: tuple[str, ...] = (
    "Here is an instruction and a response.\n\nInstruction: {instruction}\n\nResponse: {response}"
    "\n\n{question} Answer YES or NO.",
    "{question} Answer YES or NO.\n\nInstruction: {instruction}\n\nResponse: {response}",
    "Check the response below.\n\nInstruction: {instruction}\n\nResponse:\n{response}\n\n{question}"
    " Answer with YES or NO only.",
)
GENERIC_QUESTION = "Does the response follow the required format?"


def critique(
    task: Record, response: str, good: bool, question: str | None, rng: random.Random
) -> Record:
    """A critique record: the task, a response, and YES when ``good`` else NO.

    ``question`` is a format-specific question (``Does the response give exactly three options
    labeled A, B and C?``); half of the time the generic question is asked instead.
    """
    asked = question if question and rng.random() < 0.5 else GENERIC_QUESTION
    instruction = task.instruction if not task.context else f"{task.instruction}\n\n{task.context}"
    text = rng.choice(CRITIQUE_TEMPLATES).format(
        instruction=instruction, response=response, question=asked
    )
    return Record(instruction=text, response="YES" if good else "NO", category="classification")
