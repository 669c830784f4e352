"""The sampler's row observers (what ``promptcheck serve`` streams from): they see every row's
ids as they are generated, may end their own rows, and can never break a batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from promptcheck.backends.sampler import SampleJob, Sampler  # noqa: E402

PROMPT = (3, 14, 15, 9, 2)
OTHER = (27, 18)


@pytest.fixture(scope="module")
def sampler() -> Sampler:
    config = transformers.GPTNeoXConfig(
        vocab_size=40,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
        rotary_pct=0.25,
        initializer_range=0.3,
        bos_token_id=None,
        eos_token_id=None,
    )
    torch.manual_seed(3)
    return Sampler(transformers.GPTNeoXForCausalLM(config).eval())


class Recorder:
    """Keeps what it is told; declines tokens past ``stop_after`` and raises if ``broken``."""

    def __init__(self, stop_after: int | None = None, broken: bool = False) -> None:
        self.seen: dict[int, list[list[int]]] = {}
        self.finished: dict[int, tuple[list[int], str]] = {}
        self.stop_after = stop_after
        self.broken = broken

    def token(self, row: int, token_ids: Sequence[int]) -> bool:
        if self.broken:
            raise RuntimeError("a stream bug")
        self.seen.setdefault(row, []).append(list(token_ids))
        return self.stop_after is None or len(token_ids) < self.stop_after

    def finish(self, row: int, token_ids: Sequence[int], reason: str) -> None:
        self.finished[row] = (list(token_ids), reason)


def job(prompt: tuple[int, ...], seeds: tuple[int, ...], **kwargs: Any) -> SampleJob:
    return SampleJob(prompt_ids=prompt, seeds=seeds, max_new_tokens=10, **kwargs)


def test_an_observer_sees_each_row_grow_and_end(sampler: Sampler) -> None:
    recorder = Recorder()
    seeds = (1, 2, 3)
    watched, plain = sampler.sample(
        [job(PROMPT, seeds, observer=recorder, stop_token_ids=frozenset({7})), job(OTHER, (9,))]
    )
    for row, sampled in enumerate(watched):
        steps = recorder.seen[row]
        # every step but the last (which is reported by finish) shows one more id
        assert steps == [sampled.token_ids[: k + 1] for k in range(len(steps))]
        assert recorder.finished[row] == (sampled.token_ids, sampled.finish_reason)
        assert len(steps) == len(sampled.token_ids) - 1
    assert len(plain) == 1 and set(recorder.finished) == {0, 1, 2}


def test_observing_does_not_change_the_samples(sampler: Sampler) -> None:
    jobs = [job(PROMPT, (4, 5)), job(OTHER, (6,))]
    observed = [job(PROMPT, (4, 5), observer=Recorder()), job(OTHER, (6,))]
    assert [[r.token_ids for r in rows] for rows in sampler.sample(jobs)] == [
        [r.token_ids for r in rows] for rows in sampler.sample(observed)
    ]


def test_an_observer_that_declines_ends_only_its_rows(sampler: Sampler) -> None:
    quitter = Recorder(stop_after=3)
    cut, whole = sampler.sample([job(PROMPT, (1, 2), observer=quitter), job(OTHER, (5, 6))])
    assert [len(r.token_ids) for r in cut] == [3, 3]
    assert {reason for _, reason in quitter.finished.values()} == {"length"}
    assert [len(r.token_ids) for r in whole] == [10, 10]


def test_an_observer_that_raises_never_breaks_the_batch(sampler: Sampler) -> None:
    broken = Recorder(broken=True)
    expected = sampler.sample([job(PROMPT, (1, 2)), job(OTHER, (5,))])
    got = sampler.sample([job(PROMPT, (1, 2), observer=broken), job(OTHER, (5,))])
    assert [[r.token_ids for r in rows] for rows in got] == [
        [r.token_ids for r in rows] for rows in expected
    ]
    assert broken.finished == {}  # dropped at its first failure
