"""Dolly-style examples: the loss mask checked token by token, overlong records dropped by line."""

from __future__ import annotations

from typing import Any

from promptcheck.formats import END_KEY, RESPONSE_KEY_NL, dolly_prompt
from promptcheck.train.dataset import (
    IGNORE_INDEX,
    collate,
    encode_record,
    encode_records,
    epoch_batches,
    split_eval,
)
from promptcheck.train.records import Record


def test_loss_is_on_the_response_and_end_token_only(tokenizer: Any) -> None:
    record = Record('Extract the sender as JSON.', '{"name": "Ana", "email": "a@b.io"}',
                    context="From Ana, a@b.io")  # fmt: skip
    example = encode_record(tokenizer, record)
    tokens = tokenizer.convert_ids_to_tokens(list(example.input_ids))
    start = tokens.index(RESPONSE_KEY_NL)
    prompt_ids = tokenizer(dolly_prompt(record.instruction, record.context))["input_ids"]
    assert list(example.input_ids[: start + 1]) == prompt_ids  # the prompt is exactly Dolly's
    for position, (token_id, label) in enumerate(
        zip(example.input_ids, example.labels, strict=True)
    ):
        if position <= start:
            assert label == IGNORE_INDEX, (position, tokens[position])
        else:
            assert label == token_id, (position, tokens[position])
    assert tokens[-1] == END_KEY and example.labels[-1] == tokenizer.convert_tokens_to_ids(END_KEY)
    learned = [
        i
        for i, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    assert tokenizer.decode(learned) == record.response + "\n\n" + END_KEY


def test_a_quoted_response_key_in_the_instruction_does_not_move_the_mask(tokenizer: Any) -> None:
    record = Record("Explain what '### Response:\n' means.", "A marker.")
    example = encode_record(tokenizer, record)
    learned = [
        i
        for i, label in zip(example.input_ids, example.labels, strict=True)
        if label != IGNORE_INDEX
    ]
    assert tokenizer.decode(learned) == "A marker.\n\n" + END_KEY


def test_records_longer_than_the_context_are_dropped_and_reported(tokenizer: Any) -> None:
    records = [Record("Short.", "Ok."), Record("Long " * 300, "Ok."), Record("Also short.", "Ok.")]
    encoded = encode_records(tokenizer, records, [3, 5, 9], max_length=64)
    assert [e.line for e in encoded.examples] == [3, 9]
    assert [line for line, _ in encoded.too_long] == [5]
    assert "data.jsonl:5 (" in encoded.summary(64, path="data.jsonl")


def test_split_and_batches_are_seeded_and_cover_every_example(tokenizer: Any, records: Any) -> None:
    encoded = encode_records(tokenizer, records, list(range(len(records))), max_length=256)
    train, held = split_eval(encoded.examples, 0.1, seed=3)
    assert len(held) == round(0.1 * len(encoded.examples))
    assert split_eval(encoded.examples, 0.1, seed=3) == (train, held)
    batches = epoch_batches(train, 8, seed=1, epoch=0)
    assert sorted(i for b in batches for i in b) == list(range(len(train)))
    assert batches == epoch_batches(train, 8, seed=1, epoch=0)
    assert batches != epoch_batches(train, 8, seed=1, epoch=1)


def test_collate_pads_right_and_masks_padding(tokenizer: Any) -> None:
    examples = [
        encode_record(tokenizer, Record("A", "B")),
        encode_record(tokenizer, Record("A much longer one", "B")),
    ]
    batch = collate(examples, pad_id=1)
    short = len(examples[0].input_ids)
    assert batch["input_ids"].shape[1] % 8 == 0
    assert batch["input_ids"][0, short:].eq(1).all()
    assert batch["labels"][0, short:].eq(IGNORE_INDEX).all()
    assert batch["attention_mask"][0].sum() == short
