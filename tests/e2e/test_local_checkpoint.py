"""A Dolly v2 layout checkpoint (real tokenizer, legacy config.json, bfloat16 shards) built on
disk, found through the backend registry as a suite names it, and sampled concurrently."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/checkpoints.py

from checkpoints import (
    DOLLY_SPECIAL_IDS,
    build_dolly_checkpoint,
    neox_tokenizer,
)

import promptcheck.backends.local  # noqa: F401  (registers `local`)
from promptcheck.backends.base import (
    BACKENDS,
    BackendContext,
    GenerationRequest,
    Message,
    SamplingParams,
)
from promptcheck.formats import DOLLY_SPECIAL_TOKENS, dolly_prompt


def build_from_suite_settings(settings: dict[str, Any], base_dir: Path) -> Any:
    entry = BACKENDS.get("local")
    return entry.build(entry.params.model_validate(settings), BackendContext(base_dir=base_dir))


def run_all(backend: Any, requests: list[GenerationRequest]) -> list[list[Any]]:
    async def together() -> list[list[Any]]:
        return [list(g) for g in await asyncio.gather(*(backend.generate(r) for r in requests))]

    return asyncio.run(together())


def test_scripted_dolly_checkpoint_answers_every_prompt_as_dolly_would(tmp_path: Path) -> None:
    tokenizer = neox_tokenizer()
    assert tokenizer.convert_tokens_to_ids(list(DOLLY_SPECIAL_TOKENS)) == list(DOLLY_SPECIAL_IDS)
    answer = tokenizer('{"colour": "red"}\n\n')["input_ids"]
    assert len(set(answer)) == len(answer)  # a bigram script needs distinct tokens
    chain = [DOLLY_SPECIAL_IDS[2], *answer, DOLLY_SPECIAL_IDS[0], *tokenizer(" junk")["input_ids"]]
    import torch

    build_dolly_checkpoint(
        tmp_path / "models" / "tiny-dolly", chain=chain, dtype=torch.bfloat16, max_shard_size="2MB"
    )
    backend = build_from_suite_settings({"path": "models/tiny-dolly"}, tmp_path)
    assert (backend.format, backend.device, backend.dtype) == ("dolly", "cpu", "float32")

    params = SamplingParams(temperature=0.8, top_p=0.92, max_tokens=64)
    requests = [
        GenerationRequest("Name three colours.", None, params, tuple(range(16))),
        GenerationRequest(
            None,
            (Message("system", "Answer with lettered options."), Message("user", "Colours?")),
            params,
            tuple(range(16, 32)),
        ),
        GenerationRequest(
            "Pick colours from the text.",
            None,
            SamplingParams(temperature=0.8, max_tokens=64, extra={"context": "red, blue, green"}),
            (99,),
        ),
    ]
    results = run_all(backend, requests)
    assert [len(r) for r in results] == [16, 16, 1]
    expected_prompts = [
        dolly_prompt("Name three colours."),
        dolly_prompt("Answer with lettered options.\n\nColours?"),
        dolly_prompt("Pick colours from the text.", "red, blue, green"),
    ]
    for generations, prompt in zip(results, expected_prompts, strict=True):
        for generation in generations:
            assert generation.error is None
            assert generation.text == '{"colour": "red"}'
            assert generation.formatted_prompt == prompt
            assert generation.finish_reason == "stop"
            assert generation.completion_tokens == len(answer) + 1


def test_samples_are_reproducible_across_sessions(tmp_path: Path) -> None:
    """Two backends built from the same checkpoint (as two pytest sessions would) agree per seed,
    whatever the other requests awaited with them."""
    build_dolly_checkpoint(tmp_path / "random-dolly", seed=3)
    params = SamplingParams(temperature=1.0, max_tokens=12)
    first = build_from_suite_settings({"path": "random-dolly", "max_batch_size": 5}, tmp_path)
    second = build_from_suite_settings({"path": "random-dolly"}, tmp_path)
    alone = run_all(first, [GenerationRequest("Hi.", None, params, (5, 6, 7, 8, 9, 10, 11))])[0]
    batched = run_all(
        second,
        [
            GenerationRequest("Something else entirely, and longer.", None, params, (1, 2)),
            GenerationRequest("Hi.", None, params, (5, 6, 7, 8, 9, 10, 11)),
        ],
    )[1]
    assert [g.text for g in alone] == [g.text for g in batched]
    assert len({g.text for g in alone}) == 7
