"""The review tables of the store: raters, sets, ratings that are only ever added, locks whose
digest catches a later edit, imports, and raters writing at once without losing a rating."""

from __future__ import annotations

import sqlite3
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest

from promptcheck.errors import StoreError
from promptcheck.results import Status
from promptcheck.store.database import Store
from promptcheck.store.reviews import ItemKey, Rating, ratings_digest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.judged_runs import judged_case, record_run

P, F = Status.PASS, Status.FAIL


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "review.db")
    cases = [judged_case("c1", [(f'{{"n": {i}}}', True, P) for i in range(6)])]
    record_run(opened, "r1", cases)
    opened.save_rater("alice", "a" * 64, 1.0)
    opened.save_rater("bob", "b" * 64, 1.0)
    opened.open_review_set("run", "r1", None, 2, 1.0)
    return opened


def rating(
    rater: str, sample: int, verdict: str = "pass", at: float = 10.0, **extra: str
) -> Rating:
    return Rating(
        "run:r1",
        ItemKey("r1", "suites/triage.yaml", "c1", "small", sample),
        "d" * 64,
        rater,
        verdict,  # type: ignore[arg-type]
        at,
        **extra,
    )


def test_raters_are_found_by_their_token_digest_and_can_be_given_a_new_one(store: Store) -> None:
    assert store.rater_for_token("a" * 64) is not None
    assert store.rater_for_token("a" * 64).name == "alice"  # type: ignore[union-attr]
    store.save_rater("alice", "c" * 64, 2.0)
    assert store.rater_for_token("a" * 64) is None
    store.save_rater("alice", None, 3.0)  # an import names raters: the token stays
    assert store.rater_for_token("c" * 64).name == "alice"  # type: ignore[union-attr]
    assert [(r.name, r.can_log_in) for r in store.raters()] == [("alice", True), ("bob", True)]


def test_a_set_opens_once_and_keeps_its_overlap(store: Store) -> None:
    again = store.open_review_set("run", "r1", None, 5, 9.0)
    assert (again.id, again.overlap, again.created_at) == ("run:r1", 2, 1.0)
    with pytest.raises(StoreError, match="no run 'nope' to review"):
        store.open_review_set("run", "nope", None, 2, 1.0)


def test_a_change_of_mind_is_a_new_rating_and_nothing_is_overwritten(store: Store) -> None:
    store.add_ratings([rating("alice", 0, "pass", 10.0)])
    store.add_ratings([rating("alice", 0, "fail", 11.0, note="on second thought")])
    found = store.ratings("run:r1")
    assert [(r.verdict, r.note) for r in found] == [("pass", None), ("fail", "on second thought")]
    with closing(sqlite3.connect(store.path)) as raw:
        for statement in ("UPDATE ratings SET verdict = 'pass'", "DELETE FROM ratings"):
            with pytest.raises(sqlite3.IntegrityError, match="never"):
                raw.execute(statement)
    with pytest.raises(StoreError, match="no rater 'carol'"):
        store.add_ratings([rating("carol", 0)])


def test_a_lock_stops_ratings_and_records_their_digest(store: Store) -> None:
    store.add_ratings([rating("alice", 0), rating("alice", 1, "fail")])
    lock = store.lock_review_set("run:r1", "alice", 20.0)
    assert (lock.ratings, lock.digest) == (2, ratings_digest(store.ratings("run:r1")))
    assert store.review_set("run:r1").lock == lock
    with pytest.raises(StoreError, match="is locked: it takes no ratings"):
        store.add_ratings([rating("bob", 0)])
    with pytest.raises(StoreError, match="locked already"):
        store.lock_review_set("run:r1", "bob", 21.0)
    with closing(sqlite3.connect(store.path)) as raw:  # another program, the same refusal
        with pytest.raises(sqlite3.IntegrityError, match="locked"):
            raw.execute(
                "INSERT INTO ratings (set_id, run_id, suite_path, case_id, model, sample,"
                " output_sha256, rater_id, verdict, created_at)"
                " VALUES ('run:r1', 'r1', 'suites/triage.yaml', 'c1', 'small', 2, 'x', 1,"
                " 'pass', 1)"
            )
        with pytest.raises(sqlite3.IntegrityError, match="never lifted"):
            raw.execute("DELETE FROM review_locks")
    assert store.current_digest("run:r1") == (2, lock.digest)


def test_an_edit_behind_the_triggers_changes_the_digest(store: Store) -> None:
    store.add_ratings([rating("alice", 0), rating("bob", 0, "fail")])
    lock = store.lock_review_set("run:r1", "alice", 20.0)
    with closing(sqlite3.connect(store.path, isolation_level=None)) as raw:
        raw.execute("DROP TRIGGER ratings_never_change")
        raw.execute("UPDATE ratings SET verdict = 'pass' WHERE verdict = 'fail'")
    count, digest = store.current_digest("run:r1")
    assert count == 2 and digest != lock.digest


def test_the_digest_is_of_the_ratings_not_of_their_order_or_store(store: Store) -> None:
    ratings = [rating("alice", 0), rating("bob", 1, "fail", 12.0, label="wrong key")]
    assert ratings_digest(ratings) == ratings_digest(list(reversed(ratings)))
    changed = [ratings[0], rating("bob", 1, "fail", 12.0, label="wrong keys")]
    assert ratings_digest(changed) != ratings_digest(ratings)


def test_import_adds_what_is_missing_and_checks_the_lock(store: Store, tmp_path: Path) -> None:
    store.add_ratings([rating("alice", 0), rating("bob", 1, "fail", 12.0)])
    lock = store.lock_review_set("run:r1", "alice", 20.0)
    exported, ratings = store.review_set("run:r1"), store.ratings("run:r1")

    other = Store(tmp_path / "other.db")
    record_run(other, "r1", [judged_case("c1", [(f'{{"n": {i}}}', True, P) for i in range(6)])])
    assert other.import_review(exported, ratings, 5.0) == 2
    assert other.import_review(exported, ratings, 5.0) == 0  # idempotent
    assert other.review_set("run:r1").lock == lock
    assert other.ratings("run:r1") == ratings
    assert [r.can_log_in for r in other.raters()] == [False, False]  # names only, no tokens

    forged = Store(tmp_path / "forged.db")
    record_run(forged, "r1", [judged_case("c1", [("x", True, P)])])
    with pytest.raises(StoreError, match="changed after the lock"):
        forged.import_review(exported, [ratings[0]], 5.0)
    assert forged.ratings() == []  # all or nothing
    with pytest.raises(StoreError, match="does not hold"):
        Store(tmp_path / "empty.db").import_review(exported, ratings, 5.0)


def test_two_raters_writing_at_once_lose_nothing(store: Store) -> None:
    """Two handles (as two server threads or processes would have) write 150 ratings each,
    released together; every rating lands, each in its own transaction."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def rate(name: str) -> None:
        try:
            with Store(store.path) as handle:
                start.wait(timeout=10)
                for i in range(150):
                    handle.add_ratings([rating(name, i % 6, "pass", 100.0 + i)])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=rate, args=(name,)) for name in ("alice", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads) and errors == []
    found = store.ratings("run:r1")
    assert len(found) == 300
    assert {r.rater: sum(1 for x in found if x.rater == r.rater) for r in found} == {
        "alice": 150,
        "bob": 150,
    }


def test_a_rating_racing_a_lock_is_either_in_the_digest_or_refused(store: Store) -> None:
    start = threading.Barrier(2)
    refused: list[int] = []

    def rate() -> None:
        with Store(store.path) as handle:
            start.wait(timeout=10)
            for i in range(200):
                try:
                    handle.add_ratings([rating("bob", i % 6, "fail", 200.0 + i)])
                except StoreError:
                    refused.append(i)

    def lock() -> None:
        with Store(store.path) as handle:
            start.wait(timeout=10)
            handle.lock_review_set("run:r1", "alice", 300.0)

    threads = [threading.Thread(target=rate), threading.Thread(target=lock)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    locked = store.review_set("run:r1").lock
    assert locked is not None
    kept = store.ratings("run:r1")
    assert len(kept) + len(refused) == 200
    assert store.current_digest("run:r1") == (locked.ratings, locked.digest)
