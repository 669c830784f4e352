"""The migration machinery, and the committed databases of earlier schema versions.

``tests/data/stores/schema-v1.sqlite3`` was written while the schema was at version 1, by
``python tests/unit/store/test_store_schema.py tests/data/stores/schema-v1.sqlite3``. Every later
promptcheck must read it with the same content: a migration that loses or changes its data fails
``test_committed_v1_store_still_reads_the_same``. ``schema-v2.sqlite3`` was written the same way
while the schema was at version 2 (main at 5a75f0c; ``write_v2_fixture``), and is held to the same
rule, and so is ``schema-v3.sqlite3`` (main at efaed23; ``write_v3_fixture``), the store a
review (schema 4: raters, ratings, locks) starts from, and ``schema-v4.sqlite3`` (main at
fe89603; ``write_v4_fixture``), a hosted model's cache from before schema 5 kept what served
each generation, and ``schema-v5.sqlite3`` (main at a50c8b1; ``write_v5_fixture``), long prompts
repeated in every sample and cached generation. (Not ``.db``: the repository ignores ``*.db``.)
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from promptcheck.backends.base import Generation
from promptcheck.checks.base import Status
from promptcheck.errors import StoreError
from promptcheck.results import CaseResult, CheckOutcome, CheckTally, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import RunInfo, RunStatus, Store
from promptcheck.store.reviews import ItemKey, Rating
from promptcheck.store.schema import MIGRATIONS, SCHEMA_VERSION, Migration, migrate
from promptcheck.store.texts import text_digest

STORES = Path(__file__).parents[2] / "data" / "stores"


def logging_step(version: int) -> Migration:
    """A step that notes its own number and the version it found, to prove the order."""
    note = f"INSERT INTO log SELECT {version}, user_version FROM pragma_user_version"
    if version == 1:
        return Migration(1, "step 1", ("CREATE TABLE log (step INTEGER, found INTEGER)", note))
    return Migration(version, f"step {version}", (note,))


STEPS = tuple(logging_step(version) for version in (1, 2, 3))


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    opened = sqlite3.connect(tmp_path / "fake.db", isolation_level=None)
    yield opened
    opened.close()


def state(connection: sqlite3.Connection) -> tuple[int, list[tuple[int, int]]]:
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    return version, connection.execute("SELECT step, found FROM log ORDER BY rowid").fetchall()


def test_pending_steps_run_once_in_order(connection: sqlite3.Connection) -> None:
    assert migrate(connection, "fake.db", STEPS[:1]) == 0
    assert state(connection) == (1, [(1, 0)])

    assert migrate(connection, "fake.db", STEPS) == 1
    assert state(connection) == (3, [(1, 0), (2, 1), (3, 2)])

    assert migrate(connection, "fake.db", STEPS) == 3
    assert state(connection) == (3, [(1, 0), (2, 1), (3, 2)])


def test_a_failing_step_rolls_every_pending_step_back(connection: sqlite3.Connection) -> None:
    migrate(connection, "fake.db", STEPS[:1])
    broken = Migration(
        3, "broken", ("INSERT INTO log VALUES (3, -1)", "INSERT INTO nowhere VALUES (1)")
    )
    with pytest.raises(StoreError, match=r"fake.db: migrating the store to schema 3 \(broken\)"):
        migrate(connection, "fake.db", (*STEPS[:2], broken))
    assert state(connection) == (1, [(1, 0)])
    assert not connection.in_transaction


def test_a_newer_database_is_refused(connection: sqlite3.Connection) -> None:
    migrate(connection, "fake.db", STEPS)
    with pytest.raises(StoreError, match=r"written by a newer promptcheck \(schema 3\)"):
        migrate(connection, "fake.db", STEPS[:2])


def test_python_steps_run_in_order_within_the_transaction(connection: sqlite3.Connection) -> None:
    def note_from_python(raw: sqlite3.Connection) -> None:
        assert raw.in_transaction
        raw.execute("INSERT INTO log SELECT -2, user_version FROM pragma_user_version")

    mixed = Migration(
        2,
        "sql, python, sql",
        (
            "INSERT INTO log VALUES (-1, -1)",
            note_from_python,
            "INSERT INTO log VALUES (-3, -3)",
        ),
    )
    assert migrate(connection, "fake.db", (STEPS[0], mixed)) == 0
    assert state(connection) == (2, [(1, 0), (-1, -1), (-2, 1), (-3, -3)])


def test_a_failing_python_step_rolls_every_pending_step_back(
    connection: sqlite3.Connection,
) -> None:
    def sqlite_fails(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO log VALUES (9, 9)")
        raw.execute("SELECT * FROM nowhere")

    def python_fails(raw: sqlite3.Connection) -> None:
        raw.execute("INSERT INTO log VALUES (9, 9)")
        raise RuntimeError("a bug in a step")

    migrate(connection, "fake.db", STEPS[:1])
    for failing, raised, match in (
        (sqlite_fails, StoreError, r"schema 3 \(python\) failed: no such table: nowhere"),
        (python_fails, RuntimeError, "a bug in a step"),
    ):
        with pytest.raises(raised, match=match):
            migrate(connection, "fake.db", (*STEPS[:2], Migration(3, "python", (failing,))))
        assert state(connection) == (1, [(1, 0)])
        assert not connection.in_transaction


def test_steps_must_be_numbered_in_order(connection: sqlite3.Connection) -> None:
    with pytest.raises(ValueError, match="migration 3 is listed at position 2"):
        migrate(connection, "fake.db", (STEPS[0], STEPS[2]))


def test_the_real_migrations_are_numbered_to_the_schema_version() -> None:
    assert [step.version for step in MIGRATIONS] == list(range(1, SCHEMA_VERSION + 1))


def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with Store(path) as store:
        assert store.runs() == []


# -- the committed version-1 database ----------------------------------------------------------

V1_RUN = RunInfo(
    id="20250101-000000-v1fixture",
    session="fixture-session",
    model="tiny-dolly",
    model_spec={"backend": "openai", "model": "tiny", "api_key": "<redacted>", "api_key_env": "K"},
    started_at=1_735_689_600.0,
    label="baseline",
    git_commit="0123456789abcdef0123456789abcdef01234567",
    versions={"promptcheck": "0.1.0", "python": "3.11.7"},
    suites={"suites/options.yaml": "5" * 64},
)


def v1_cases() -> list[CaseResult]:
    checks = (
        CheckOutcome(0, "options", Status.PASS, "labels A, B, C"),
        CheckOutcome(1, "max_words", Status.FAIL, "131 words > 120", 131.0),
    )
    samples = (
        SampleOutcome(
            0, 0, {"topic": "a weekend in Denver"}, "Give three options", 7, "A) B) C)", checks
        ),
        SampleOutcome(
            1, 0, {"topic": "a weekend in Denver"}, "Give three options", 8, None, (), "boom"
        ),
    )
    verdict = ThresholdVerdict(Outcome.FAIL, 0, 1, 0.95, 0.05, (0.0, 0.975), "0/1 fails")
    return [
        CaseResult(
            suite="options",
            suite_path="suites/options.yaml",
            case_id="three-options",
            model="tiny-dolly",
            samples=samples,
            verdict=verdict,
            tallies=(CheckTally(0, "options", 1), CheckTally(1, "max_words", 0, 1)),
            tags=("critical",),
            properties={"owner": "docs"},
        )
    ]


V1_CACHE = {"c" * 64: Generation("A) B) C)", None, "### Instruction:\nx", 3, 4, 0.5, "stop")}


def write_v1_fixture(path: Path) -> None:
    """Write the fixture; only meaningful while SCHEMA_VERSION was 1 (it is committed)."""
    assert SCHEMA_VERSION == 1, "the v1 fixture must be written by a schema-1 promptcheck"
    with Store(path) as store:
        store.create_run(V1_RUN)
        for case in v1_cases():
            store.record_case(V1_RUN.id, case)
        store.finish_run(V1_RUN.id, V1_RUN.started_at + 60)
        store.cache_generations(list(V1_CACHE.items()))
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
        raw.execute("VACUUM")


def test_committed_v1_store_still_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schema-v1.sqlite3"
    shutil.copyfile(STORES / "schema-v1.sqlite3", path)
    with Store(path) as store:
        (summary,) = store.runs()
        assert store.run("baseline") == summary
        assert store.case_results(V1_RUN.id) == v1_cases()
        assert store.cached_generations(list(V1_CACHE)) == V1_CACHE
    assert summary.model_spec == V1_RUN.model_spec
    assert (summary.label, summary.git_commit, summary.suites) == (
        V1_RUN.label,
        V1_RUN.git_commit,
        V1_RUN.suites,
    )
    assert (summary.finished_at, summary.cases, summary.samples, summary.failed) == (
        V1_RUN.started_at + 60,
        1,
        2,
        1,
    )
    assert (summary.status, summary.state) == (None, "unknown")  # closed before statuses were
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # the sample's output and the cached generation are one text
        assert raw.execute("SELECT text, length FROM texts").fetchall() == [("A) B) C)", 8)]


def test_a_v1_store_migrates_to_v2_and_records_usage(tmp_path: Path) -> None:
    """Version 2 adds a run's usage: a v1 run has none, and can be given some."""
    path = tmp_path / "schema-v1.sqlite3"
    shutil.copyfile(STORES / "schema-v1.sqlite3", path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    with Store(path) as store:
        assert store.run(V1_RUN.id).usage is None
        assert store.export_run(V1_RUN.id)["run"]["usage"] is None
        store.record_usage(V1_RUN.id, {"requests": 3, "completion_tokens": 12, "cost": None})
    with Store(path) as store:
        summary = store.run(V1_RUN.id)
        assert store.case_results(V1_RUN.id) == v1_cases()
    assert summary.usage == {"requests": 3, "completion_tokens": 12, "cost": None}
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_usage_of_an_unknown_run_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as store, pytest.raises(StoreError, match="no run 'nope'"):
        store.record_usage("nope", {"requests": 1})


# -- the committed version-2 database ----------------------------------------------------------

V2_RUN = RunInfo(
    id="20250601-000000-v2fixture-gpt",
    session="fixture-v2",
    model="gpt",
    model_spec={"backend": "openai", "model": "gpt-x", "api_key_env": "OPENAI_API_KEY"},
    started_at=1_748_736_000.0,
    label="release-1",
    git_commit="89abcdef0123456789abcdef0123456789abcdef",
    versions={"promptcheck": "0.1.0", "python": "3.11.7", "openai": "1.40.0"},
    suites={"suites/json.yaml": "7" * 64},
)
#: A run whose process was killed: created, never finished.
V2_KILLED = RunInfo(
    id="20250601-000100-v2fixture-gpt",
    session="fixture-v2-killed",
    model="gpt",
    model_spec={"backend": "openai", "model": "gpt-x"},
    started_at=1_748_736_060.0,
    versions={"promptcheck": "0.1.0", "python": "3.11.7"},
    suites={"suites/json.yaml": "7" * 64},
)
V2_USAGE = {"requests": 4, "retries": 1, "prompt_tokens": 40, "completion_tokens": 20, "cost": 0.5}
#: The same output twice, one with a NUL and characters beyond ASCII (so that a length counted
#: by SQLite, which stops at a NUL and may count bytes, would be wrong), and an error.
V2_OUTPUTS = ('{"a": 1}', '{"a": 1}', "na\u00efve \U0001f525\x00after a NUL", None)


def v2_cases() -> list[CaseResult]:
    samples = []
    for index, output in enumerate(V2_OUTPUTS):
        checks: tuple[CheckOutcome, ...] = ()
        if output is not None:
            passed = output.startswith("{")
            checks = (
                CheckOutcome(
                    0,
                    "json",
                    Status.PASS if passed else Status.FAIL,
                    "" if passed else "not JSON: Expecting value: line 1 column 1 (char 0)",
                ),
            )
        samples.append(
            SampleOutcome(
                index=index,
                combination=0,
                variables={"topic": "json"},
                prompt="Reply with JSON",
                seed=100 + index,
                output=output,
                checks=checks,
                error="HTTP 503: overloaded" if output is None else None,
                formatted_prompt=None if output is None else "Reply with JSON",
                prompt_tokens=None if output is None else 10,
                completion_tokens=None if output is None else 5,
                latency_s=0.25,
                cached=index == 1,
                cache_key=f"{index:x}" * 64,
            )
        )
    verdict = ThresholdVerdict(Outcome.UNDECIDED, 2, 3, 0.9, 0.05, (0.09, 0.99), "2/3 undecided")
    return [
        CaseResult(
            suite="json",
            suite_path="suites/json.yaml",
            case_id="json-reply",
            model="gpt",
            samples=tuple(samples),
            verdict=verdict,
            tallies=(CheckTally(0, "json", 2, 1),),
            tags=(),
            properties={"adaptive": {"used": 4, "max": 4}},
        )
    ]


#: The cached generations: both distinct outputs of the samples, and one no sample holds.
V2_CACHE = {
    "0" * 64: Generation('{"a": 1}', None, "Reply with JSON", 10, 5, 0.25, "stop"),
    "2" * 64: Generation(V2_OUTPUTS[2], None, "Reply with JSON", 10, 5, 0.25, "length"),
    "f" * 64: Generation("only in the cache", None, None, None, None, 0.1, None),
}


def write_v2_fixture(path: Path) -> None:
    """Write the fixture; only meaningful while SCHEMA_VERSION was 2 (it is committed)."""
    assert SCHEMA_VERSION == 2, "the v2 fixture must be written by a schema-2 promptcheck"
    with Store(path) as store:
        store.create_run(V2_RUN)
        store.create_run(V2_KILLED)
        for case in v2_cases():
            store.record_case(V2_RUN.id, case)
        store.record_usage(V2_RUN.id, V2_USAGE)
        store.finish_run(V2_RUN.id, V2_RUN.started_at + 30)
        store.cache_generations(list(V2_CACHE.items()))
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
        raw.execute("VACUUM")


def test_committed_v2_store_still_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schema-v2.sqlite3"
    shutil.copyfile(STORES / "schema-v2.sqlite3", path)
    with Store(path) as store:
        killed, finished = store.runs()
        assert store.case_results(V2_RUN.id) == v2_cases()
        assert store.cached_generations([*V2_CACHE, "absent"]) == V2_CACHE
    assert (finished.id, killed.id) == (V2_RUN.id, V2_KILLED.id)
    assert (finished.label, finished.usage, finished.finished_at) == (
        V2_RUN.label,
        V2_USAGE,
        V2_RUN.started_at + 30,
    )
    assert (finished.cases, finished.samples, finished.undecided) == (1, 4, 1)
    assert killed.finished_at is None


def test_a_v2_store_migrates_its_texts_once_and_knows_no_status(tmp_path: Path) -> None:
    """Version 3 moves outputs and cached texts into ``texts``, one row per distinct text, and
    adds a run's status: unknown for runs recorded before."""
    path = tmp_path / "schema-v2.sqlite3"
    shutil.copyfile(STORES / "schema-v2.sqlite3", path)
    with Store(path) as store:
        killed, finished = store.runs()
        exported = store.export_run(V2_RUN.id)
    assert (finished.status, finished.state) == (None, "unknown")
    assert (killed.status, killed.state) == (None, "unfinished")
    assert exported["run"]["status"] is None
    lengths = [(s["output_length"], s["output_truncated"]) for s in exported["cases"][0]["samples"]]
    assert lengths == [(8, False), (8, False), (19, False), (None, False)]  # NUL counted
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert sorted(raw.execute("SELECT text, length FROM texts")) == [
            (V2_OUTPUTS[2], 19),
            ("only in the cache", 17),
            ('{"a": 1}', 8),
        ]
        assert raw.execute("SELECT count(*) FROM samples WHERE output IS NOT NULL").fetchone() == (
            0,
        )
        columns = {row[1] for row in raw.execute("PRAGMA table_info(generation_cache)")}
        assert "text" not in columns and "text_id" in columns
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_migrated_store_reuses_its_texts_and_closes_runs_with_a_status(tmp_path: Path) -> None:
    path = tmp_path / "schema-v2.sqlite3"
    shutil.copyfile(STORES / "schema-v2.sqlite3", path)
    with Store(path) as store:
        store.create_run(dataclasses.replace(V2_RUN, id="after-migration"))
        store.record_case("after-migration", v2_cases()[0])
        store.cache_generations([("new-key", V2_CACHE["0" * 64])])
        store.finish_run("after-migration", 1.0, RunStatus.INTERRUPTED)
        assert store.case_results("after-migration") == v2_cases()
        assert store.run("after-migration").status == RunStatus.INTERRUPTED
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT count(*) FROM texts").fetchone() == (3,)


# -- the committed version-3 database ----------------------------------------------------------

V3_RUN = RunInfo(
    id="20250901-000000-v3fixture-small",
    session="fixture-v3",
    model="small",
    model_spec={"backend": "scripted"},
    started_at=1_756_684_800.0,
    label="before-review",
    versions={"promptcheck": "0.1.0", "python": "3.11.7"},
    suites={"suites/triage.yaml": "9" * 64},
)
#: Four samples of a case with a format check and a judge: the judge and the check agree on
#: two, disagree on one, and the judge could not tell on one; one output holds markup.
V3_SAMPLES = (
    ('{"priority": "P2"}', Status.PASS, Status.PASS),
    ("<script>alert(1)</script>", Status.FAIL, Status.FAIL),
    ('{"priority": "P9"}', Status.PASS, Status.FAIL),
    ('{"priority": "P1"}', Status.PASS, Status.UNSCORED),
)


def v3_cases() -> list[CaseResult]:
    samples = tuple(
        SampleOutcome(
            index=index,
            combination=0,
            variables={"ticket": "the site is down"},
            prompt="Classify the ticket as JSON",
            seed=300 + index,
            output=output,
            checks=(
                CheckOutcome(0, "json_schema", schema, "" if schema is Status.PASS else "bad"),
                CheckOutcome(1, "judge", judge, f"judge said {judge.value}", None),
            ),
            latency_s=0.5,
            cache_key=f"{index + 3:x}" * 64,
        )
        for index, (output, schema, judge) in enumerate(V3_SAMPLES)
    )
    verdict = ThresholdVerdict(Outcome.UNDECIDED, 1, 3, 0.9, 0.05, (0.01, 0.9), "1/3 undecided")
    return [
        CaseResult(
            suite="triage",
            suite_path="suites/triage.yaml",
            case_id="ticket-json",
            model="small",
            samples=samples,
            verdict=verdict,
            tallies=(CheckTally(0, "json_schema", 3, 1), CheckTally(1, "judge", 1, 2, 1)),
            properties={"judges": [{"index": 1, "label": "judge", "judge": "big", "pairs": [0]}]},
        )
    ]


def write_v3_fixture(path: Path) -> None:
    """Write the fixture; only meaningful while SCHEMA_VERSION was 3 (it is committed)."""
    assert SCHEMA_VERSION == 3, "the v3 fixture must be written by a schema-3 promptcheck"
    with Store(path) as store:
        store.create_run(V3_RUN)
        for case in v3_cases():
            store.record_case(V3_RUN.id, case)
        store.finish_run(V3_RUN.id, V3_RUN.started_at + 20)
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
        raw.execute("VACUUM")


def test_committed_v3_store_still_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schema-v3.sqlite3"
    shutil.copyfile(STORES / "schema-v3.sqlite3", path)
    with Store(path) as store:
        (summary,) = store.runs()
        assert store.case_results(V3_RUN.id) == v3_cases()
    assert (summary.label, summary.status, summary.samples) == (
        "before-review",
        RunStatus.FINISHED,
        4,
    )


def test_a_v3_store_migrates_to_review_tables_and_takes_ratings(tmp_path: Path) -> None:
    """Version 4 adds raters, review sets, ratings, locks and judge calibrations; the runs of a
    version-3 file are reviewed as they are."""
    path = tmp_path / "schema-v3.sqlite3"
    shutil.copyfile(STORES / "schema-v3.sqlite3", path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
    with Store(path) as store:
        assert store.case_results(V3_RUN.id) == v3_cases()
        assert store.review_sets() == [] and store.raters() == []
        digests = store.output_digests(V3_RUN.id)
        item = ItemKey(V3_RUN.id, "suites/triage.yaml", "ticket-json", "small", 1)
        store.save_rater("alice", "a" * 64, 1.0)
        store.open_review_set("run", V3_RUN.id, None, 2, 1.0)
        store.add_ratings(
            [Rating(f"run:{V3_RUN.id}", item, digests[item], "alice", "fail", 2.0, note="<b>")]
        )
        lock = store.lock_review_set(f"run:{V3_RUN.id}", "alice", 3.0)
        assert store.ungated_judges("triage", "ticket-json") == {}
    with Store(path) as store:
        (rating,) = store.ratings()
        assert (rating.item, rating.verdict, rating.note) == (item, "fail", "<b>")
        assert store.review_set(f"run:{V3_RUN.id}").lock == lock
    assert digests[item] == text_digest("<script>alert(1)</script>")
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert {"raters", "review_sets", "ratings", "review_locks", "judge_calibrations"} <= tables
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


V4_RUN = dataclasses.replace(
    V3_RUN,
    id="20251201-000000-v4fixture-gpt",
    session="fixture-v4",
    model="gpt",
    model_spec={"backend": "openai", "model": "gpt-4o"},
    label="hosted",
)
#: Cached generations of a hosted model, from before the cache knew what served them.
V4_CACHE = {
    "a" * 64: Generation('{"priority": "P2"}', None, "Classify", 12, 6, 0.4, "stop"),
    "b" * 64: Generation("<script>alert(1)</script>", None, "Classify", 12, 9, 0.5, "stop"),
}


def v4_cases() -> list[CaseResult]:
    return [dataclasses.replace(case, model="gpt") for case in v3_cases()]


def write_v4_fixture(path: Path) -> None:
    """Write the fixture; only meaningful while SCHEMA_VERSION was 4 (it is committed)."""
    assert SCHEMA_VERSION == 4, "the v4 fixture must be written by a schema-4 promptcheck"
    with Store(path) as store:
        store.create_run(V4_RUN)
        for case in v4_cases():
            store.record_case(V4_RUN.id, case)
        store.finish_run(V4_RUN.id, V4_RUN.started_at + 20)
        store.cache_generations(list(V4_CACHE.items()))
        item = ItemKey(V4_RUN.id, "suites/triage.yaml", "ticket-json", "gpt", 1)
        store.save_rater("alice", "a" * 64, 1.0)
        store.open_review_set("run", V4_RUN.id, None, 2, 1.0)
        digest = store.output_digests(V4_RUN.id)[item]
        store.add_ratings([Rating(f"run:{V4_RUN.id}", item, digest, "alice", "fail", 2.0)])
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
        raw.execute("VACUUM")


def test_committed_v4_store_still_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schema-v4.sqlite3"
    shutil.copyfile(STORES / "schema-v4.sqlite3", path)
    with Store(path) as store:
        (summary,) = store.runs()
        assert store.case_results(V4_RUN.id) == v4_cases()
        assert store.cached_generations(list(V4_CACHE)) == V4_CACHE
        (rating,) = store.ratings()
    assert (summary.label, summary.status) == ("hosted", RunStatus.FINISHED)
    assert (rating.rater, rating.verdict) == ("alice", "fail")


def test_a_v4_store_learns_what_served_its_new_cached_generations(tmp_path: Path) -> None:
    """Version 5 adds the served model and fingerprint to the cache: unknown (None) for what
    was cached before, kept for what is cached after."""
    path = tmp_path / "schema-v4.sqlite3"
    shutil.copyfile(STORES / "schema-v4.sqlite3", path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 4
    served = Generation("x", served_model="gpt-4o-2024-08-06", served_fingerprint="fp_1")
    with Store(path) as store:
        old = store.cached_generations(list(V4_CACHE))
        store.cache_generations([("c" * 64, served)])
    with Store(path) as store:
        assert store.cached_generations(["c" * 64]) == {"c" * 64: served}
    assert old == V4_CACHE
    assert all(g.served_model is None and g.served_fingerprint is None for g in old.values())
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


# -- the committed version-5 database ----------------------------------------------------------

V5_RUN = dataclasses.replace(
    V3_RUN,
    id="20260101-000000-v5fixture-dolly",
    session="fixture-v5",
    model="dolly",
    model_spec={"backend": "local", "path": "models/dolly", "format": "dolly"},
    label="long-context",
    suites={"suites/context.yaml": "a" * 64},
)
#: A long context shared by two cases (the prompt of one is the other's too), with a NUL and
#: characters beyond ASCII, and a chat case whose prompt is its messages as shown.
V5_CONTEXT = "Context: na\u00efve \U0001f525\x00 " + "the quick brown fox " * 30
V5_PROMPTS = {  # in the order the store reads cases back: by case id
    "chat": f"[system] You are terse.\n[user] {V5_CONTEXT}\nOne line.",
    "same-prompt": f"{V5_CONTEXT}\nSummarise the context in one line.",
    "summary": f"{V5_CONTEXT}\nSummarise the context in one line.",
}


def dolly_form(prompt: str) -> str:
    """The prompt as a Dolly model is given it (the formatted prompt a local backend reports)."""
    return f"### Instruction:\n{prompt}\n\n### Response:\n"


def v5_cases() -> list[CaseResult]:
    cases = []
    for number, (case_id, prompt) in enumerate(V5_PROMPTS.items()):
        samples = tuple(
            SampleOutcome(
                index=index,
                combination=0,
                variables={"topic": "fox"},
                prompt=prompt,
                seed=500 + 10 * number + index,
                output=None if index == 2 else f"a fox, take {index}",
                checks=() if index == 2 else (CheckOutcome(0, "max_words", Status.PASS, "", None),),
                error="model failed to start" if index == 2 else None,
                formatted_prompt=None if (index == 2 and number) else dolly_form(prompt),
                prompt_tokens=None if index == 2 else 410,
                completion_tokens=None if index == 2 else 4,
                latency_s=0.5,
                cache_key=f"{5 + number:x}{index:x}" * 32,
            )
            for index in range(3)
        )
        verdict = ThresholdVerdict(Outcome.UNDECIDED, 2, 2, 0.9, 0.05, (0.16, 1.0), "2/2")
        cases.append(
            CaseResult(
                suite="context",
                suite_path="suites/context.yaml",
                case_id=case_id,
                model="dolly",
                samples=samples,
                verdict=verdict,
                tallies=(CheckTally(0, "max_words", 2, 0),),
            )
        )
    return cases


#: The cached generations of the cases' answered samples (each under its own key, as the
#: runner caches them, so each repeats its formatted prompt), and one without a formatted prompt.
V5_CACHE = {
    **{
        sample.cache_key: Generation(
            sample.output, None, sample.formatted_prompt, 410, 4, 0.5, "stop"
        )
        for case in v5_cases()
        for sample in case.samples
        if sample.output is not None
    },
    "e" * 64: Generation("no prompt shown", None, None, None, None, 0.1, None),
}


def write_v5_fixture(path: Path) -> None:
    """Write the fixture; only meaningful while SCHEMA_VERSION was 5 (it is committed)."""
    assert SCHEMA_VERSION == 5, "the v5 fixture must be written by a schema-5 promptcheck"
    with Store(path) as store:
        store.create_run(V5_RUN)
        for case in v5_cases():
            store.record_case(V5_RUN.id, case)
        store.finish_run(V5_RUN.id, V5_RUN.started_at + 20)
        store.cache_generations(list(V5_CACHE.items()))
    with closing(sqlite3.connect(path, isolation_level=None)) as raw:
        raw.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to commit
        raw.execute("VACUUM")


def test_committed_v5_store_still_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "schema-v5.sqlite3"
    shutil.copyfile(STORES / "schema-v5.sqlite3", path)
    with Store(path) as store:
        (summary,) = store.runs()
        assert store.case_results(V5_RUN.id) == v5_cases()
        assert store.cached_generations([*V5_CACHE, "absent"]) == V5_CACHE
    assert (summary.label, summary.status, summary.samples) == (
        "long-context",
        RunStatus.FINISHED,
        9,
    )


def test_a_v5_store_keeps_each_prompt_once_after_migrating(tmp_path: Path) -> None:
    """Version 6 moves every sample's prompt and formatted prompt, and every cached formatted
    prompt, into ``prompts``, one row per distinct text; what is read back is unchanged."""
    path = tmp_path / "schema-v5.sqlite3"
    shutil.copyfile(STORES / "schema-v5.sqlite3", path)
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 5
    with Store(path) as store:
        assert store.case_results(V5_RUN.id) == v5_cases()
        assert store.cached_generations(list(V5_CACHE)) == V5_CACHE
        exported = store.export_run(V5_RUN.id)
    prompts = [s["prompt"] for case in exported["cases"] for s in case["samples"]]
    assert prompts == [prompt for prompt in V5_PROMPTS.values() for _ in range(3)]
    distinct = {*V5_PROMPTS.values(), *map(dolly_form, V5_PROMPTS.values())}
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        stored = [text for (text,) in raw.execute("SELECT text FROM prompts")]
        assert sorted(stored) == sorted(distinct)  # 4 of 9 + 9 + 6 prompt texts
        assert raw.execute(
            "SELECT count(*) FROM samples WHERE prompt != '' OR formatted_prompt IS NOT NULL"
        ).fetchone() == (0,)
        assert raw.execute(
            "SELECT count(*) FROM generation_cache WHERE formatted_prompt IS NOT NULL"
        ).fetchone() == (0,)
        assert raw.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_migrated_v5_store_reuses_its_prompts(tmp_path: Path) -> None:
    path = tmp_path / "schema-v5.sqlite3"
    shutil.copyfile(STORES / "schema-v5.sqlite3", path)
    with Store(path) as store:
        store.create_run(dataclasses.replace(V5_RUN, id="after-migration"))
        for case in v5_cases():
            store.record_case("after-migration", case)
        store.cache_generations([("new-key", V5_CACHE["60" * 32])])
        assert store.case_results("after-migration") == v5_cases()
        assert store.cached_generations(["new-key"]) == {"new-key": V5_CACHE["60" * 32]}
    with closing(sqlite3.connect(path)) as raw:
        assert raw.execute("SELECT count(*) FROM prompts").fetchone() == (4,)


#: Which fixture a promptcheck of each schema version writes (the ``__main__`` below).
FIXTURE_WRITERS = {
    1: write_v1_fixture,
    2: write_v2_fixture,
    3: write_v3_fixture,
    4: write_v4_fixture,
    5: write_v5_fixture,
}

if __name__ == "__main__":
    if SCHEMA_VERSION not in FIXTURE_WRITERS:
        sys.exit(f"no fixture is written at schema {SCHEMA_VERSION}: add a writer first")
    FIXTURE_WRITERS[SCHEMA_VERSION](Path(sys.argv[1]))
