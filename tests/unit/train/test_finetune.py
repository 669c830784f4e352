"""Training runs on a micro GPT-NeoX: loss goes down, resume is exact, LoRA saves and loads."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from conftest import MICRO_CONFIG
from transformers import AutoModelForCausalLM, AutoTokenizer

from promptcheck.errors import ConfigError
from promptcheck.formats import DOLLY_SPECIAL_TOKENS, END_KEY
from promptcheck.train.finetune import finetune, latest_checkpoint
from promptcheck.train.options import FinetuneOptions
from promptcheck.train.records import Record
from promptcheck.train.tokenizer import corpus_texts, dolly_token_ids, train_tokenizer


@pytest.fixture(scope="module")
def init_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "micro.json"
    path.write_text(json.dumps(MICRO_CONFIG))
    return path


def options(data: Path, out: Path, **changes: Any) -> FinetuneOptions:
    base = FinetuneOptions(data=data, out=out, batch_size=8, lr=3e-3, warmup_steps=2,
                           eval_fraction=0.05, progress=False, threads=1)  # fmt: skip
    return replace(base, **changes)


def weights(directory: Path) -> dict[str, torch.Tensor]:
    model = AutoModelForCausalLM.from_pretrained(directory)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_a_few_steps_lower_the_eval_loss_and_save_a_loadable_dolly(
    tmp_path: Path, data_file: Path, init_config: Path
) -> None:
    result = finetune(options(data_file, tmp_path / "out", init=init_config, steps=30))
    assert result.first_eval_loss is not None and result.eval_loss is not None
    assert result.eval_loss < result.first_eval_loss - 0.5
    assert result.steps == 30 and result.tokens > 0

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert dolly_token_ids(tokenizer) == [
        len(tokenizer) - 3,
        len(tokenizer) - 2,
        len(tokenizer) - 1,
    ]
    assert model.config.vocab_size == len(tokenizer)
    assert tokenizer.convert_tokens_to_ids(END_KEY) in model.generation_config.eos_token_id
    summary = json.loads((tmp_path / "out" / "promptcheck_train.json").read_text())
    assert summary["steps"] == 30


def test_resume_from_a_checkpoint_ends_where_the_uninterrupted_run_ends(
    tmp_path: Path, data_file: Path, init_config: Path
) -> None:
    straight = options(data_file, tmp_path / "a", init=init_config, steps=6, save_every=3)
    finetune(straight)
    checkpoint = latest_checkpoint(tmp_path / "a")
    assert checkpoint is not None and checkpoint.name == "step-3"

    resumed = finetune(replace(straight, out=tmp_path / "b", resume=str(checkpoint)))
    assert resumed.resumed_from == 3 and resumed.steps == 6
    a, b = weights(tmp_path / "a"), weights(tmp_path / "b")
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)


def test_resume_refuses_a_checkpoint_of_other_settings(
    tmp_path: Path, data_file: Path, init_config: Path
) -> None:
    first = options(data_file, tmp_path / "a", init=init_config, steps=4, save_every=2)
    finetune(first)
    with pytest.raises(ConfigError, match="other settings or data"):
        finetune(replace(first, batch_size=4, resume="latest"))
    with pytest.raises(ConfigError, match="no checkpoint"):
        finetune(replace(first, out=tmp_path / "empty", resume="latest"))


@pytest.fixture(scope="module")
def plain_base(tmp_path_factory: pytest.TempPathFactory, records: list[Record]) -> Path:
    """A 'pretrained' base whose tokenizer has never heard of Dolly's special tokens."""
    from transformers import AutoConfig

    directory = tmp_path_factory.mktemp("base")
    tokenizer = train_tokenizer(corpus_texts(records), vocab_size=397, dolly_tokens=False)
    settings = {**MICRO_CONFIG, "vocab_size": len(tokenizer)}
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.for_model(**settings)).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_full_finetuning_a_base_adds_and_trains_dollys_tokens(
    tmp_path: Path, data_file: Path, plain_base: Path
) -> None:
    finetune(options(data_file, tmp_path / "out", base=plain_base, steps=5, lr=1e-2))
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    assert dolly_token_ids(tokenizer) == [397, 398, 399]
    trained = weights(tmp_path / "out")
    assert trained["gpt_neox.embed_in.weight"].shape[0] == 400


def test_lora_adapter_is_saved_loaded_and_merged(
    tmp_path: Path, data_file: Path, plain_base: Path
) -> None:
    from peft import PeftModel

    result = finetune(
        options(data_file, tmp_path / "out", base=plain_base, steps=8, lr=1e-2, lora=True)
    )
    assert result.trainable_parameters < result.parameters / 3
    adapter = tmp_path / "out" / "adapter"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert any(ids == [397, 398, 399] for ids in config["trainable_token_indices"].values())

    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out").eval()
    base = AutoModelForCausalLM.from_pretrained(plain_base)
    torch.manual_seed(0)  # the resize draws the new rows exactly as training did
    base.resize_token_embeddings(400)
    untrained_rows = base.get_input_embeddings().weight[397:].detach().clone()
    loaded = PeftModel.from_pretrained(base, adapter).eval()
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    ids = tokenizer("Is 12 even?\n\n### Response:\nYES\n\n### End", return_tensors="pt")[
        "input_ids"
    ]
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, merged(ids).logits, rtol=1e-4, atol=1e-4)
    trained_rows = merged.get_input_embeddings().weight[397:]
    assert not torch.allclose(trained_rows, untrained_rows)  # the Dolly tokens were learned


def test_lora_needs_a_base(tmp_path: Path, data_file: Path, init_config: Path) -> None:
    with pytest.raises(ConfigError, match="LoRA"):
        finetune(options(data_file, tmp_path / "out", init=init_config, steps=2, lora=True))


def test_records_longer_than_the_context_are_dropped_and_reported(
    tmp_path: Path, data_file: Path, init_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = finetune(
        options(data_file, tmp_path / "out", init=init_config, steps=1, max_length=80)
    )
    assert result.too_long > 0
    assert result.train_examples + result.eval_examples + result.too_long == result.records
    assert (
        f"dropped {result.too_long} records longer than the context of 80 tokens"
        in capsys.readouterr().err
    )


def test_special_tokens_are_dollys(tokenizer: Any) -> None:
    assert tokenizer.convert_ids_to_tokens(dolly_token_ids(tokenizer)) == list(DOLLY_SPECIAL_TOKENS)
