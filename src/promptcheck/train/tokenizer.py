"""Dolly's special tokens, and the small byte-level BPE tokenizer of the tiny Dolly.

The tiny tokenizer copies the layout of GPT-NeoX-20B's, so that every code path that handles a
real Dolly checkpoint handles the tiny one too: ``<|endoftext|>`` = 0 and ``<|padding|>`` = 1,
byte-level BPE with NFC normalisation, and Dolly's three special tokens added last, in Dolly's
order, as additional special tokens.

Two departures make copying learnable for a 1M-parameter model. A word takes the space *after*
it rather than the one before, so that a word is cut into the same tokens wherever it stands:
``maria.lopez@example.com`` is the same token sequence after ``(``, after a space and inside a
JSON string, which is what lets an induction head copy it from a message into an answer (with
GPT-2's leading spaces, the first piece differs with its left neighbour and the BPE split of the
whole word can change). And digits are split one by one, so parity is the last digit's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from promptcheck.formats import DOLLY_SPECIAL_TOKENS, INPUT_KEY, INTRO_BLURB, RESPONSE_KEY
from promptcheck.train.records import Record

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase, PreTrainedTokenizerFast

#: Pre-tokens: a letter run with the one space after it, one digit (and its space), a run of
#: punctuation (and its space), or any other whitespace.
PRE_TOKEN_PATTERN = r"[\p{L}\p{M}]+ ?|\p{N} ?|[^\s\p{L}\p{M}\p{N}]+ ?|\s+"

END_OF_TEXT = "<|endoftext|>"
PADDING = "<|padding|>"


def dolly_token_ids(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Ids of ``### End``, ``### Instruction:`` and ``### Response:\\n``, in that order.

    Raises ``KeyError`` naming the first one the tokenizer lacks as a single token.
    """
    vocab = tokenizer.get_vocab()
    ids = []
    for token in DOLLY_SPECIAL_TOKENS:
        if token not in vocab:
            raise KeyError(token)
        ids.append(vocab[token])
    return ids


def add_dolly_tokens(tokenizer: PreTrainedTokenizerBase) -> list[int]:
    """Add whichever of Dolly's special tokens are missing, as Dolly's trainer does; new ids.

    The caller must resize the model's embeddings when the returned list is not empty, and should
    train those rows (the LoRA setup does so through ``trainable_token_indices``).
    """
    before = set(tokenizer.get_vocab())
    missing = [token for token in DOLLY_SPECIAL_TOKENS if token not in before]
    if missing:
        tokenizer.add_special_tokens(
            {"additional_special_tokens": missing}, replace_extra_special_tokens=False
        )
    vocab = tokenizer.get_vocab()
    return [vocab[token] for token in missing]


def corpus_texts(records: Iterable[Record]) -> Iterator[str]:
    """What a tokenizer is trained on: each record's fields and the template text around them.

    The template's intro sentence is yielded once per record, as often as the model will see it,
    so that BPE spends merges on it: it is a fifth of every training sequence.
    """
    yield RESPONSE_KEY
    for record in records:
        yield INTRO_BLURB
        if record.context:
            yield INPUT_KEY
        yield record.instruction
        if record.context:
            yield record.context
        yield record.response


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, *, dolly_tokens: bool = True
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer of ``vocab_size`` entries in all, Dolly tokens included.

    Deterministic for the same texts in the same order (the BPE trainer breaks ties by content).
    ``dolly_tokens=False`` leaves them out (``vocab_size`` entries of BPE alone), like a base
    model's tokenizer before Dolly tuning.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
    )
    from tokenizers.trainers import BpeTrainer
    from transformers import PreTrainedTokenizerFast

    specials = [END_OF_TEXT, PADDING]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRE_TOKEN_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        vocab_size=vocab_size - (len(DOLLY_SPECIAL_TOKENS) if dolly_tokens else 0),
        min_frequency=2,
        special_tokens=[AddedToken(t, special=True, normalized=False) for t in specials],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    factory: Any = PreTrainedTokenizerFast
    fast: PreTrainedTokenizerFast = factory(
        tokenizer_object=tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=PADDING,
        clean_up_tokenization_spaces=False,
    )
    if dolly_tokens:
        add_dolly_tokens(fast)
    return fast
