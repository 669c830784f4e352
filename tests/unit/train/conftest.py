"""Shared pieces of the training tests: a small synthetic data set and its trained tokenizer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from promptcheck.train.records import Record, write_records
from promptcheck.train.synth import iter_records

ROOT = Path(__file__).resolve().parents[3]

pytest.importorskip("torch")
pytest.importorskip("transformers")

#: A GPT-NeoX small enough that a training step takes milliseconds.
MICRO_CONFIG: dict[str, Any] = {
    "model_type": "gpt_neox",
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 256,
    "rotary_pct": 1.0,
    "tie_word_embeddings": False,
    "vocab_size": 400,
}


@pytest.fixture(scope="session")
def records() -> list[Record]:
    return list(iter_records(400, seed=11))


@pytest.fixture(scope="session")
def data_file(tmp_path_factory: pytest.TempPathFactory, records: list[Record]) -> Path:
    path = tmp_path_factory.mktemp("data") / "synth.jsonl"
    write_records(path, records)
    return path


@pytest.fixture(scope="session")
def tokenizer(records: list[Record]) -> Any:
    from promptcheck.train.tokenizer import corpus_texts, train_tokenizer

    return train_tokenizer(corpus_texts(records), vocab_size=400)


TICKET_SCHEMA = json.loads((ROOT / "suites" / "schemas" / "ticket.json").read_text())
ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+\S", re.MULTILINE)


def _conforms(family: str, question: str, text: str) -> bool:
    """The example suites' format checks for a task family's response, restated independently
    (``question`` holds the k of a list)."""
    if family in ("ticket_json", "contact_json"):
        try:
            data = json.loads(text)
        except ValueError:
            return False
        if family == "ticket_json":
            return jsonschema.Draft202012Validator(TICKET_SCHEMA).is_valid(data)
        email = data.get("email") if isinstance(data, dict) else None
        return (
            set(data) == {"name", "email"}
            and isinstance(email, str)
            and re.fullmatch(r"[^@ ]+@[^@ ]+", email) is not None
            and email == email.lower()
        )
    if family == "three_options":
        return re.fullmatch(r"A\) [^\n]+\nB\) [^\n]+\nC\) [^\n]+", text) is not None
    if family == "yes_no":
        return text in ("YES", "NO")
    if family == "exactly_k":
        k = int(re.search(r"exactly (\d+)", question)[1])  # type: ignore[index]
        return re.fullmatch(r"(- [^\n]+\n?)+", text) is not None and len(ITEM.findall(text)) == k
    assert family == "summary"
    return "\n" not in text and len(text.split()) <= 20 and text.endswith(".")


@pytest.fixture(scope="session")
def conforms() -> Callable[[str, str, str], bool]:
    """``conforms(family, question, text)``: would the example suites' checks pass ``text``?"""
    return _conforms
