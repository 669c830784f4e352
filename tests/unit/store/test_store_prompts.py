"""Prompts kept once per distinct text: a long prompt drawn many times is one row, read whole."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from promptcheck.backends.base import Generation
from promptcheck.results import CaseResult, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import RunInfo, Store

RUN = "run-prompts"
#: Larger than the output cap: prompts are never cut.
CONTEXT = "Context: " + "the quick brown fox jumps. " * 12_000


def make_case(prompts: list[str], case_id: str = "case", samples: int = 200) -> CaseResult:
    """``samples`` samples spread over ``prompts`` (one per combination), Dolly-formatted."""
    drawn = tuple(
        SampleOutcome(
            index,
            index % len(prompts),
            {"n": index % len(prompts)},
            prompts[index % len(prompts)],
            index,
            f"answer {index % 3}",
            formatted_prompt=f"### Instruction:\n{prompts[index % len(prompts)]}\n",
            cache_key=f"{case_id}-{index}",
        )
        for index in range(samples)
    )
    verdict = ThresholdVerdict(Outcome.PASS, samples, samples, 0.9, 0.05, (0.9, 1.0), "")
    return CaseResult("suite", "suite.yaml", case_id, "model", drawn, verdict)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "p.db", max_output_chars=1_000) as opened:
        opened.create_run(RunInfo(RUN, "session", "model", {}, 0.0))
        yield opened


def prompt_rows(store: Store) -> list[int]:
    """The length of each stored prompt text."""
    with closing(sqlite3.connect(store.path)) as raw:
        return [length for (length,) in raw.execute("SELECT length(text) FROM prompts")]


def test_a_long_prompt_drawn_200_times_is_stored_once_and_read_back_whole(store: Store) -> None:
    case = make_case([f"{CONTEXT}\nSummarise."])
    store.record_case(RUN, case)
    (read,) = store.case_results(RUN)
    assert read == case
    # the prompt and its formatted form, whole (longer than the output cap of 1,000)
    assert sorted(prompt_rows(store)) == [len(CONTEXT) + 11, len(CONTEXT) + 29]
    written = sum(path.stat().st_size for path in store.path.parent.iterdir())
    assert written < 3 * len(CONTEXT)  # 200 copies of each would be 400 times as much


def test_prompts_are_shared_by_cases_runs_and_the_cache(store: Store) -> None:
    prompts = [f"{CONTEXT}\nQuestion {n}" for n in range(2)]
    store.record_case(RUN, make_case(prompts))
    store.record_case(RUN, make_case(prompts, case_id="other"))
    store.create_run(RunInfo("second", "session-2", "model", {}, 1.0))
    store.record_case("second", make_case(prompts))
    cached = {
        sample.cache_key: Generation(sample.output, formatted_prompt=sample.formatted_prompt)
        for sample in make_case(prompts).samples
    }
    store.cache_generations(list(cached.items()))
    assert len(prompt_rows(store)) == 4  # two prompts, two formatted forms
    assert store.cached_generations(list(cached)) == cached
    assert [case.case_id for case in store.case_results(RUN)] == ["case", "other"]


def test_a_case_recorded_again_reads_its_new_prompts(store: Store) -> None:
    store.record_case(RUN, make_case(["first prompt"], samples=3))
    again = make_case(["second prompt"], samples=3)
    store.record_case(RUN, again)
    assert store.case_results(RUN) == [again]


def test_samples_without_a_formatted_prompt_read_back_without_one(store: Store) -> None:
    case = make_case(["a prompt"], samples=2)
    bare = dataclasses.replace(
        case,
        samples=tuple(
            dataclasses.replace(s, formatted_prompt=None, output=None, error="down")
            for s in case.samples
        ),
    )
    store.record_case(RUN, bare)
    store.cache_generations([("no-prompt", Generation("text"))])
    assert store.case_results(RUN) == [bare]
    assert store.cached_generations(["no-prompt"]) == {"no-prompt": Generation("text")}
    assert prompt_rows(store) == [8]
