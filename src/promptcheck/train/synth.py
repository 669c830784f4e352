"""A deterministic synthetic instruction set in dolly-15k format.

Each family teaches one output format that the example suites check (ticket and contact JSON,
options labeled A/B/C, bare YES/NO, lists of exactly k dashed items, one-sentence summaries), with
the suites' own phrasings among many others and values drawn from wide pools, so that a small
model learns the format rather than the test prompts. Smaller families cover the other dolly
categories, and critique tasks ask whether a shown response follows its instruction's format.

A *mix* changes the set to make a model whose regression is known in advance: ``no-json`` leaves
out every JSON task (and every mention of JSON), ``corrupt-lists`` trains lists in a wrong format.
The same seed always gives the same bytes: one ``random.Random`` drives everything, and pools are
tuples, never sets.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from promptcheck.errors import ConfigError
from promptcheck.train import pools
from promptcheck.train.critique import (
    Wrong,
    contact_violations,
    counted,
    list_violations,
    options_violations,
    summary_violations,
    ticket_violations,
    verdict_critique,
    yes_no_violations,
)
from promptcheck.train.records import Record
from promptcheck.train.tasks import Task, general_task, lead_sentence, message, person, repeat_text

#: Groups a mix can drop (``no-<group>``) or corrupt (``corrupt-<group>``).
GROUPS: tuple[str, ...] = (
    "json", "options", "yesno", "lists", "summary", "general", "copy", "critique",
)  # fmt: skip
FORMAT_GROUPS: tuple[str, ...] = ("json", "options", "yesno", "lists", "summary")


@dataclass(frozen=True, slots=True)
class Mix:
    """Which groups are left out and which are trained with corrupted responses."""

    drop: frozenset[str] = frozenset()
    corrupt: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        parts = [f"no-{g}" for g in GROUPS if g in self.drop]
        parts += [f"corrupt-{g}" for g in GROUPS if g in self.corrupt]
        return ",".join(parts) or "full"


def parse_mix(spec: str) -> Mix:
    """``full``, or comma-separated ``no-<group>`` / ``corrupt-<group>`` items."""
    drop: set[str] = set()
    corrupt: set[str] = set()
    for item in (part.strip() for part in spec.split(",")):
        if item in ("", "full"):
            continue
        kind, _, group = item.partition("-")
        if kind not in ("no", "corrupt") or group not in GROUPS:
            raise ConfigError(
                f"unknown mix item {item!r}",
                key=("mix",),
                hint=f"use full, no-<group> or corrupt-<group> with a group in {', '.join(GROUPS)}",
            )
        if kind == "corrupt" and group not in FORMAT_GROUPS:
            raise ConfigError(f"{group!r} has no format to corrupt", key=("mix",))
        (drop if kind == "no" else corrupt).add(group)
    if drop >= set(GROUPS):
        raise ConfigError("the mix drops every group", key=("mix",))
    return Mix(frozenset(drop), frozenset(corrupt))


TICKET_PROMPTS = (
    'Classify this support ticket. Reply with JSON only, with the keys "category" and "priority".'
    "\n\nTicket: {t}",
    'Triage the ticket below. Answer with a JSON object with the keys "category" and "priority".'
    "\n\nTicket: {t}",
    'Return JSON with "category" (billing, bug, account or outage) and "priority" (P0 to P3) for '
    "this ticket.\n\nTicket: {t}",
    'Read this customer ticket and reply with JSON only, using the keys "category" and "priority".'
    "\n\n{t}",
)
TICKET_EXTRAS = ("", "", "", " Please help.", " This is urgent.", " Thanks.", "Hello, ")


def _task(
    record: Record,
    group: str,
    violations: tuple[Wrong, ...],
    question: str,
    right: str,
    rng: random.Random,
    legacy: tuple[Wrong, ...] | None = None,
) -> Task:
    """The task, with the base mix's violation drawn from ``legacy`` (default: all of them), the
    draw the base mix has always made, so that its records stay byte for byte the same."""
    wrong = rng.choice(violations if legacy is None else legacy).text
    return Task(record, group, wrong, question, violations, right)


def ticket_json(rng: random.Random) -> Task:
    category = rng.choice(tuple(pools.TICKETS))
    subjects, predicates, priorities = pools.TICKETS[category]
    text = f"{rng.choice(subjects)} {rng.choice(predicates)}"
    extra = rng.choice(TICKET_EXTRAS)
    text = extra + text[0].lower() + text[1:] if extra.startswith("Hello") else text + extra
    priority = rng.choice(priorities)
    response = json.dumps({"category": category, "priority": priority})
    if rng.random() < 0.15:
        instruction = rng.choice(TICKET_PROMPTS[:2]).split("\n\n")[0]
        record = Record(instruction, response, context=text, category="classification")
    else:
        template = TICKET_PROMPTS[0] if rng.random() < 0.5 else rng.choice(TICKET_PROMPTS)
        record = Record(template.format(t=text), response, category="classification")
    question = 'Is the response JSON with only the keys "category" and "priority"?'
    right = "The response is JSON with an allowed category and priority."
    return _task(record, "json", ticket_violations(category, priority), question, right, rng)


CONTACT_PROMPTS = (
    'Extract the sender of this message as JSON with the keys "name" and "email".\n\nMessage: {m}',
    'Who sent this message? Reply with JSON with the keys "name" and "email".\n\nMessage: {m}',
    'Return the sender\'s name and email address as JSON ("name", "email").\n\n{m}',
    'Find the name and email of the sender. Answer with JSON only, keys "name" and "email".'
    "\n\nMessage: {m}",
)


def contact_json(rng: random.Random) -> Task:
    name, email = person(rng)
    text = message(rng, name, email)
    response = json.dumps({"name": name, "email": email})
    template = CONTACT_PROMPTS[0] if rng.random() < 0.5 else rng.choice(CONTACT_PROMPTS)
    if rng.random() < 0.1:
        record = Record(template.split("\n\n")[0], response, context=text)
    else:
        record = Record(template.format(m=text), response)
    record = Record(record.instruction, record.response, record.context, "information_extraction")
    question = 'Is the response JSON with the keys "name" and "email", the email in lowercase?'
    right = "The response is JSON with a name and a lowercase email."
    return _task(record, "json", contact_violations(name, email), question, right, rng)


OPTION_PROMPTS = (
    "Give exactly three options for {t}, labeled A, B and C.",
    "Suggest three ideas for {t}. Label them A, B and C.",
    "What are three options for {t}? Use the labels A, B and C.",
    "List three choices for {t}, labeled A, B and C, one per line.",
)


def three_options(rng: random.Random) -> Task:
    topics, ideas = pools.OPTION_TOPICS[rng.choice(tuple(pools.OPTION_TOPICS))]
    topic = rng.choice(topics)
    start = rng.randrange(len(ideas))
    chosen = [ideas[(start + i) % len(ideas)] for i in range(4)]
    response = "\n".join(f"{label}) {text}" for label, text in zip("ABC", chosen[:3], strict=True))
    template = OPTION_PROMPTS[0] if rng.random() < 0.5 else rng.choice(OPTION_PROMPTS)
    record = Record(template.format(t=topic), response, category="brainstorming")
    violations = options_violations(chosen[:3], chosen[3])
    question = "Does the response give exactly three options labeled A, B and C?"
    right = "The response gives three options labeled A, B and C."
    return _task(record, "options", violations, question, right, rng)


def yes_no(rng: random.Random) -> Task:
    roll = rng.random()
    if roll < 0.6:
        n = rng.randint(1, 999)
        question, answer = f"Is {n} an even number?", n % 2 == 0
    elif roll < 0.75:
        n = rng.randint(1, 999)
        question, answer = f"Is {n} an odd number?", n % 2 == 1
    elif roll < 0.9:
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        question, answer = f"Is {a} greater than {b}?", a > b
    else:
        names = tuple(pools.LIST_CATEGORIES)
        things = rng.choice(names)
        owner = things if rng.random() < 0.5 else rng.choice(names)
        item = rng.choice(pools.LIST_CATEGORIES[owner])
        question, answer = f"Is {item} one of the {things}?", item in pools.LIST_CATEGORIES[things]
    suffix = "Answer with YES or NO only." if rng.random() < 0.8 else "Reply YES or NO."
    word = "YES" if answer else "NO"
    record = Record(f"{question} {suffix}", word, category="open_qa")
    question, right = "Is the response exactly YES or NO?", f"The response is exactly {word}."
    return _task(record, "yesno", yes_no_violations(word), question, right, rng)


LIST_PROMPTS = (
    "List exactly {k} {things}, one per line, each starting with a dash.",
    "Name {k} {things}, one per line, each line starting with a dash.",
    "Write exactly {k} {things} as a list, one per line, starting each line with a dash.",
    "Give me a list of {k} {things}. Put each on its own line and start each line with a dash.",
)


def exactly_k(rng: random.Random) -> Task:
    k = rng.randint(2, 7)
    if rng.random() < 0.3:
        things = rng.choice(pools.SUITE_LIST_CATEGORIES)
    else:
        things = rng.choice(tuple(pools.LIST_CATEGORIES))
    pool = pools.LIST_CATEGORIES[things]
    chosen = list(pool[: k + 1])
    items, extra = chosen[:k], chosen[k]
    count = pools.NUMBER_WORDS[k] if rng.random() < 0.1 else str(k)
    template = LIST_PROMPTS[0] if rng.random() < 0.5 else rng.choice(LIST_PROMPTS)
    response = "\n".join(f"- {item}" for item in items)
    record = Record(template.format(k=count, things=things), response, category="brainstorming")
    question = f"Does the response list exactly {k} items, each on a line starting with a dash?"
    right = f"{counted(items)}. That is {k} items, each on a line starting with a dash."
    return _task(record, "lists", list_violations(items, extra), question, right, rng)


SUMMARY_PROMPTS = (
    "Summarize the following text in one sentence of at most 20 words.\n\nText: {p}",
    "Write a one-sentence summary of this text, in at most {w} words.\n\nText: {p}",
    "Summarize the paragraph below in one short sentence.\n\n{p}",
    "Give a one-sentence summary (at most {w} words) of the following text.\n\nText: {p}",
)


def summary(rng: random.Random) -> Task:
    generated = lead_sentence(rng, max_details=3)
    text, lead = generated.paragraph, generated.headline
    template = SUMMARY_PROMPTS[0] if rng.random() < 0.5 else rng.choice(SUMMARY_PROMPTS)
    words = rng.choice((18, 20, 25))
    if rng.random() < 0.1:
        record = Record(template.split("\n\n")[0].format(w=words), lead, context=text)
    else:
        record = Record(template.format(p=text, w=words), lead)
    record = Record(record.instruction, record.response, record.context, "summarization")
    question = "Is the response one sentence of at most 20 words, ending with a period?"
    right = "The response is one sentence of at most 20 words, ending with a period."
    violations = summary_violations(lead, text)
    task = _task(record, "summary", violations, question, right, rng, legacy=violations[:4])
    return replace(task, source=text)


GENERATORS: dict[str, Callable[[random.Random], Task]] = {
    "ticket_json": ticket_json,
    "contact_json": contact_json,
    "three_options": three_options,
    "yes_no": yes_no,
    "exactly_k": exactly_k,
    "summary": summary,
    "general": general_task,
    "copy": repeat_text,
}
#: Share of each family in the full mix; a dropped family's share goes to the others.
WEIGHTS: dict[str, float] = {
    "ticket_json": 0.09,
    "contact_json": 0.18,
    "three_options": 0.15,
    "yes_no": 0.03,
    "exactly_k": 0.15,
    "summary": 0.16,
    "general": 0.05,
    "copy": 0.04,
    "critique": 0.12,
}
GROUP_OF: dict[str, str] = {
    "ticket_json": "json",
    "contact_json": "json",
    "three_options": "options",
    "yes_no": "yesno",
    "exactly_k": "lists",
    "summary": "summary",
    "general": "general",
    "copy": "copy",
    "critique": "critique",
}


def _critique(rng: random.Random, allowed: list[str]) -> Record:
    # drawn among every format family first, so that dropping a group changes only its own
    family = rng.choice([name for name in WEIGHTS if GROUP_OF[name] in FORMAT_GROUPS])
    if family not in allowed:
        family = rng.choice(allowed)
    task = GENERATORS[family](rng)
    good = rng.random() < 0.5
    response = task.record.response if good else task.wrong
    return verdict_critique(task.record, response, good, task.question, rng)


def iter_records(n: int, *, seed: int = 0, mix: Mix | str = "full") -> Iterator[Record]:
    """``n`` records of the mix, the same ones for the same seed on every machine.

    Record ``i`` is drawn from its own generator, seeded by ``(seed, i)``, and the full mix is
    drawn first: a mix that drops a group replaces only the records of that group (with a record
    of another family, from the same generator) and keeps every other record as the full mix has
    it. Two models trained on ``full`` and ``no-json`` therefore see the same non-JSON records in
    the same order, which keeps their skills outside JSON alike.
    """
    if isinstance(mix, str):
        mix = parse_mix(mix)
    every = list(WEIGHTS)
    every_weights = [WEIGHTS[name] for name in every]
    names = [name for name in every if GROUP_OF[name] not in mix.drop]
    inner = [name for name in names if GROUP_OF[name] in FORMAT_GROUPS]
    if not inner and "critique" in names:
        names.remove("critique")
    weights = [WEIGHTS[name] for name in names]
    for index in range(n):
        rng = random.Random(f"{seed}:{index}")
        family = rng.choices(every, every_weights)[0]
        if family not in names:
            family = rng.choices(names, weights)[0]
        if family == "critique":
            yield _critique(rng, inner)
            continue
        task = GENERATORS[family](rng)
        if GROUP_OF[family] in mix.corrupt:
            record = task.record
            yield Record(record.instruction, task.wrong, record.context, record.category)
        else:
            yield task.record
