"""The SQLite run store: round trips, replacement, the cache, run lookup, safety and concurrency."""

from __future__ import annotations

import json
import multiprocessing
import re
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import closing
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptcheck.backends.base import Generation
from promptcheck.checks.base import Status
from promptcheck.errors import StoreError
from promptcheck.results import CaseResult, CheckOutcome, CheckTally, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import (
    SCHEMA_VERSION,
    RunInfo,
    RunStatus,
    RunSummary,
    Store,
    redact_secrets,
)

RUN = "20260101-120000-abcdef"


def make_run(run_id: str = RUN, **changes: Any) -> RunInfo:
    fields: dict[str, Any] = {
        "id": run_id,
        "session": "session-1",
        "model": "tiny-dolly",
        "model_spec": {"backend": "local", "path": "models/tiny-dolly"},
        "started_at": 1_700_000_000.0,
        "versions": {"promptcheck": "0.1.0", "python": "3.11.7"},
        "suites": {"suites/triage.yaml": "ab" * 32},
    }
    fields.update(changes)
    return RunInfo(**fields)


def make_case(
    case_id: str = "ticket-json",
    *,
    model: str = "tiny-dolly",
    samples: int = 4,
    outcome: Outcome = Outcome.PASS,
    suite_path: str = "suites/triage.yaml",
    output: str = "A) one B) two C) three",
) -> CaseResult:
    """A case with every field set, including an errored sample and unscored checks."""
    outcomes = []
    for index in range(samples):
        variables = {"ticket": f"printer {index} is on fire 🔥", "meta": {"n": index, "ok": True}}
        if index == 1:
            outcomes.append(
                SampleOutcome(
                    index=index,
                    combination=index % 2,
                    variables=variables,
                    prompt=f"Classify ticket {index}",
                    seed=2**63 - 1 - index,
                    output=None,
                    error="backend timed out",
                    latency_s=30.0,
                    cache_key=f"key-{case_id}-{index}",
                )
            )
            continue
        checks = (
            CheckOutcome(0, "regex", Status.PASS, "matched", 1.0),
            CheckOutcome(1, "json_schema", Status.FAIL if index == 2 else Status.PASS, "bad"),
            CheckOutcome(2, "judge", Status.UNSCORED, "judge said 'maybe'", None),
        )
        outcomes.append(
            SampleOutcome(
                index=index,
                combination=index % 2,
                variables=variables,
                prompt=f"Classify ticket {index}",
                seed=index,
                output=f"{output} #{index}",
                checks=checks,
                formatted_prompt=f"### Instruction:\nClassify ticket {index}\n\n### Response:\n",
                prompt_tokens=12,
                completion_tokens=7,
                latency_s=0.25,
                cached=index % 2 == 0,
                cache_key=f"key-{case_id}-{index}",
            )
        )
    verdict = ThresholdVerdict(
        outcome, 2, 3, 0.95, 0.05, (0.0943, 0.9916), "2/3 cannot tell; draw more samples"
    )
    return CaseResult(
        suite="support-triage",
        suite_path=suite_path,
        case_id=case_id,
        model=model,
        samples=tuple(outcomes),
        verdict=verdict,
        tallies=(
            CheckTally(0, "regex", 3),
            CheckTally(1, "json_schema", 2, 1),
            CheckTally(2, "judge", unscored=3),
        ),
        tags=("smoke", "critical"),
        properties={"owner": "support", "weights": [1, 2.5, None]},
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "store" / "promptcheck.db") as opened:
        opened.create_run(make_run())
        yield opened


def count_rows(path: Path, table: str) -> int:
    with closing(sqlite3.connect(path)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# -- case results ------------------------------------------------------------------------------


def test_case_result_round_trips_exactly(store: Store) -> None:
    case = make_case()
    store.record_case(RUN, case)
    assert store.case_results(RUN) == [case]


def test_case_results_come_back_ordered_and_empty_runs_have_none(store: Store) -> None:
    store.create_run(make_run("other"))
    assert store.case_results("other") == []
    for case_id in ("b", "a", "c"):
        store.record_case(RUN, make_case(case_id))
    assert [case.case_id for case in store.case_results(RUN)] == ["a", "b", "c"]


def test_rerecording_a_case_replaces_it_and_leaves_no_orphans(store: Store) -> None:
    store.record_case(RUN, make_case("keep", samples=2))
    store.record_case(RUN, make_case("redo", samples=5, outcome=Outcome.FAIL))
    replacement = make_case("redo", samples=3, outcome=Outcome.PASS, output="second try")
    store.record_case(RUN, replacement)

    results = {case.case_id: case for case in store.case_results(RUN)}
    assert results == {"keep": make_case("keep", samples=2), "redo": replacement}
    assert count_rows(store.path, "cases") == 2
    assert count_rows(store.path, "samples") == 2 + 3
    assert count_rows(store.path, "check_results") == 3 * (1 + 2)  # sample 1 errored: no checks
    summary = store.run(RUN)
    assert (summary.cases, summary.samples, summary.passed, summary.failed) == (2, 5, 2, 0)


def test_same_case_on_two_models_is_two_records(store: Store) -> None:
    store.record_case(RUN, make_case(model="tiny-dolly"))
    store.record_case(RUN, make_case(model="gpt"))
    assert [case.model for case in store.case_results(RUN)] == ["gpt", "tiny-dolly"]


def test_recording_into_an_unknown_run_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.record_case("nope", make_case())
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.case_results("nope")


def test_export_is_json_ready_and_complete(store: Store) -> None:
    store.record_case(RUN, make_case())
    exported = store.export_run(RUN)
    assert json.loads(json.dumps(exported)) == exported
    assert exported["schema_version"] == SCHEMA_VERSION
    assert exported["run"]["id"] == RUN
    assert exported["run"]["suites"] == {"suites/triage.yaml": "ab" * 32}
    (case,) = exported["cases"]
    assert case["verdict"]["outcome"] == "pass"
    assert case["verdict"]["rate"] == pytest.approx(2 / 3)
    assert case["verdict"]["interval"] == [0.0943, 0.9916]
    assert [sample["status"] for sample in case["samples"]] == [
        "unscored",
        "error",
        "fail",
        "unscored",
    ]
    assert case["samples"][0]["checks"][2] == {
        "index": 2,
        "label": "judge",
        "status": "unscored",
        "reason": "judge said 'maybe'",
        "score": None,
    }
    assert case["tallies"][1] == {
        "index": 1,
        "label": "json_schema",
        "passed": 2,
        "failed": 1,
        "unscored": 0,
    }
    with pytest.raises(StoreError, match="no run 'missing'"):
        store.export_run("missing")


# -- generation cache --------------------------------------------------------------------------


def test_cache_hits_misses_and_errors(store: Store) -> None:
    good = Generation("A) B) C)", None, "### Instruction:\nx", 5, 6, 0.5, "stop")
    store.cache_generations(
        [
            ("good", good),
            ("failed", Generation(None, error="HTTP 500")),
            ("partial", Generation("half an answer", error="stream cut")),
        ]
    )
    assert store.cached_generations(["good", "failed", "partial", "never", "good"]) == {
        "good": good
    }
    assert store.cached_generations([]) == {}


def test_the_cache_keeps_what_served_each_generation(store: Store) -> None:
    """A cached re-run can only tell that a model changed behind its name if the cache knows
    which model and fingerprint drew each sample."""
    hosted = Generation("x", served_model="gpt-4o-2024-08-06", served_fingerprint="fp_1")
    local = Generation("y")
    store.cache_generations([("hosted", hosted), ("local", local)])
    assert store.cached_generations(["hosted", "local"]) == {"hosted": hosted, "local": local}


def test_cache_replaces_and_chunks_large_lookups(store: Store) -> None:
    store.cache_generations([("k", Generation("old"))])
    store.cache_generations([("k", Generation("new", latency_s=1.5))])
    assert store.cached_generations(["k"]) == {"k": Generation("new", latency_s=1.5)}

    items = [(f"key-{i:05d}", Generation(f"output {i}", prompt_tokens=i)) for i in range(2500)]
    store.cache_generations(items)
    wanted = [key for key, _ in items] + [f"absent-{i}" for i in range(1000)]
    assert store.cached_generations(wanted) == dict(items)


# -- runs --------------------------------------------------------------------------------------


def test_create_run_is_idempotent_and_merges(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        store.create_run(make_run(started_at=20.0, suites={"a.yaml": "1"}))
        store.create_run(
            make_run(started_at=10.0, label="nightly", git_commit="abc", suites={"b.yaml": "2"})
        )
        store.create_run(make_run(started_at=30.0, label="later", suites={"a.yaml": "1"}))
        (summary,) = store.runs()
    assert summary.started_at == 10.0
    assert (summary.label, summary.git_commit) == ("nightly", "abc")
    assert summary.suites == {"a.yaml": "1", "b.yaml": "2"}
    assert summary.versions == {"promptcheck": "0.1.0", "python": "3.11.7"}
    assert isinstance(summary, RunInfo)


def test_create_run_refuses_another_model_under_the_same_id(store: Store) -> None:
    with pytest.raises(StoreError, match="already exists for model 'tiny-dolly', not 'gpt'"):
        store.create_run(make_run(model="gpt"))


def test_finish_run_keeps_the_latest_end(store: Store) -> None:
    store.finish_run(RUN, 200.0)
    store.finish_run(RUN, 150.0)
    assert store.run(RUN).finished_at == 200.0
    with pytest.raises(StoreError, match="no run 'ghost' to finish"):
        store.finish_run("ghost", 1.0)


def test_a_run_is_running_until_closed_as_finished_or_interrupted(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        for run_id in ("done", "stopped", "killed"):
            store.create_run(make_run(run_id))
        store.finish_run("done", 10.0, RunStatus.FINISHED)
        store.finish_run("stopped", 10.0, RunStatus.INTERRUPTED)
        runs = {run.id: run for run in store.runs()}
    assert {run_id: run.status for run_id, run in runs.items()} == {
        "done": RunStatus.FINISHED,
        "stopped": RunStatus.INTERRUPTED,
        "killed": RunStatus.RUNNING,
    }
    assert {run_id: run.state for run_id, run in runs.items()} == {
        "done": "finished",
        "stopped": "interrupted",
        "killed": "unfinished",
    }


def test_an_interruption_seen_by_any_worker_sticks(store: Store) -> None:
    store.finish_run(RUN, 100.0, RunStatus.FINISHED)
    store.finish_run(RUN, 110.0, RunStatus.INTERRUPTED)
    store.finish_run(RUN, 120.0, RunStatus.FINISHED)
    store.create_run(make_run())  # a late worker joining changes nothing
    run = store.run(RUN)
    assert (run.status, run.finished_at) == (RunStatus.INTERRUPTED, 120.0)
    with pytest.raises(ValueError, match="not running"):
        store.finish_run(RUN, 130.0, RunStatus.RUNNING)


def test_a_run_recorded_before_statuses_has_an_unknown_one() -> None:
    closed = RunSummary(**asdict(make_run()), finished_at=5.0)
    assert (closed.status, closed.state) == (None, "unknown")
    assert replace(closed, finished_at=None).state == "unfinished"


def test_runs_are_listed_newest_first_with_counts(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        for number in range(5):
            store.create_run(make_run(f"run-{number}", started_at=1000.0 + number))
        store.record_case("run-3", make_case("a", outcome=Outcome.PASS))
        store.record_case("run-3", make_case("b", outcome=Outcome.FAIL, samples=2))
        store.record_case("run-3", make_case("c", outcome=Outcome.UNDECIDED))
        listed = store.runs(limit=3)
    assert [run.id for run in listed] == ["run-4", "run-3", "run-2"]
    counts = listed[1]
    assert (counts.cases, counts.samples) == (3, 10)
    assert (counts.passed, counts.failed, counts.undecided) == (1, 1, 1)
    assert listed[0] == RunSummary(
        **asdict(make_run("run-4", started_at=1004.0)), status=RunStatus.RUNNING
    )


def test_run_lookup_by_id_prefix_and_label(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store:
        store.create_run(make_run("abc111", started_at=1.0, label="baseline"))
        store.create_run(make_run("abc222", started_at=2.0, label="baseline"))
        store.create_run(make_run("abd333", started_at=3.0, label="abc"))
        store.create_run(make_run("xyz", started_at=4.0))
        store.create_run(make_run("xyz9", started_at=5.0))

        assert store.run("abc111").id == "abc111"
        assert store.run("abc2").id == "abc222"
        assert store.run("xyz").id == "xyz"  # an exact id beats a longer id it prefixes
        assert store.run("baseline").id == "abc222"  # the newest run with the label
        assert store.run("abc").id == "abd333"  # an ambiguous prefix but an exact label

        with pytest.raises(StoreError, match="'ab' is ambiguous") as ambiguous:
            store.run("ab")
        assert all(run in str(ambiguous.value) for run in ("abc111", "abc222", "abd333"))

        with pytest.raises(StoreError, match="no run id, id prefix or label matches 'q'") as none:
            store.run("q")
        assert "xyz9" in str(none.value)
        with pytest.raises(StoreError, match="empty run reference"):
            store.run("")


def test_missing_run_in_an_empty_store_says_so(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store, pytest.raises(StoreError, match="has no runs"):
        store.run("anything")


# -- secrets -----------------------------------------------------------------------------------


def test_redact_secrets_replaces_secret_values_recursively() -> None:
    spec = {
        "backend": "openai",
        "api_key": "sk-live-123",
        "apiKey": "sk-live-456",
        "api_key_env": "OPENAI_API_KEY",
        "HF_TOKEN_ENV": "HF_TOKEN",
        "max_tokens": 200,
        "max_new_tokens": 64,
        "tokenizer": "models/tokenizer.json",
        "password": 1234,
        "client": {"headers": {"Authorization": "Bearer xyz", "X-Trace": "on"}},
        "fallbacks": [{"model": "b", "secret_token": {"nested": "s3cret"}}],
    }
    assert redact_secrets(spec) == {
        "backend": "openai",
        "api_key": "<redacted>",
        "apiKey": "<redacted>",
        "api_key_env": "OPENAI_API_KEY",
        "HF_TOKEN_ENV": "HF_TOKEN",
        "max_tokens": 200,
        "max_new_tokens": 64,
        "tokenizer": "models/tokenizer.json",
        "password": "<redacted>",
        "client": {"headers": {"Authorization": "<redacted>", "X-Trace": "on"}},
        "fallbacks": [{"model": "b", "secret_token": "<redacted>"}],
    }
    assert spec["api_key"] == "sk-live-123"  # the caller's object is left alone


def test_no_secret_reaches_the_database_files(tmp_path: Path) -> None:
    secret = "sk-live-DO-NOT-STORE-0123456789"
    spec = {"backend": "openai", "api_key": secret, "headers": {"authorization": secret}}
    with Store(tmp_path / "p.db") as store:
        store.create_run(make_run(model_spec=spec))
        assert store.run(RUN).model_spec == {
            "backend": "openai",
            "api_key": "<redacted>",
            "headers": {"authorization": "<redacted>"},
        }
        assert secret not in json.dumps(store.export_run(RUN))
        written = b"".join(path.read_bytes() for path in tmp_path.iterdir())
        assert secret.encode() not in written


def test_error_texts_and_check_reasons_are_scrubbed_as_they_are_written(store: Store) -> None:
    key = "sk-" + "A1b2C3d4" * 4
    failed = SampleOutcome(
        0, 0, {}, "p", 1, None, error="HTTP 401 from https://bob:hunter2@api.example.com/v1"
    )
    judged = SampleOutcome(
        1,
        0,
        {},
        "p",
        2,
        "out",
        checks=(
            CheckOutcome(0, "judge", Status.UNSCORED, f"judge error: invalid key {key}"),
            CheckOutcome(1, "regex", Status.PASS, "matched"),
        ),
    )
    store.record_case(RUN, replace(make_case(), samples=(failed, judged)))
    (case,) = store.case_results(RUN)
    assert case.samples[0].error == "HTTP 401 from https://<redacted>@api.example.com/v1"
    assert [check.reason for check in case.samples[1].checks] == [
        "judge error: invalid key <redacted>",
        "matched",
    ]
    store.close()
    written = b"".join(path.read_bytes() for path in store.path.parent.iterdir())
    assert b"hunter2" not in written and key.encode() not in written


# -- opening, versions, errors -----------------------------------------------------------------


def test_fresh_store_is_versioned_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "promptcheck.db"
    with Store(path) as store:
        connection = store._connection
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6


def test_store_from_a_newer_promptcheck_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    Store(path).close()
    with closing(sqlite3.connect(path)) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as refused:
        Store(path)
    message = str(refused.value)
    assert str(path) in message
    assert (
        f"written by a newer promptcheck (schema {SCHEMA_VERSION + 1}); upgrade promptcheck "
        "or use another --promptcheck-store"
    ) in message


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    content = b"these are my notes, not a database\n" * 100
    path.write_bytes(content)
    with pytest.raises(StoreError, match="is not an SQLite database") as refused:
        Store(path)
    assert str(path) in str(refused.value)
    assert path.read_bytes() == content


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as raw:
        raw.execute("CREATE TABLE runs (whatever TEXT)")
    with pytest.raises(StoreError, match="not a promptcheck store"):
        Store(path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # left alone
        assert raw.execute("SELECT name FROM sqlite_master").fetchall() == [("runs",)]


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=re.escape(str(tmp_path))):
        Store(tmp_path)


def test_a_closed_store_raises_store_errors(tmp_path: Path) -> None:
    store = Store(tmp_path / "p.db")
    store.close()
    store.close()
    with pytest.raises(StoreError, match="listing runs failed"):
        store.runs()
    with pytest.raises(StoreError):
        store.cached_generations(["k"])


def test_values_sqlite_cannot_hold_become_store_errors(store: Store) -> None:
    case = make_case()
    huge = SampleOutcome(0, 0, {}, "p", 2**64, "out")
    with pytest.raises(StoreError, match="recording case"):
        store.record_case(RUN, replace(case, samples=(huge,)))
    assert store.case_results(RUN) == []  # the failed transaction left nothing behind


def test_threads_can_share_one_store(store: Store) -> None:
    def record(number: int) -> None:
        for case in range(10):
            store.record_case(RUN, make_case(f"t{number}-{case}", samples=2))

    threads = [threading.Thread(target=record, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.run(RUN).cases == 40


# -- several processes -------------------------------------------------------------------------


def _record_from_another_process(path: str, worker: int, start: Any) -> None:
    """Open the (possibly not yet created) store, join the run and record 25 cases."""
    start.wait(timeout=60)
    with Store(path) as store:
        store.create_run(make_run(started_at=100.0 + worker, suites={f"w{worker}.yaml": "0"}))
        for number in range(25):
            case = make_case(f"w{worker}-case{number:02d}", samples=3)
            store.record_case(RUN, case)
            if number % 10 == 0:
                store.record_case(RUN, case)  # a re-run item must not duplicate
        store.finish_run(RUN, 1000.0 + worker)


def test_processes_writing_concurrently_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "promptcheck.db"
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(4)
    processes = [
        context.Process(target=_record_from_another_process, args=(str(path), worker, start))
        for worker in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        if process.is_alive():
            process.kill()
    assert [process.exitcode for process in processes] == [0, 0, 0, 0]

    with Store(path) as store:
        (run,) = store.runs()
        cases = store.case_results(RUN)
    assert (run.id, run.cases, run.samples) == (RUN, 100, 300)
    assert len({case.case_id for case in cases}) == 100
    assert run.started_at == 100.0
    assert run.finished_at == 1003.0
    assert run.suites == {f"w{worker}.yaml": "0" for worker in range(4)}
    assert count_rows(path, "samples") == 300


# -- any case result ---------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=6,
)
int64 = st.integers(-(2**63), 2**63 - 1)
scores = st.none() | st.floats(allow_nan=False)
check_outcomes = st.builds(
    CheckOutcome, int64, st.text(), st.sampled_from(Status), st.text(), scores
)
sample_outcomes = st.builds(
    SampleOutcome,
    index=int64,
    combination=int64,
    variables=st.dictionaries(st.text(), json_values, max_size=3),
    prompt=st.text(),
    seed=int64,
    output=st.none() | st.text(),
    checks=st.lists(check_outcomes, max_size=3).map(tuple),
    error=st.none() | st.text(),
    formatted_prompt=st.none() | st.text(),
    prompt_tokens=st.none() | int64,
    completion_tokens=st.none() | int64,
    latency_s=st.floats(allow_nan=False),
    cached=st.booleans(),
    cache_key=st.text(),
)
verdicts = st.builds(
    ThresholdVerdict,
    st.sampled_from(Outcome),
    int64,
    int64,
    st.floats(allow_nan=False),
    st.floats(allow_nan=False),
    st.tuples(st.floats(allow_nan=False), st.floats(allow_nan=False)),
    st.text(),
)
case_results = st.builds(
    CaseResult,
    suite=st.text(),
    suite_path=st.text(),
    case_id=st.text(),
    model=st.text(),
    samples=st.lists(sample_outcomes, max_size=4).map(tuple),
    verdict=verdicts,
    tallies=st.lists(st.builds(CheckTally, int64, st.text(), int64, int64, int64), max_size=3).map(
        tuple
    ),
    tags=st.lists(st.text(), max_size=3).map(tuple),
    properties=st.dictionaries(st.text(), json_values, max_size=3),
)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with Store(tmp_path_factory.mktemp("store") / "promptcheck.db") as opened:
        yield opened


@settings(max_examples=60, deadline=None)
@given(case=case_results)
def test_any_case_result_round_trips(shared_store: Store, case: CaseResult) -> None:
    run_id = uuid.uuid4().hex
    shared_store.create_run(make_run(run_id))
    shared_store.record_case(run_id, case)
    assert shared_store.case_results(run_id) == [case]
