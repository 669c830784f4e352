"""Records to token ids and loss masks in Dolly's format, and the batches a training run draws.

A record becomes Dolly's training text (``formats.dolly_training_text``), tokenized whole; the loss
is computed on the tokens after ``### Response:\\n`` only (the response, the blank line and
``### End``), so the model learns to answer and to stop, never to write instructions. A record
that does not fit the context is dropped and reported by line: truncating it would teach
responses cut off mid-format, or responses with no ``### End``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from promptcheck.formats import dolly_training_text
from promptcheck.train.records import Record
from promptcheck.train.tokenizer import dolly_token_ids

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedTokenizerBase

#: Label value the loss ignores (PyTorch's cross-entropy default).
IGNORE_INDEX = -100


@dataclass(frozen=True, slots=True)
class Example:
    """One tokenized record: ids, labels (``IGNORE_INDEX`` on the prompt) and its source line."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    line: int


@dataclass
class Encoded:
    """The examples that fit, and the source lines of those that did not (with their lengths)."""

    examples: list[Example] = field(default_factory=list)
    too_long: list[tuple[int, int]] = field(default_factory=list)

    def summary(self, max_length: int, path: object = "data", limit: int = 5) -> str:
        if not self.too_long:
            return ""
        lines = ", ".join(f"{path}:{line} ({n} tokens)" for line, n in self.too_long[:limit])
        more = f" and {len(self.too_long) - limit} more" if len(self.too_long) > limit else ""
        return (
            f"dropped {len(self.too_long)} records longer than the context of {max_length} "
            f"tokens: {lines}{more}"
        )


def _example(ids: list[int], line: int, end_id: int, response_id: int) -> Example:
    """Mask everything up to and including the last ``### Response:\\n`` token.

    The last one marks where the answer starts, so an instruction that quotes Dolly's markers
    cannot move it.
    """
    if response_id not in ids or ids[-1] != end_id:
        raise ValueError(f"line {line}: not a Dolly training text (markers missing)")
    start = len(ids) - 1 - ids[::-1].index(response_id)
    labels = [IGNORE_INDEX] * (start + 1) + ids[start + 1 :]
    return Example(tuple(ids), tuple(labels), line)


def encode_record(tokenizer: PreTrainedTokenizerBase, record: Record, line: int = 0) -> Example:
    """One record as Dolly's trainer sees it: ids of the training text and response-only labels."""
    end_id, _, response_id = dolly_token_ids(tokenizer)
    text = dolly_training_text(record.instruction, record.response, record.context or None)
    ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
    return _example(ids, line, end_id, response_id)


def encode_records(
    tokenizer: PreTrainedTokenizerBase,
    records: Sequence[Record],
    lines: Sequence[int],
    max_length: int,
    chunk: int = 4096,
) -> Encoded:
    """Encode every record; those longer than ``max_length`` tokens are counted, not truncated."""
    end_id, _, response_id = dolly_token_ids(tokenizer)
    encoded = Encoded()
    for begin in range(0, len(records), chunk):
        part = records[begin : begin + chunk]
        texts = [dolly_training_text(r.instruction, r.response, r.context or None) for r in part]
        batch: list[list[int]] = tokenizer(texts, add_special_tokens=False)["input_ids"]
        for ids, line in zip(batch, lines[begin : begin + chunk], strict=True):
            if len(ids) > max_length:
                encoded.too_long.append((line, len(ids)))
            else:
                encoded.examples.append(_example(ids, line, end_id, response_id))
    return encoded


def split_eval(
    examples: Sequence[Example], fraction: float, seed: int
) -> tuple[list[Example], list[Example]]:
    """A seeded random split into (train, eval); eval has at least one example if fraction > 0."""
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_eval = 0 if fraction <= 0 else max(1, round(fraction * len(examples)))
    n_eval = min(n_eval, len(examples) - 1)
    held = set(order[:n_eval])
    train = [ex for i, ex in enumerate(examples) if i not in held]
    evaluation = [ex for i, ex in enumerate(examples) if i in held]
    return train, evaluation


def epoch_batches(
    examples: Sequence[Example], batch_size: int, seed: int, epoch: int
) -> list[list[int]]:
    """Index batches for one epoch: shuffled, then grouped by length so padding stays small.

    Groups of 32 batches are sorted by length and the batches shuffled again, which keeps the
    order random at the scale that matters to the optimizer. Pure function of (seed, epoch), so a
    resumed run sees the same batches as the run it continues.
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(examples)))
    rng.shuffle(order)
    group = batch_size * 32
    batches: list[list[int]] = []
    for begin in range(0, len(order), group):
        chunk = sorted(order[begin : begin + group], key=lambda i: len(examples[i].input_ids))
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(
    examples: Sequence[Example], pad_id: int, multiple_of: int = 8
) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padding is masked out of attention and of the loss."""
    import torch

    longest = max(len(ex.input_ids) for ex in examples)
    width = -(-longest // multiple_of) * multiple_of
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex.input_ids)
        ids[row, :n] = torch.tensor(ex.input_ids)
        labels[row, :n] = torch.tensor(ex.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}
