"""The generated-task type, and the tasks of the dolly categories whose format no suite checks.

These tasks (open and closed questions, sentiment, extraction of a single field, counting, one
free sentence) keep the tiny model a general instruction follower rather than a set of format
reflexes, and several of them rehearse skills the format tasks need: copying an email address
from a message, counting the items of a list, reading a paragraph's lead sentence.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from promptcheck.train import pools
from promptcheck.train.critique import Wrong
from promptcheck.train.records import Record


@dataclass(frozen=True, slots=True)
class Task:
    """A generated record, the group it teaches, a wrong response, and its critique question.

    ``wrong`` is the violation the base mix draws (``corrupt-<group>`` mixes and verdict-only
    critiques); reasoned critiques draw from ``violations`` the ones the suites' checks reject,
    and say ``why_right`` of a right response. ``source`` is the text the response was made from
    (a summary's paragraph), for critiques that rewrite the response.
    """

    record: Record
    group: str
    wrong: str = ""
    question: str | None = None
    violations: tuple[Wrong, ...] = ()
    why_right: str = ""
    source: str = ""


def made_up_name(rng: random.Random) -> str:
    """A pronounceable name no pool holds, such as 'Tavemi', so that only copying can get it."""
    syllables = (
        rng.choice(pools.ONSETS) + rng.choice(pools.VOWELS) for _ in range(rng.randint(1, 3))
    )
    return "".join(syllables).capitalize()


def person(rng: random.Random) -> tuple[str, str]:
    """A name and an email address built from it, in one of several common shapes.

    A quarter of the names are made up: a model that guesses a likely email from name statistics
    gets those wrong, so training rewards copying the address from the message, which is what
    the suites check. (Not more: made-up names repeat the same few syllable tokens, and repeated
    tokens make copying ambiguous and slow to learn.)
    """
    while True:
        if rng.random() < 0.25:
            first, last = made_up_name(rng), made_up_name(rng)
        else:
            first, last = rng.choice(pools.FIRST_NAMES), rng.choice(pools.LAST_NAMES)
        if f"{first} {last}" not in pools.HELD_OUT_NAMES and len(first) > 1 and len(last) > 1:
            break
    f, la = first.lower(), last.lower()
    shape = rng.randrange(6)
    domain = rng.choice(pools.DOMAINS)
    local = (f"{f}.{la}", f, f"{f[0]}{la}", f"{f}_{la}", f"{f}{rng.randint(1, 99)}", f"{f}.{la}")
    email = f"{f}@{la}.{rng.choice(pools.TLDS)}" if shape == 5 else f"{local[shape]}@{domain}"
    return f"{first} {last}", email


def message(rng: random.Random, name: str, email: str) -> str:
    body = rng.choice(pools.CONTACT_BODIES)
    return rng.choice(pools.CONTACT_TEMPLATES).format(name=name, email=email, body=body)


def _general(instruction: str, response: str, category: str, context: str = "") -> Task:
    return Task(Record(instruction, response, context, category), "general")


def capital(rng: random.Random) -> Task:
    country, city = rng.choice(pools.COUNTRIES_CAPITALS)
    return _general(
        f"What is the capital of {country}?", f"The capital of {country} is {city}.", "open_qa"
    )


@dataclass(frozen=True, slots=True)
class Lead:
    """The lead sentence of a generated paragraph, in pieces, and the paragraph itself."""

    subject: str
    verb: str
    base: str
    rest: str
    paragraph: str
    what: str = ""

    @property
    def sentence(self) -> str:
        return f"{self.subject} {self.verb} {self.rest}."

    @property
    def headline(self) -> str:
        """The lead without its when and why: a summary short enough for the tiny Dolly to end
        reliably (trained on the whole lead, it ran on past 20 words on a third of samples)."""
        return f"{self.subject} {self.verb} {self.what}." if self.what else self.sentence


def lead_sentence(rng: random.Random, max_details: int = 2) -> Lead:
    """A news-like paragraph whose first sentence (at most 16 words) says what happened.

    That sentence is a valid one-sentence summary of at most 20 words; the sentences after it
    are details from a small pool, which a summary leaves out.
    """
    adjective = rng.choice(pools.SUBJECT_ADJS)
    noun = rng.choice(pools.SUBJECT_NOUNS)
    subject = " ".join(w for w in (rng.choice(pools.SUBJECT_DETS), adjective, noun) if w)
    verb, base = rng.choice(pools.LEAD_VERBS)
    parts = (rng.choice(pools.LEAD_OBJECTS), rng.choice(pools.TIMES), rng.choice(pools.PURPOSES))
    rest = " ".join(p for p in parts if p)
    details = rng.sample(pools.DETAILS, rng.randint(1, max_details))
    first = f"{subject} {verb} {rest}."
    return Lead(subject, verb, base, rest, " ".join([first, *details]), parts[0])


def closed_question(rng: random.Random) -> Task:
    lead = lead_sentence(rng)
    object_and_time = lead.rest
    if rng.random() < 0.5:
        question = f"According to the text, what did {lead.subject.lower()} do?"
        answer = f"It {lead.verb} {object_and_time}."
    else:
        question = "What happened, according to the text?"
        answer = lead.sentence
    if rng.random() < 0.5:
        return _general(question, answer, "closed_qa", context=lead.paragraph)
    return _general(f"{question}\n\nText: {lead.paragraph}", answer, "closed_qa")


def sentiment(rng: random.Random) -> Task:
    label = rng.choice(("positive", "negative"))
    review = " ".join(rng.sample(pools.REVIEW_PARTS[label], 2))
    prompt = f"Is this review positive or negative?\n\nReview: {review}"
    return _general(prompt, label.capitalize(), "classification")


def email_address(rng: random.Random) -> Task:
    name, email = person(rng)
    text = message(rng, name, email)
    if rng.random() < 0.5:
        question = f"What is the email address in this message?\n\nMessage: {text}"
        return _general(question, email, "information_extraction")
    return _general(f"Who sent this message?\n\nMessage: {text}", name, "information_extraction")


REPEAT_PROMPTS = (
    "Repeat this exactly: {s}",
    "Copy the following text exactly.\n\nText: {s}",
    'Write back exactly what is between the quotes: "{s}"',
)


def repeat_text(rng: random.Random) -> Task:
    """Copy a random string of words back: cheap examples that reward nothing but copying.

    A small model learns to copy (an induction circuit: find the current token earlier in the
    text, emit the one after it) within its training budget only when copying is the sole way
    to lower the loss on many tokens, and when the tokens to copy rarely repeat. Random words
    from a few hundred give exactly that; emails and names come up too.
    """
    roll = rng.random()
    if roll < 0.6:
        text = " ".join(rng.choice(pools.COPY_WORDS) for _ in range(rng.randint(2, 10)))
    elif roll < 0.9:
        text = person(rng)[1]
    else:
        text = person(rng)[0]
    return _general(rng.choice(REPEAT_PROMPTS).format(s=text), text, "general_qa")


def count_items(rng: random.Random) -> Task:
    things = rng.choice(tuple(pools.LIST_CATEGORIES))
    k = rng.randint(2, 7)
    items = rng.sample(pools.LIST_CATEGORIES[things], k)
    listing = "\n".join(f"- {item}" for item in items)
    return _general(
        f"How many items are in this list?\n\n{listing}", f"There are {k} items.", "general_qa"
    )


def one_sentence(rng: random.Random) -> Task:
    word = rng.choice(pools.POEM_WORDS)
    mood = rng.choice(("calm", "bright", "quiet", "warm", "new", "slow"))
    return _general(
        f"Write one sentence about {word}.",
        f"{word.capitalize()} makes the day feel {mood}.",
        "creative_writing",
    )


def ideas(rng: random.Random) -> Task:
    topics, options = pools.OPTION_TOPICS[rng.choice(tuple(pools.OPTION_TOPICS))]
    a, b, c = (text.lower() for text in rng.sample(options, 3))
    return _general(
        f"What could I do for {rng.choice(topics)}?", f"You could {a}, {b} or {c}.", "brainstorming"
    )


GENERAL: tuple[Callable[[random.Random], Task], ...] = (
    capital,
    closed_question,
    sentiment,
    email_address,
    count_items,
    one_sentence,
    ideas,
)


def general_task(rng: random.Random) -> Task:
    """One task from a dolly category no suite checks, chosen uniformly."""
    return rng.choice(GENERAL)(rng)
