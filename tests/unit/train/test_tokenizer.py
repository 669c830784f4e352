"""The tiny tokenizer has GPT-NeoX's layout and Dolly's special tokens, and survives a save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from promptcheck.formats import DOLLY_SPECIAL_TOKENS, dolly_training_text
from promptcheck.train.tokenizer import add_dolly_tokens, dolly_token_ids, train_tokenizer

NEOX_TOKENIZER = Path(__file__).resolve().parents[2] / "data/tokenizer/gpt-neox-20b-tokenizer.json"


def test_layout_matches_gpt_neox(tokenizer: Any) -> None:
    assert len(tokenizer) == 400
    assert tokenizer.convert_ids_to_tokens([0, 1]) == ["<|endoftext|>", "<|padding|>"]
    assert dolly_token_ids(tokenizer) == [397, 398, 399]  # added last, in Dolly's order
    assert tokenizer.eos_token_id == 0 and tokenizer.pad_token_id == 1


def test_special_tokens_are_single_tokens_and_text_round_trips(tokenizer: Any) -> None:
    text = dolly_training_text("List exactly 3 fruits.", "- apple\n- pear\n- plum", "Input text")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    for token, token_id in zip(DOLLY_SPECIAL_TOKENS, dolly_token_ids(tokenizer), strict=True):
        assert ids.count(token_id) == 1, token
    assert tokenizer.decode(ids) == text


def test_digits_are_split_one_by_one(tokenizer: Any) -> None:
    pieces = tokenizer.convert_ids_to_tokens(tokenizer("Is 738 even?")["input_ids"])
    assert pieces[pieces.index("7") :][:3] == ["7", "3", "8"]


def test_training_is_deterministic(records: Any) -> None:
    from promptcheck.train.tokenizer import corpus_texts

    first = train_tokenizer(corpus_texts(records[:100]), vocab_size=300)
    second = train_tokenizer(corpus_texts(records[:100]), vocab_size=300)
    assert first.get_vocab() == second.get_vocab()


def test_saved_and_loaded_with_auto_tokenizer(tmp_path: Path, tokenizer: Any) -> None:
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    text = dolly_training_text("Say YES.", "YES")
    assert loaded(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert dolly_token_ids(loaded) == dolly_token_ids(tokenizer)
    assert loaded.pad_token == "<|padding|>"


@pytest.mark.skipif(not NEOX_TOKENIZER.is_file(), reason="GPT-NeoX-20B tokenizer file not present")
def test_adding_dolly_tokens_to_the_real_neox_tokenizer_gives_dollys_ids() -> None:
    from transformers import PreTrainedTokenizerFast

    neox = PreTrainedTokenizerFast(tokenizer_file=str(NEOX_TOKENIZER), eos_token="<|endoftext|>")
    assert add_dolly_tokens(neox) == [50277, 50278, 50279]
    assert add_dolly_tokens(neox) == []  # already there: nothing new
    assert len(neox) == 50280
