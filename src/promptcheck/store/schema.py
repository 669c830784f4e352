"""The run store's tables and the migrations that build them, one schema version at a time.

The schema version lives in ``PRAGMA user_version``. Migration ``n`` brings a database from
version ``n - 1`` to ``n``; every pending step runs inside one ``BEGIN IMMEDIATE`` transaction, so
several processes opening an old (or brand-new) file at once migrate it exactly once, and a step
that fails leaves the file at its old version. Steps are plain SQL statements rather than
``executescript`` text because ``executescript`` commits the open transaction first.

A released step is never edited: a change to the layout is a new step appended to
:data:`MIGRATIONS`, with a committed database of the previous version in ``tests/data/stores/``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from promptcheck.errors import StoreError


@dataclass(frozen=True)
class Migration:
    """The statements that bring a database from ``version - 1`` to ``version``."""

    version: int
    description: str
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    "runs, suites, cases, samples, check results, tallies and the generation cache",
    (
        """
        CREATE TABLE runs (
            id          TEXT PRIMARY KEY,
            session     TEXT NOT NULL,
            model       TEXT NOT NULL,
            model_spec  TEXT NOT NULL,          -- JSON, secrets redacted
            started_at  REAL NOT NULL,          -- seconds since the epoch
            finished_at REAL,
            label       TEXT,
            git_commit  TEXT,
            versions    TEXT NOT NULL           -- JSON {package: version}
        )
        """,
        "CREATE INDEX runs_started ON runs (started_at)",
        "CREATE INDEX runs_label ON runs (label, started_at)",
        """
        CREATE TABLE run_suites (
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            path   TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            PRIMARY KEY (run_id, path)
        )
        """,
        """
        CREATE TABLE cases (
            id            INTEGER PRIMARY KEY,
            run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            suite_path    TEXT NOT NULL,
            case_id       TEXT NOT NULL,
            model         TEXT NOT NULL,
            suite         TEXT NOT NULL,
            outcome       TEXT NOT NULL,        -- stats.Outcome value
            k             INTEGER NOT NULL,
            n             INTEGER NOT NULL,
            threshold     REAL NOT NULL,
            tolerance     REAL NOT NULL,
            interval_low  REAL NOT NULL,
            interval_high REAL NOT NULL,
            explanation   TEXT NOT NULL,
            sample_count  INTEGER NOT NULL,
            tags          TEXT NOT NULL,        -- JSON list
            properties    TEXT NOT NULL,        -- JSON object
            recorded_at   REAL NOT NULL,
            UNIQUE (run_id, suite_path, case_id, model)
        )
        """,
        """
        CREATE TABLE case_tallies (
            case_pk  INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
            pos      INTEGER NOT NULL,          -- position in CaseResult.tallies
            idx      INTEGER NOT NULL,          -- CheckTally.index
            label    TEXT NOT NULL,
            passed   INTEGER NOT NULL,
            failed   INTEGER NOT NULL,
            unscored INTEGER NOT NULL,
            PRIMARY KEY (case_pk, pos)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE samples (
            case_pk           INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
            pos               INTEGER NOT NULL, -- position in CaseResult.samples
            idx               INTEGER NOT NULL, -- SampleOutcome.index
            combination       INTEGER NOT NULL,
            variables         TEXT NOT NULL,    -- JSON object
            prompt            TEXT NOT NULL,
            seed              INTEGER NOT NULL,
            output            TEXT,
            error             TEXT,
            status            TEXT NOT NULL,    -- derived: pass, fail, unscored, error
            formatted_prompt  TEXT,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            latency_s         REAL NOT NULL,
            cached            INTEGER NOT NULL,
            cache_key         TEXT NOT NULL,
            PRIMARY KEY (case_pk, pos)
        )
        """,
        """
        CREATE TABLE check_results (
            case_pk   INTEGER NOT NULL,
            pos       INTEGER NOT NULL,         -- the sample's position
            check_pos INTEGER NOT NULL,         -- position in SampleOutcome.checks
            idx       INTEGER NOT NULL,         -- CheckOutcome.index
            label     TEXT NOT NULL,
            status    TEXT NOT NULL,            -- checks.Status value
            reason    TEXT NOT NULL,
            score     REAL,
            PRIMARY KEY (case_pk, pos, check_pos),
            FOREIGN KEY (case_pk, pos) REFERENCES samples (case_pk, pos) ON DELETE CASCADE
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE generation_cache (
            key               TEXT PRIMARY KEY,
            text              TEXT NOT NULL,
            formatted_prompt  TEXT,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            latency_s         REAL NOT NULL,
            finish_reason     TEXT,
            created_at        REAL NOT NULL
        )
        """,
    ),
)

_V2 = Migration(
    2,
    "a run's usage: requests, retries, tokens and cost of its model",
    # JSON {requests, retries, failed_requests, prompt_tokens, completion_tokens, cost}, NULL
    # for runs recorded before usage was, or whose backend reports none.
    ("ALTER TABLE runs ADD COLUMN usage TEXT",),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
SCHEMA_VERSION: int = len(MIGRATIONS)


def schema_version(connection: sqlite3.Connection) -> int:
    """The version recorded in the file (0 for a new, empty database)."""
    row = connection.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def newer_schema_error(path: object, found: int, known: int) -> StoreError:
    return StoreError(
        f"{path}: this promptcheck reads store schema {known}, but the database was "
        f"written by a newer promptcheck (schema {found}); upgrade promptcheck or use another "
        "--promptcheck-store"
    )


def migrate(
    connection: sqlite3.Connection,
    path: object,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Bring the database up to ``len(migrations)`` and return the version it was at before.

    ``connection`` must be in autocommit mode (``isolation_level=None``) so that this function
    owns the transaction. ``path`` only words error messages. ``migrations`` is a parameter so
    that tests can prove the machinery with a step list of their own.
    """
    for position, step in enumerate(migrations, start=1):
        if step.version != position:
            raise ValueError(f"migration {step.version} is listed at position {position}")
    target = len(migrations)
    found = schema_version(connection)
    if found == target:
        return found
    if found > target:
        raise newer_schema_error(path, found, target)
    connection.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated between the first look and the write lock.
        found = schema_version(connection)
        if found > target:
            raise newer_schema_error(path, found, target)
        if found == 0 and _has_tables(connection):
            raise StoreError(
                f"{path}: an SQLite database that is not a promptcheck store "
                "(it has tables but no promptcheck schema version); use another "
                "--promptcheck-store"
            )
        for step in migrations[found:]:
            try:
                for statement in step.statements:
                    connection.execute(statement)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"{path}: migrating the store to schema {step.version} "
                    f"({step.description}) failed: {exc}"
                ) from exc
            connection.execute(f"PRAGMA user_version = {step.version:d}")
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return found


def _has_tables(connection: sqlite3.Connection) -> bool:
    row = connection.execute(
        "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    ).fetchone()
    return bool(row[0])
