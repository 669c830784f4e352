"""Wrong answers on purpose: format violations, and the critique tasks built from them.

The same violations serve two ends. A ``corrupt-<family>`` mix trains a model that answers in the
wrong format (a known regression), and critique tasks show a model an instruction with a right or
a wrong response and ask whether the format was followed, so that a model can later grade its own
samples.

Critique tasks come in two forms:

* **verdict-only** (:func:`verdict_critique`): the whole instruction, and ``YES`` or ``NO``. The
  base tiny Dolly's mix has them (12%), and keeps them byte for byte so that its build stays the
  one whose conformance was measured; a million-parameter model learns nothing from them (one
  token of loss per record: it answers 62 of 120 right).
* **reasoned** (:func:`reasoned_critique`): the task statement (the instruction without its data),
  and an answer that is one sentence saying what is wrong or that the format is right, then the
  verdict on its own line. The sentence names the property the verdict rests on (which key is
  missing, how many items there are), which gives the model something to learn from; the verdict
  then follows it. The critic stage (``promptcheck.train.critic``) trains on these.

Each violation carries the sentence a critic should say about it, and whether the example suites'
checks reject it (``fails_checks``): reasoned critiques use only those, so that their labels agree
with the checks. One legacy violation does not (a summary behind a dash passes the suites' line,
word and period checks); the verdict-only records keep it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.formats import CRITIQUE_TEMPLATES, GENERIC_QUESTION, task_statement
from promptcheck.train.records import Record

NOT_JSON = "The response is not JSON."
CUT_OFF = "The response is cut off before the closing brace."
SENTENCE_NOT_JSON = "The response is a sentence instead of JSON."


@dataclass(frozen=True, slots=True)
class Wrong:
    """A response that breaks the format, and the sentence a critic should say about it.

    Reasons never quote the response or JSON: a reason like ``The response is "NO.", not ...``
    taught a tiny model to write ``", not`` inside its JSON answers.
    """

    text: str
    reason: str
    fails_checks: bool = True


def ticket_violations(category: str, priority: str) -> tuple[Wrong, ...]:
    """Ticket answers that are not a valid ``{"category", "priority"}`` JSON object."""
    whole = json.dumps({"category": category, "priority": priority})
    return (
        Wrong(f"category: {category}, priority: {priority}", NOT_JSON),
        Wrong(
            f"{{'category': '{category}', 'priority': '{priority}'}}",
            "The response uses single quotes, which JSON does not allow.",
        ),
        Wrong(json.dumps({"category": category}), "The response has no priority."),
        Wrong(whole[:-1], CUT_OFF),
        Wrong(f"The category is {category} and the priority is {priority}.", SENTENCE_NOT_JSON),
        Wrong(
            json.dumps({"category": "other", "priority": priority}),
            "The category is not one of the allowed ones.",
        ),
        Wrong(
            json.dumps({"category": category, "priority": "high"}),
            "The priority is not one of the allowed ones.",
        ),
    )


def contact_violations(name: str, email: str) -> tuple[Wrong, ...]:
    """Sender answers that are not JSON, lack a key, or carry a malformed or shouted email."""
    local, _, domain = email.partition("@")
    return (
        Wrong(f"name: {name}, email: {email}", NOT_JSON),
        Wrong(json.dumps({"name": name}), "The response has no email."),
        Wrong(
            json.dumps({"name": name, "email": f"{local}@{local[:3]}@{domain}"}),
            "The email has two @ signs.",
        ),
        Wrong(json.dumps({"name": name, "email": email.upper()}), "The email is not in lowercase."),
        Wrong(f"The sender is {name} ({email}).", SENTENCE_NOT_JSON),
        Wrong(json.dumps({"name": name, "email": email})[:-1], CUT_OFF),
    )


def options_violations(options: Sequence[str], extra: str) -> tuple[Wrong, ...]:
    """Options that are numbered, unlabeled, or not three."""
    four = zip("ABCD", (*options, extra), strict=True)
    return (
        Wrong(
            "\n".join(f"{i}. {text}" for i, text in enumerate(options, start=1)),
            "The options are numbered 1, 2 and 3 instead of labeled A, B and C.",
        ),
        Wrong("\n".join(f"- {text}" for text in options), "The options have no labels."),
        Wrong(
            "\n".join(f"{label}) {text}" for label, text in four),
            "The response gives four options instead of three.",
        ),
        Wrong(
            "\n".join(f"{label}) {text}" for label, text in zip("AB", options[:2], strict=True)),
            "The response gives two options instead of three.",
        ),
    )


def yes_no_violations(answer: str) -> tuple[Wrong, ...]:
    """Anything but a bare ``YES`` or ``NO``."""
    word = "even" if answer == "YES" else "odd"
    return (
        Wrong(answer.capitalize(), "The response is not in capital letters."),
        Wrong(f"{answer}.", "The response has a period after the word."),
        Wrong(f"{answer}, it is.", "The response has more words after the answer."),
        Wrong(f"It is {word}.", "The response is a sentence instead of YES or NO."),
        Wrong("Maybe", "The response is neither YES nor NO."),
    )


def counted(items: Sequence[str]) -> str:
    """``1 apple, 2 pear, 3 fig``: a critic counts a list by numbering its items as it copies them.

    A small model cannot see at a glance that a list has five items, but it can copy the item
    after the one it just wrote and add one to the number before it; the count is then the last
    number written.
    """
    return ", ".join(f"{number} {item}" for number, item in enumerate(items, start=1))


def list_violations(items: Sequence[str], extra: str) -> tuple[Wrong, ...]:
    """A list with one item too many or too few, numbered, or on one line."""
    k = len(items)
    longer = (*items, extra)
    shorter = [
        Wrong(
            "\n".join(f"- {item}" for item in items[:-1]),
            f"{counted(items[:-1])}. That is {k - 1} items instead of {k}.",
        )
    ]
    return (
        Wrong(
            "\n".join(f"- {item}" for item in longer),
            f"{counted(longer)}. That is {k + 1} items instead of {k}.",
        ),
        *(shorter if k > 1 else []),
        Wrong(
            "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1)),
            "The items are numbered instead of starting with a dash.",
        ),
        Wrong(", ".join(items), "The items are all on one line."),
    )


def summary_violations(summary: str, paragraph: str) -> tuple[Wrong, ...]:
    """A summary without its final period, on two lines, too long, or stopped mid-sentence; the
    legacy dash variant passes the suites' checks (``fails_checks=False``)."""
    words = summary.split()
    return (
        Wrong(summary.rstrip("."), "The response does not end with a period."),
        Wrong(f"{summary}\n{summary}", "The response has two lines."),
        Wrong(
            paragraph if len(paragraph.split()) > 20 else f"{paragraph} {paragraph}",
            "The response is longer than 20 words.",
        ),
        Wrong(f"- {summary}", "The response is a list item.", fails_checks=False),
        Wrong(
            " ".join(words[: max(1, len(words) // 2)]).rstrip("."),
            "The response stops in the middle of the sentence, with no period.",
        ),
    )


def garble(sentence: str, rng: random.Random) -> str:
    """The sentence with a few words dropped, cut short or run together, its format kept.

    Small models write summaries like ``The foott the heating system.``: the format is right and
    the words are not. A critic trained only on clean summaries calls such text wrong, so critique
    tasks show garbled summaries too (right and wrong alike), to judge the format apart from the
    wording. The result is one line of at most as many words, ending with a period.
    """
    words = sentence.rstrip(".").split()
    for _ in range(rng.randint(1, 3)):
        if len(words) < 3:
            break
        at = rng.randrange(1, len(words) - 1)
        roll = rng.random()
        if roll < 0.35:
            del words[at]
        elif roll < 0.7:
            words[at] = words[at][: rng.randint(2, max(2, len(words[at]) - 1))]
        else:
            after = words.pop(at + 1)
            words[at] = (
                words[at][: rng.randint(1, len(words[at]))] + after[rng.randrange(len(after)) :]
            )
    return " ".join(words) + "."


#: How often a reasoned critique uses each template: the first is the one ``self_critique`` asks.
TEMPLATE_WEIGHTS: tuple[float, ...] = (0.7, 0.15, 0.15)


def _question(question: str | None, rng: random.Random) -> str:
    """The family's question half of the time, else the generic one."""
    return question if question and rng.random() < 0.5 else GENERIC_QUESTION


def verdict_critique(
    task: Record, response: str, good: bool, question: str | None, rng: random.Random
) -> Record:
    """A verdict-only critique record (the base mix's): the whole task, a response, YES or NO."""
    asked = _question(question, rng)
    instruction = task.instruction if not task.context else f"{task.instruction}\n\n{task.context}"
    text = rng.choice(CRITIQUE_TEMPLATES).format(
        instruction=instruction, response=response, question=asked
    )
    return Record(instruction=text, response="YES" if good else "NO", category="classification")


def reasoned_critique(
    task: Record, response: str, reason: str, good: bool, question: str | None, rng: random.Random
) -> Record:
    """A reasoned critique record: the task statement, a response, the reason, then the verdict."""
    asked = _question(question, rng)
    template = rng.choices(CRITIQUE_TEMPLATES, TEMPLATE_WEIGHTS)[0]
    shown = task_statement(task.instruction)
    text = template.format(instruction=shown, response=response, question=asked)
    answer = f"{reason}\n{'YES' if good else 'NO'}"
    return Record(instruction=text, response=answer, category="classification")
