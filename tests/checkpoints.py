"""Tiny checkpoints built at test time in temporary directories; no weights are committed.

The Dolly ones have the real layout of a dolly-v2 checkpoint: the GPT-NeoX-20B tokenizer from
``tests/data/tokenizer`` plus Dolly's three special tokens (ids 50277-50279), a dolly-v2 style
``config.json`` (GPT-NeoX, parallel residual, rotary_pct 0.25, vocabulary 50280) at a tiny size,
random weights. :func:`script_model` rewires such a model so that it emits a known token chain,
which lets tests see exactly where generation stops and what is decoded.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

from promptcheck.formats import DOLLY_SPECIAL_TOKENS

TOKENIZER_FILE = Path(__file__).parent / "data" / "tokenizer" / "gpt-neox-20b-tokenizer.json"
DOLLY_SPECIAL_IDS = (50277, 50278, 50279)
DOLLY_VOCAB_SIZE = 50280
#: What the scripted test model answers to any instruction, as Dolly's trainer would have
#: taught it: the response, a blank line, then ``### End``.
SCRIPTED_RESPONSE = "Hello world.\n\n"


def dolly_v2_config(
    *, hidden_size: int = 32, layers: int = 2, heads: int = 4, context: int = 2048
) -> dict[str, Any]:
    """config.json of dolly-v2-3b (as written by transformers 4.25), shrunk to a tiny size."""
    return {
        "_name_or_path": "EleutherAI/pythia-2.8b",
        "architectures": ["GPTNeoXForCausalLM"],
        "bos_token_id": 0,
        "eos_token_id": 0,
        "hidden_act": "gelu",
        "hidden_size": hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": 4 * hidden_size,
        "layer_norm_eps": 1e-05,
        "max_position_embeddings": context,
        "model_type": "gpt_neox",
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "rotary_emb_base": 10000,
        "rotary_pct": 0.25,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.25.1",
        "use_cache": True,
        "use_parallel_residual": True,
        "vocab_size": DOLLY_VOCAB_SIZE,
    }


def neox_tokenizer(*, dolly: bool = True, chat_template: str | None = None) -> Any:
    """The GPT-NeoX-20B tokenizer, plus Dolly's special tokens (in Dolly's order) when asked."""
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_file=str(TOKENIZER_FILE),
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    if dolly:
        tokenizer.add_special_tokens({"additional_special_tokens": list(DOLLY_SPECIAL_TOKENS)})
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    return tokenizer


def build_dolly_checkpoint(
    directory: Path,
    *,
    dtype: torch.dtype = torch.float32,
    max_shard_size: str | None = None,
    seed: int = 0,
    chain: Sequence[int] | None = None,
    tokenizer: Any = None,
    context: int = 2048,
    legacy_config: bool = True,
) -> Path:
    """Write a tiny Dolly v2 layout checkpoint to ``directory`` and return it.

    ``chain`` rewires the model to emit those ids in turn (see :func:`script_model`).
    ``legacy_config`` rewrites config.json as dolly-v2 shipped it (transformers 4.25 keys).
    """
    directory.mkdir(parents=True, exist_ok=True)
    config_dict = dolly_v2_config(context=context)
    model = dolly_model(config_dict, seed=seed)
    if chain is not None:
        script_model(model, chain)
    model.to(dtype)
    if max_shard_size is not None:
        model.save_pretrained(directory, max_shard_size=max_shard_size)
    else:
        model.save_pretrained(directory)
    if legacy_config:
        legacy = dict(config_dict, torch_dtype=str(dtype).removeprefix("torch."))
        (directory / "config.json").write_text(json.dumps(legacy, indent=2))
    (tokenizer if tokenizer is not None else neox_tokenizer()).save_pretrained(directory)
    return directory


def dolly_model(config_dict: dict[str, Any], *, seed: int = 0) -> Any:
    """A GPT-NeoX model with random weights from a dolly-v2 style config dictionary."""
    keys = {"architectures", "model_type", "transformers_version", "torch_dtype", "_name_or_path"}
    config = GPTNeoXConfig(**{k: v for k, v in config_dict.items() if k not in keys})
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(config).eval()


@torch.no_grad()
def script_model(model: Any, chain: Sequence[int], *, strength: float = 20.0) -> None:
    """Make ``model`` a bigram machine that, after ``chain[i]``, emits ``chain[i + 1]``.

    Attention and MLP outputs are zeroed, so the last hidden state is the layer-normed embedding
    of the current token; each chain token gets its own basis direction as embedding, and the LM
    head row of its successor points that way, so the successor's logit dominates (by hundreds)
    at any temperature.
    """
    hidden = model.config.hidden_size
    if len(chain) > hidden:
        raise ValueError("chain longer than the hidden size")
    for layer in model.gpt_neox.layers:
        for linear in (layer.attention.dense, layer.mlp.dense_4h_to_h):
            linear.weight.zero_()
            if linear.bias is not None:
                linear.bias.zero_()
    embed = model.gpt_neox.embed_in.weight
    head = model.lm_head.weight
    final_norm = model.gpt_neox.final_layer_norm
    final_norm.weight.fill_(1.0)
    final_norm.bias.zero_()
    for index, token in enumerate(chain):
        direction = torch.zeros(hidden)
        direction[index] = 1.0
        embed[token] = direction
    for current, following in itertools.pairwise(chain):
        normed = torch.nn.functional.layer_norm(embed[current], (hidden,))
        head[following] = strength * normed / normed.norm()
