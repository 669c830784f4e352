"""Outputs kept once per distinct text, cut to the store's cap and read back with a marker."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from promptcheck.backends.base import Generation
from promptcheck.config import MAX_STORED_OUTPUT_CHARS
from promptcheck.results import CaseResult, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import RunInfo, Store
from promptcheck.store.texts import cut_marker, shown_text, text_digest, text_row

RUN = "run-texts"
TEN_MIB = 10 * 2**20


def make_case(outputs: list[str | None], case_id: str = "case") -> CaseResult:
    samples = tuple(
        SampleOutcome(index, 0, {}, "prompt", index, output, error=None if output else "failed")
        for index, output in enumerate(outputs)
    )
    verdict = ThresholdVerdict(Outcome.PASS, 1, 1, 0.9, 0.05, (0.1, 1.0), "")
    return CaseResult("suite", "suite.yaml", case_id, "model", samples, verdict)


def open_store(path: Path, max_output_chars: int | None = None) -> Store:
    store = Store(path, max_output_chars=max_output_chars)
    store.create_run(RunInfo(RUN, "session", "model", {}, 0.0))
    return store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(tmp_path / "p.db") as opened:
        yield opened


def texts(path: Path) -> list[tuple[str, int]]:
    """The ``texts`` table as (stored text, full length) rows."""
    with closing(sqlite3.connect(path)) as raw:
        return raw.execute("SELECT text, length FROM texts ORDER BY id").fetchall()


# -- the texts module --------------------------------------------------------------------------


def test_a_row_keeps_the_digest_and_length_of_the_whole_text() -> None:
    text = "naïve 🔥\x00" * 3
    row = text_row(text, 5)
    assert row.sha256 == hashlib.sha256(text.encode()).hexdigest() == text_digest(text)
    assert (row.text, row.length, row.cut) == ("naïve", 24, True)
    assert text_row(text, 24) == text_row(text, 1000)
    assert not text_row(text, 24).cut


def test_a_lone_surrogate_is_hashed_rather_than_refused() -> None:
    assert len(text_digest("\ud800")) == 64


def test_a_cut_text_reads_back_with_what_was_left_out() -> None:
    assert cut_marker(9_900_000) == "\n[... 9,900,000 more characters not stored]"
    assert shown_text("abc", 3) == "abc"
    assert shown_text("abc", 1_003) == "abc\n[... 1,000 more characters not stored]"


# -- the store ---------------------------------------------------------------------------------


def test_twenty_samples_of_a_10_mib_output_are_stored_once_and_cut(store: Store) -> None:
    output = "x" * TEN_MIB
    store.record_case(RUN, make_case([output] * 20))
    store.cache_generations([(f"key-{n}", Generation(output)) for n in range(20)])

    assert texts(store.path) == [("x" * MAX_STORED_OUTPUT_CHARS, TEN_MIB)]
    left_out = TEN_MIB - MAX_STORED_OUTPUT_CHARS
    expected = "x" * MAX_STORED_OUTPUT_CHARS + f"\n[... {left_out:,} more characters not stored]"
    (case,) = store.case_results(RUN)
    assert [sample.output for sample in case.samples] == [expected] * 20
    assert store.cached_generations([f"key-{n}" for n in range(20)]) == {}  # too long to cache

    samples = store.export_run(RUN)["cases"][0]["samples"]
    assert {(s["output_length"], s["output_truncated"]) for s in samples} == {(TEN_MIB, True)}
    # the file and its WAL: 420 MB before schema 3 (20 samples and 20 cache rows of 10 MiB)
    assert sum(path.stat().st_size for path in store.path.parent.iterdir()) < 2**20


def test_the_cap_is_configurable_and_counts_characters(tmp_path: Path) -> None:
    with open_store(tmp_path / "p.db", max_output_chars=6) as store:
        store.record_case(RUN, make_case(["naïve 🔥\x00x", "short", None]))
        (case,) = store.case_results(RUN)
        samples = store.export_run(RUN)["cases"][0]["samples"]
    assert [sample.output for sample in case.samples] == [
        "naïve \n[... 3 more characters not stored]",
        "short",
        None,
    ]
    assert [(s["output_length"], s["output_truncated"]) for s in samples] == [
        (9, True),
        (5, False),
        (None, False),
    ]


def test_an_output_within_the_cap_is_cached_and_one_beyond_it_is_not(tmp_path: Path) -> None:
    with open_store(tmp_path / "p.db", max_output_chars=4) as store:
        store.cache_generations([("fits", Generation("four")), ("long", Generation("fives"))])
        assert store.cached_generations(["fits", "long"]) == {"fits": Generation("four")}


def test_one_text_is_shared_by_samples_cases_and_the_cache(store: Store) -> None:
    store.record_case(RUN, make_case(["same", "same", "other", None], "a"))
    store.record_case(RUN, make_case(["same"], "b"))
    store.cache_generations([("k1", Generation("same")), ("k2", Generation("other"))])
    assert sorted(texts(store.path)) == [("other", 5), ("same", 4)]
    cases = {case.case_id: case for case in store.case_results(RUN)}
    assert [s.output for s in cases["a"].samples] == ["same", "same", "other", None]
    assert [s.output for s in cases["b"].samples] == ["same"]
    assert store.cached_generations(["k1", "k2"]) == {
        "k1": Generation("same"),
        "k2": Generation("other"),
    }


def test_a_larger_cap_later_stores_more_and_a_smaller_one_never_less(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    text = "0123\x00" * 4  # a NUL inside: the longer prefix still wins
    with open_store(path, max_output_chars=7) as store:
        store.record_case(RUN, make_case([text]))
    assert texts(path) == [(text[:7], 20)]
    with open_store(path, max_output_chars=3) as store:
        store.record_case(RUN, make_case([text], "smaller"))
    assert texts(path) == [(text[:7], 20)]
    with open_store(path, max_output_chars=100) as store:
        store.cache_generations([("k", Generation(text))])
        # the first sample was recorded cut; the same text is now stored whole, so it reads whole
        assert [case.samples[0].output for case in store.case_results(RUN)] == [text, text]
        assert store.cached_generations(["k"]) == {"k": Generation(text)}
    assert texts(path) == [(text, 20)]


def test_a_cap_below_one_character_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1, not 0"):
        Store(tmp_path / "p.db", max_output_chars=0)
