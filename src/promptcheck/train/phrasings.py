"""The ``data-first`` mix: the full mix with the JSON tasks known only in some phrasings.

A model upgrade often breaks a prompt not because the new model lacks the skill but because it
learned the skill under other wordings. This mix makes such a model on purpose, for
``promptcheck adapt``'s known-truth test: the ticket and contact JSON tasks are taught only with
the data *before* the instruction (``Ticket: ...`` then ``Classify this support ticket ...``) or
in Dolly's ``Input:`` section, while a prompt that puts the instruction first and the data after
it, as the example suites do, is answered in ``key: value`` lines (the house style of the data
the model was tuned on). So against ``full`` it regresses on the suites' two JSON cases, and a
rewrite that moves the instruction after the data (or the data into the ``Input:`` section)
restores them.

Every record outside the two JSON families is the full mix's, byte for byte: record ``i`` comes
from the same generator, seeded by ``(seed, i)``, and only the JSON records are rephrased, with
a generator of their own (``("phrasings", seed, i)``), so that the base mix's draws are untouched.
This module is listed only in the ``data-first`` variant's modules (``train/tiny.py``): editing
it rebuilds that variant and no shipped one.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from promptcheck.train.records import Record
from promptcheck.train.synth import GENERATORS, WEIGHTS, iter_records

#: The families whose phrasings this mix changes: both JSON tasks of the example suites.
JSON_FAMILIES: tuple[str, ...] = ("ticket_json", "contact_json")
#: Share of the inline (instruction-first) JSON records rewritten with the data first; the rest
#: keep the instruction first and are answered in ``key: value`` lines.
DATA_FIRST_SHARE = 0.65


def data_first(instruction: str) -> str | None:
    """``instruction`` with its data (everything after the first blank line) moved before the
    task statement; None when it has no data inline."""
    statement, _, data = instruction.partition("\n\n")
    if not data.strip():
        return None
    return f"{data}\n\n{statement}"


def key_value_lines(response: str) -> str:
    """A JSON object's fields as ``key: value`` lines, in the object's order."""
    fields = json.loads(response)
    return "\n".join(f"{key}: {value}" for key, value in fields.items())


def rephrased(record: Record, rng: random.Random) -> Record:
    """A JSON task's record in the phrasings this mix teaches.

    A record with its data in Dolly's ``Input:`` section is kept as it is; an inline one gets its
    data first (JSON response) or keeps its instruction first (``key: value`` response).
    """
    if record.context:
        return record
    moved = data_first(record.instruction)
    if moved is None:
        return record
    if rng.random() < DATA_FIRST_SHARE:
        return Record(moved, record.response, record.context, record.category)
    return Record(
        record.instruction, key_value_lines(record.response), record.context, record.category
    )


def iter_data_first_records(n: int, *, seed: int = 0) -> Iterator[Record]:
    """``n`` records of the ``data-first`` mix, the same ones for the same seed on every machine.

    The full mix is drawn as :func:`promptcheck.train.synth.iter_records` draws it; the family of
    record ``i`` is read again from the same seeded generator, so the JSON records are found
    without changing how the full mix is made.
    """
    every = list(WEIGHTS)
    weights = [WEIGHTS[name] for name in every]
    for index, record in enumerate(iter_records(n, seed=seed, mix="full")):
        family = random.Random(f"{seed}:{index}").choices(every, weights)[0]
        if family in JSON_FAMILIES and family in GENERATORS:
            yield rephrased(record, random.Random(f"phrasings:{seed}:{index}"))
        else:
            yield record
