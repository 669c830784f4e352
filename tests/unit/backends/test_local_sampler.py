"""The batched sampler: KV-cache handling against transformers' own generation, the sampling
distribution, and reproducibility of a sample from its seed whatever shares its batch."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from promptcheck.backends.sampler import (  # noqa: E402
    SampleJob,
    Sampler,
    inverse_cdf,
    nucleus_inverse_cdf,
    row_uniforms,
)
from promptcheck.errors import BackendError  # noqa: E402

VOCAB = 48


@pytest.fixture(scope="module")
def model() -> Any:
    """A small GPT-NeoX with random, fairly peaked weights (so samples differ and matter)."""
    config = transformers.GPTNeoXConfig(
        vocab_size=VOCAB,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=256,
        rotary_pct=0.25,
        initializer_range=0.3,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(1)
    return transformers.GPTNeoXForCausalLM(config).eval()


PROMPT_A = (3, 14, 15, 9, 2, 6, 5)
PROMPT_B = (27, 18, 28)


def job(prompt: tuple[int, ...], seeds: range | tuple[int, ...], **kwargs: Any) -> SampleJob:
    kwargs.setdefault("max_new_tokens", 12)
    return SampleJob(prompt_ids=prompt, seeds=tuple(seeds), **kwargs)


def tokens(rows: list[Any]) -> list[list[int]]:
    return [row.token_ids for row in rows]


# -- noise and sampling functions -------------------------------------------------------------


def test_row_uniforms_are_a_pure_function_of_seed_and_step() -> None:
    u = row_uniforms([0, 1, 2**70 + 5, -3], 16)
    assert u.shape == (4, 16) and u.dtype.name == "float32"
    assert (u >= 0).all() and (u < 1).all()
    assert (row_uniforms([1], 40)[0, :16] == u[1]).all()  # a longer run extends the stream
    assert (row_uniforms([-3, 0], 16) == u[[3, 0]]).all()  # other rows do not matter
    assert len({tuple(r) for r in u.tolist()}) == 4
    many = row_uniforms(range(2000), 8).ravel()
    assert abs(float(many.mean()) - 0.5) < 0.01


def test_inverse_cdf_reproduces_the_distribution_and_never_picks_impossible_tokens() -> None:
    probs = torch.tensor([0.1, 0.0, 0.6, 0.3, 0.0])
    grid = (torch.arange(10_000) + 0.5) / 10_000
    picked = inverse_cdf(probs.expand(len(grid), -1), grid)
    frequencies = torch.bincount(picked, minlength=5).float() / len(grid)
    assert torch.allclose(frequencies, probs, atol=1e-3)
    edge = torch.tensor([0.0, 1 - 2**-24])
    assert inverse_cdf(probs.expand(2, -1), edge).tolist() == [0, 3]


def test_nucleus_keeps_what_transformers_top_p_keeps() -> None:
    from transformers.generation.logits_process import TopPLogitsWarper

    torch.manual_seed(0)
    logits = torch.randn(64, VOCAB) * 2
    probs = torch.softmax(logits, dim=-1)
    for top_p in (0.3, 0.8, 0.95):
        allowed = TopPLogitsWarper(top_p)(None, logits.clone()).isfinite()
        grid = torch.linspace(0, 1 - 2**-24, 257)
        for u in grid:
            picked = nucleus_inverse_cdf(probs, torch.full((64,), top_p), u.expand(64))
            assert allowed.gather(1, picked.unsqueeze(1)).all()
        # and every allowed token is reachable
        reached = torch.zeros_like(allowed)
        for u in grid:
            picked = nucleus_inverse_cdf(probs, torch.full((64,), top_p), u.expand(64))
            reached.scatter_(1, picked.unsqueeze(1), True)
        assert (reached == allowed).all()


def test_first_token_frequencies_follow_the_tempered_softmax(model: Any) -> None:
    sampler = Sampler(model, max_batch_size=512)
    rows = sampler.sample([job(PROMPT_A, range(3000), temperature=0.7, max_new_tokens=1)])[0]
    counts = torch.bincount(torch.tensor([r.token_ids[0] for r in rows]), minlength=VOCAB)
    with torch.inference_mode():
        logits = model(torch.tensor([PROMPT_A])).logits[0, -1]
    expected = torch.softmax(logits / 0.7, dim=-1)
    total_variation = 0.5 * (counts.float() / 3000 - expected).abs().sum()
    assert total_variation < 0.06


# -- the decode loop against transformers -------------------------------------------------------


def hf_greedy(model: Any, prompt: tuple[int, ...], new_tokens: int) -> list[int]:
    with torch.inference_mode():
        output = model.generate(
            torch.tensor([prompt]),
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
            do_sample=False,
            max_new_tokens=new_tokens,
            pad_token_id=0,
        )
    return [int(t) for t in output[0, len(prompt) :]]


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "transformers-cache"])
def test_greedy_rows_equal_transformers_generate_with_left_padding(
    model: Any, buffered: bool
) -> None:
    sampler = Sampler(model, max_batch_size=8, buffered=buffered)
    rows = sampler.sample(
        [
            job(PROMPT_A, (0, 1), temperature=0.0, max_new_tokens=16),
            job(PROMPT_B, (2,), temperature=0.0, max_new_tokens=16),
        ]
    )
    assert tokens(rows[0]) == [hf_greedy(model, PROMPT_A, 16)] * 2
    assert tokens(rows[1]) == [hf_greedy(model, PROMPT_B, 16)]
    assert all(r.finish_reason == "length" for rs in rows for r in rs)


def test_buffered_and_transformers_cache_paths_sample_the_same(model: Any) -> None:
    jobs = [job(PROMPT_A, range(6), temperature=1.0), job(PROMPT_B, range(6, 9), top_p=0.9)]
    fast = Sampler(model, max_batch_size=16, buffered=True).sample(jobs)
    slow = Sampler(model, max_batch_size=16, buffered=False).sample(jobs)
    assert [tokens(r) for r in fast] == [tokens(r) for r in slow]


def test_samples_are_reproducible_and_differ_between_seeds(model: Any) -> None:
    sampler = Sampler(model)
    first = sampler.sample([job(PROMPT_A, range(8), temperature=1.0)])[0]
    again = sampler.sample([job(PROMPT_A, range(8), temperature=1.0)])[0]
    assert tokens(first) == tokens(again)
    assert len({tuple(t) for t in tokens(first)}) > 4


def test_a_sample_does_not_depend_on_what_shares_its_batch(model: Any) -> None:
    """Same seed, same tokens: alone, beside another prompt (padded), chunked, compacted."""
    alone = tokens(Sampler(model, max_batch_size=64).sample([job(PROMPT_B, (7, 8, 9))])[0])
    mixed = Sampler(model, max_batch_size=64).sample(
        [
            job(PROMPT_A, range(5), max_new_tokens=3),  # finishes early: the batch is compacted
            job(PROMPT_B, (7, 8, 9)),
            job(PROMPT_A, (40,), top_p=0.5, temperature=0.0),
        ]
    )
    assert tokens(mixed[1]) == alone
    chunked = Sampler(model, max_batch_size=2).sample(
        [job(PROMPT_A, (1,)), job(PROMPT_B, (7, 8, 9))]
    )
    assert tokens(chunked[1]) == alone
    reordered = Sampler(model).sample([job(PROMPT_B, (9, 8, 7))])[0]
    assert tokens(reordered) == alone[::-1]


def test_a_longer_max_tokens_extends_the_same_sample(model: Any) -> None:
    short = Sampler(model).sample([job(PROMPT_A, (5,), max_new_tokens=4)])[0][0]
    long = Sampler(model).sample([job(PROMPT_A, (5,), max_new_tokens=12)])[0][0]
    assert long.token_ids[:4] == short.token_ids


def test_rows_stop_at_stop_tokens(model: Any) -> None:
    free = tokens(Sampler(model).sample([job(PROMPT_A, range(16), temperature=1.0)])[0])
    common = max(range(VOCAB), key=lambda t: sum(row.count(t) for row in free))
    rows = Sampler(model).sample(
        [job(PROMPT_A, range(16), temperature=1.0, stop_token_ids=frozenset({common}))]
    )[0]
    for row, unrestricted in zip(rows, free, strict=True):
        if common in unrestricted:
            cut = unrestricted.index(common) + 1
            assert row.token_ids == unrestricted[:cut] and row.finish_reason == "stop"
        else:
            assert row.token_ids == unrestricted and row.finish_reason == "length"
    assert any(r.finish_reason == "stop" for r in rows)


def test_rows_stop_at_stop_strings(model: Any) -> None:
    def decode(ids: Any) -> str:
        return "".join(f"<{i}>" for i in ids)

    free = tokens(Sampler(model).sample([job(PROMPT_A, range(8), temperature=1.0)])[0])
    pair = f"<{free[0][2]}><{free[0][3]}>"
    rows = Sampler(model, decode=decode).sample(
        [job(PROMPT_A, range(8), temperature=1.0, stop_strings=(pair,))]
    )[0]
    assert rows[0].token_ids == free[0][:4] and rows[0].finish_reason == "stop"
    for row, unrestricted in zip(rows, free, strict=True):
        assert unrestricted[: len(row.token_ids)] == row.token_ids


def test_zero_new_tokens_gives_empty_rows(model: Any) -> None:
    rows = Sampler(model).sample([job(PROMPT_A, (1, 2), max_new_tokens=0)])[0]
    assert [(r.token_ids, r.finish_reason) for r in rows] == [([], "length"), ([], "length")]


@pytest.mark.parametrize(
    "exhaustion",
    [
        lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        lambda: RuntimeError("MPS backend out of memory (MPS allocated: 9 GB)"),
    ],
    ids=["cuda", "mps"],
)
def test_out_of_memory_becomes_a_backend_error_with_a_hint(
    model: Any, monkeypatch: pytest.MonkeyPatch, exhaustion: Any
) -> None:
    sampler = Sampler(model, max_batch_size=32, name="checkpoint /models/x")

    def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise exhaustion()

    monkeypatch.setattr(sampler, "forward", exhausted)
    with pytest.raises(BackendError, match="checkpoint /models/x") as caught:
        sampler.sample([job(PROMPT_A, range(4))])
    assert "max_batch_size" in str(caught.value) and "32" in str(caught.value)


def test_latency_is_measured_per_row(model: Any) -> None:
    rows = Sampler(model).sample(
        [job(PROMPT_A, (1,), max_new_tokens=2), job(PROMPT_A, (2,), max_new_tokens=20)]
    )
    assert 0 < rows[0][0].latency_s <= rows[1][0].latency_s


def test_rows_without_room_beside_rows_with_room(model: Any) -> None:
    rows = Sampler(model).sample([job(PROMPT_A, (1,), max_new_tokens=0), job(PROMPT_B, (2,))])
    assert rows[0][0].token_ids == [] and len(rows[1][0].token_ids) == 12


def test_jobs_need_a_prompt(model: Any) -> None:
    with pytest.raises(ValueError, match="prompt token"):
        Sampler(model).sample([job((), (1,))])


def test_other_runtime_errors_are_not_disguised_as_memory_errors(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    sampler = Sampler(model)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("shape mismatch")

    monkeypatch.setattr(sampler, "forward", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        sampler.sample([job(PROMPT_A, (1,))])


def test_nucleus_sample_does_not_depend_on_how_its_cutoff_was_found() -> None:
    torch.manual_seed(2)
    peaked = torch.softmax(torch.randn(32, VOCAB) * 4, dim=-1)  # nucleus of a few tokens
    flat = torch.softmax(torch.randn(32, VOCAB) * 0.1, dim=-1)  # nucleus of most tokens
    probs = torch.cat([peaked, flat])
    top_p = torch.rand(64) * 0.98 + 0.01
    uniforms = torch.rand(64)
    reference = nucleus_inverse_cdf(probs, top_p, uniforms, candidates=())  # full sort
    for candidates in ((2,), (4, 16), (64, 1024)):
        assert torch.equal(nucleus_inverse_cdf(probs, top_p, uniforms, candidates), reference)
