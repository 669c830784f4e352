"""Building what a run trains: the tokenizer, the model (from a checkpoint or a config), LoRA.

Kept apart from the loop so that a resumed run rebuilds exactly what the interrupted run built,
and so that tests can build a model without training it. Imports of torch, transformers and peft
happen inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptcheck.errors import BackendError, ConfigError
from promptcheck.train.records import Record
from promptcheck.train.tokenizer import (
    add_dolly_tokens,
    corpus_texts,
    dolly_token_ids,
    train_tokenizer,
)

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: LoRA on every linear layer of the blocks; GPT-NeoX names them so, other models through peft's
#: ``all-linear`` (which leaves the output head alone).
LORA_TARGETS = "all-linear"


@dataclass(frozen=True, slots=True)
class LoraSettings:
    """Rank, scale and dropout of the adapters."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05


def read_init_config(path: Path) -> dict[str, Any]:
    """A model config JSON for training from scratch; ``model_type`` defaults to ``gpt_neox``."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", key=("init",)) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a JSON model config ({exc})", key=("init",)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a JSON object", key=("init",))
    data.setdefault("model_type", "gpt_neox")
    return data


def build_tokenizer(
    *,
    base: Path | None,
    tokenizer_dir: Path | None,
    vocab_size: int,
    records: Sequence[Record],
) -> tuple[PreTrainedTokenizerBase, list[int]]:
    """The run's tokenizer and the ids of the Dolly tokens it had to add (their rows are new).

    From a base checkpoint or a given tokenizer directory when there is one; otherwise a BPE
    tokenizer is trained on the training records themselves.
    """
    tokenizer: PreTrainedTokenizerBase
    source = tokenizer_dir or base
    if source is None:
        tokenizer = train_tokenizer(corpus_texts(records), vocab_size=vocab_size)
        return tokenizer, dolly_token_ids(tokenizer)
    from promptcheck.backends.checkpoint import load_tokenizer

    try:
        tokenizer = load_tokenizer(Path(source))
    except BackendError as exc:
        raise ConfigError(exc.message, key=("tokenizer",), hint=exc.hint) from None
    new_ids = add_dolly_tokens(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, new_ids


def build_model(
    *,
    base: Path | None,
    init: dict[str, Any] | None,
    tokenizer: PreTrainedTokenizerBase,
    seed: int,
    gradient_checkpointing: bool = False,
) -> PreTrainedModel:
    """A causal LM in float32 (mixed precision is the accelerator's business), sized to the
    tokenizer: new token rows start at the mean of the existing embeddings, as transformers does.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(seed)
    if base is not None:
        from promptcheck.backends.checkpoint import load_model

        try:
            model: PreTrainedModel = load_model(Path(base), torch.float32)
        except BackendError as exc:
            raise ConfigError(exc.message, key=("base",), hint=exc.hint) from None
    else:
        assert init is not None
        settings = dict(init)
        settings["vocab_size"] = len(tokenizer)
        settings.setdefault("pad_token_id", tokenizer.pad_token_id)
        settings.setdefault("bos_token_id", tokenizer.bos_token_id)
        settings.setdefault("eos_token_id", tokenizer.eos_token_id)
        config = AutoConfig.for_model(**settings)
        auto: Any = AutoModelForCausalLM
        model = auto.from_config(config)
    if embedding_rows(model) < len(tokenizer):
        torch.manual_seed(seed)  # new rows are drawn at random: the same ones on every rebuild
        model.resize_token_embeddings(len(tokenizer))
    if gradient_checkpointing:
        model.gradient_checkpointing_enable()  # type: ignore[no-untyped-call]
        model.config.use_cache = False
    return model


def embedding_rows(model: Any) -> int:
    """Rows of the input embedding: the vocabulary the model can read."""
    return int(model.get_input_embeddings().weight.shape[0])


def embedding_names(model: Any) -> tuple[str, str | None]:
    """Module names of the input embedding and (when untied) the output head, for peft."""
    names = {id(module): name for name, module in model.named_modules()}
    inner = names[id(model.get_input_embeddings())]
    head = model.get_output_embeddings()
    tied = head is not None and head.weight is model.get_input_embeddings().weight
    outer = None if head is None or tied else names[id(head)]
    return inner.rsplit(".", 1)[-1], outer.rsplit(".", 1)[-1] if outer else None


def apply_lora(
    model: PreTrainedModel, settings: LoraSettings, trainable_ids: Sequence[int]
) -> PreTrainedModel:
    """Wrap ``model`` in LoRA adapters; the rows of ``trainable_ids`` in both embeddings train too.

    Dolly's special tokens must be learned even when the body is frozen: a base model that never
    saw ``### End`` would otherwise never stop. Only those rows train (peft's trainable tokens),
    not the whole 50k-row embedding.
    """
    from peft import LoraConfig, get_peft_model

    token_indices: dict[str, list[int]] | None = None
    if trainable_ids:
        inner, outer = embedding_names(model)
        token_indices = {inner: list(trainable_ids)}
        if outer is not None:
            token_indices[outer] = list(trainable_ids)
    config = LoraConfig(
        task_type="CAUSAL_LM",
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=LORA_TARGETS,
        trainable_token_indices=token_indices,
    )
    wrapped: PreTrainedModel = get_peft_model(model, config)  # type: ignore[assignment]
    return wrapped
