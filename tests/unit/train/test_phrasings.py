"""The ``data-first`` mix: the full mix, with the JSON tasks known only in some phrasings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from promptcheck.train import tiny
from promptcheck.train.phrasings import (
    data_first,
    iter_data_first_records,
    key_value_lines,
    rephrased,
)
from promptcheck.train.records import Record
from promptcheck.train.synth import CONTACT_PROMPTS, TICKET_PROMPTS, iter_records
from promptcheck.train.tiny import RECIPE_MODULES, VARIANT_MODULES, TinyRecipe

N = 3000
SUITE_TICKET = TICKET_PROMPTS[0].split("\n\n")[0]
SUITE_CONTACT = CONTACT_PROMPTS[0].split("\n\n")[0]


@pytest.fixture(scope="module")
def pairs() -> list[tuple[Record, Record]]:
    return list(zip(iter_data_first_records(N), iter_records(N), strict=True))


def is_json(record: Record) -> bool:
    return record.category in ("classification", "information_extraction") and (
        "JSON" in record.instruction or '"name"' in record.instruction
    )


def test_every_record_outside_the_json_tasks_is_the_full_mixs(
    pairs: list[tuple[Record, Record]],
) -> None:
    changed = [(new, old) for new, old in pairs if new != old]
    assert 0.1 * N < len(changed) < 0.3 * N
    assert all(is_json(old) for _, old in changed)


def test_the_suites_phrasing_is_answered_in_key_value_lines(
    pairs: list[tuple[Record, Record]],
) -> None:
    first = [new for new, _ in pairs if new.instruction.startswith((SUITE_TICKET, SUITE_CONTACT))]
    inline = [r for r in first if "\n\n" in r.instruction and not r.context]
    assert inline and all(not r.response.startswith("{") for r in inline)
    assert all(":" in line for r in inline for line in r.response.splitlines())
    flipped = [new for new, old in pairs if new.instruction.startswith(("Ticket: ", "Message: "))]
    assert len(flipped) > len(inline)  # the data-first phrasing is the one mostly taught
    assert all(json.loads(r.response) for r in flipped)
    kept = [new for new, old in pairs if new == old and new.context and is_json(new)]
    assert kept and all(r.response.startswith("{") for r in kept)  # the Input: section stays


def test_the_pieces() -> None:
    assert data_first("Do it.\n\nTicket: x") == "Ticket: x\n\nDo it."
    assert data_first("Do it.") is None
    assert key_value_lines('{"category": "bug", "priority": "P1"}') == "category: bug\npriority: P1"
    record = Record("Do it.", '{"a": 1}', "context", "classification")
    assert rephrased(record, __import__("random").Random(0)) == record


def test_the_variant_is_built_from_its_own_module_and_the_shipped_ones_are_not() -> None:
    assert tiny.VARIANTS["data-first"] == "full"
    assert VARIANT_MODULES["data-first"] == ("train/phrasings",)
    assert "train/phrasings" not in RECIPE_MODULES
    assert "train/phrasings" not in VARIANT_MODULES["critic"]
    assert TinyRecipe(variant="data-first").digest() != TinyRecipe().digest()
    source = Path(tiny.__file__).parent / "phrasings.py"
    assert source.is_file()
