"""Writing the trained model as a directory the ``local`` backend (and vLLM) loads as it is.

The result is a plain Hugging Face causal-LM directory: config, safetensors weights, tokenizer
with Dolly's special tokens, and a generation config that stops at ``### End``. A LoRA run
writes its adapter to ``out/adapter`` and the merged model to ``out``, so the same suites test it
without peft; the merge reloads the base from disk, which also works when ZeRO-3 has the live
weights sharded across GPUs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptcheck.formats import END_KEY

if TYPE_CHECKING:
    from accelerate import Accelerator
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from promptcheck.train.options import FinetuneOptions

SUMMARY_FILE = "promptcheck_train.json"
ADAPTER_DIR = "adapter"


def stop_at_end(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
    """Generation stops at ``### End`` (or end-of-text); padding uses the tokenizer's pad token."""
    end_id = tokenizer.convert_tokens_to_ids(END_KEY)
    eos = [end_id] + ([tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else [])
    model.generation_config.eos_token_id = eos
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.config.use_cache = True


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, out: Path) -> None:
    """Save the tokenizer under the generic fast-tokenizer class name.

    transformers 5 writes ``TokenizersBackend``, a name transformers 4 (and tools pinned to it,
    such as older vLLM) cannot resolve; ``PreTrainedTokenizerFast`` loads the same tokenizer.json
    in both.
    """
    tokenizer.save_pretrained(str(out))
    config_path = Path(out) / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("tokenizer_class") == "TokenizersBackend":
        config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def save_final(
    accelerator: Accelerator,
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    options: FinetuneOptions,
    summary: dict[str, Any],
) -> Path:
    """Write ``options.out``; every process must call this (ZeRO-3 gathers weights collectively)."""
    import torch

    out = Path(options.out)
    accelerator.wait_for_everyone()
    unwrapped = accelerator.unwrap_model(model)
    state = accelerator.get_state_dict(model)
    if options.bf16 and state is not None:
        state = {k: v.to(torch.bfloat16) if v.is_floating_point() else v for k, v in state.items()}
    if options.lora:
        unwrapped.save_pretrained(
            str(out / ADAPTER_DIR),
            state_dict=state,
            is_main_process=accelerator.is_main_process,
            save_function=accelerator.save,
        )
        if accelerator.is_main_process:
            merged = merge_adapter(options, tokenizer, out / ADAPTER_DIR)
            stop_at_end(merged, tokenizer)
            merged.save_pretrained(str(out))
    else:
        stop_at_end(unwrapped, tokenizer)
        unwrapped.save_pretrained(
            str(out),
            state_dict=state,
            is_main_process=accelerator.is_main_process,
            save_function=accelerator.save,
        )
    if accelerator.is_main_process:
        save_tokenizer(tokenizer, out)
        (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    accelerator.wait_for_everyone()
    return out


def merge_adapter(
    options: FinetuneOptions, tokenizer: PreTrainedTokenizerBase, adapter: Path
) -> PreTrainedModel:
    """The base model from disk with the adapter (and the trained token rows) merged in."""
    import torch
    from peft import PeftModel

    from promptcheck.backends.checkpoint import load_model
    from promptcheck.train.model import embedding_rows

    dtype = torch.bfloat16 if options.bf16 else torch.float32
    assert options.base is not None  # an adapter is trained on a base
    base = load_model(Path(options.base), dtype)
    if embedding_rows(base) < len(tokenizer):
        torch.manual_seed(options.seed)  # the same new rows as model.build_model drew
        base.resize_token_embeddings(len(tokenizer))
    peft_model = PeftModel.from_pretrained(base, str(adapter))
    merged: PreTrainedModel = peft_model.merge_and_unload()
    return merged
