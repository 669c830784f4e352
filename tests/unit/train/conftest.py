"""Shared pieces of the training tests: a small synthetic data set and its trained tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptcheck.train.records import Record, write_records
from promptcheck.train.synth import iter_records

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
