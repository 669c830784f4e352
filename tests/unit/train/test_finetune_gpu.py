"""``promptcheck finetune --bf16`` on a CUDA device: the accelerate loop trains there (full and
LoRA), the loss goes down, and the saved checkpoint samples on the GPU.

Skipped where no CUDA device is present; benchmarks/gpu_check.py runs them on a lent GPU.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from promptcheck.backends.base import BackendContext, GenerationRequest, SamplingParams  # noqa: E402
from promptcheck.backends.local import LocalParams, build_local  # noqa: E402
from promptcheck.train.finetune import finetune  # noqa: E402
from promptcheck.train.options import FinetuneOptions  # noqa: E402

#: The tiny Dolly's model recipe: hidden 128, 4 layers.
TINY_CONFIG = Path(__file__).resolve().parents[3] / "configs" / "tiny-dolly.json"

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(
        not torch.cuda.is_available(),
        reason="needs a CUDA GPU (benchmarks/gpu_check.py runs these on a lent one)",
    ),
]


def options(data: Path, out: Path, **changes: Any) -> FinetuneOptions:
    base = FinetuneOptions(data=data, out=out, batch_size=8, lr=3e-3, warmup_steps=2,
                           eval_fraction=0.05, progress=False, bf16=True)  # fmt: skip
    return replace(base, **changes)


def trained_on_the_gpu(train: Any) -> Any:
    """Run ``train`` and check that it used the GPU's memory."""
    torch.cuda.reset_peak_memory_stats()
    result = train()
    assert torch.cuda.max_memory_allocated() > 0
    return result


def test_bf16_training_on_cuda_lowers_the_loss_and_the_result_samples_there(
    tmp_path: Path, data_file: Path
) -> None:
    result = trained_on_the_gpu(
        lambda: finetune(options(data_file, tmp_path / "out", init=TINY_CONFIG, steps=30))
    )
    assert result.first_eval_loss is not None and result.eval_loss is not None
    assert result.eval_loss < result.first_eval_loss - 0.5
    assert result.steps == 30 and result.tokens_per_s > 0

    backend = build_local(
        LocalParams(path=str(tmp_path / "out"), device="cuda"), BackendContext(tmp_path)
    )
    request = GenerationRequest(
        prompt="Is 12 an even number? Answer with YES or NO only.",
        messages=None,
        params=SamplingParams(temperature=0.8, max_tokens=8),
        seeds=(1, 2, 3),
    )
    generations = asyncio.run(asyncio.wait_for(backend.generate(request), timeout=120))
    assert [g.error for g in generations] == [None, None, None]


def test_lora_bf16_training_on_cuda_saves_an_adapter_and_a_merged_model(
    tmp_path: Path, data_file: Path, records: Any
) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    from promptcheck.train.tokenizer import corpus_texts, train_tokenizer

    base = tmp_path / "base"
    tokenizer = train_tokenizer(corpus_texts(records), vocab_size=397, dolly_tokens=False)
    torch.manual_seed(0)
    settings = {**json.loads(TINY_CONFIG.read_text()), "vocab_size": len(tokenizer)}
    AutoModelForCausalLM.from_config(AutoConfig.for_model(**settings)).save_pretrained(base)
    tokenizer.save_pretrained(base)

    result = trained_on_the_gpu(
        lambda: finetune(
            options(data_file, tmp_path / "out", base=base, steps=8, lr=1e-2, lora=True)
        )
    )
    assert result.trainable_parameters < result.parameters / 3
    assert (tmp_path / "out" / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert merged.get_input_embeddings().weight.shape[0] == 400
