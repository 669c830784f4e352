"""The run store's tables and the migrations that build them, one schema version at a time.

The schema version lives in ``PRAGMA user_version``. Migration ``n`` brings a database from
version ``n - 1`` to ``n``; every pending step runs inside one ``BEGIN IMMEDIATE`` transaction, so
several processes opening an old (or brand-new) file at once migrate it exactly once, and a step
that fails leaves the file at its old version. Steps are plain SQL statements rather than
``executescript`` text because ``executescript`` commits the open transaction first; a step that
SQL alone cannot express (hashing texts) is a Python function given the connection, inside the
same transaction.

A released step is never edited: a change to the layout is a new step appended to
:data:`MIGRATIONS`, with a committed database of the previous version in ``tests/data/stores/``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from promptcheck.errors import StoreError
from promptcheck.store.texts import text_digest

#: One statement of a migration: SQL, or a Python function run with the migrating connection.
Step = str | Callable[[sqlite3.Connection], None]


@dataclass(frozen=True)
class Migration:
    """The statements that bring a database from ``version - 1`` to ``version``, in order."""

    version: int
    description: str
    statements: tuple[Step, ...]


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


def _move_texts_into_table(connection: sqlite3.Connection) -> None:
    """Move every sample output and cached text into ``texts``, once per distinct text.

    SQLite has no SHA-256, and its ``length()`` stops at a NUL, so both come from Python
    functions registered for this step only. Texts are moved whole: the cap applies to writes.
    """
    functions: dict[str, Callable[[str], str | int]] = {
        "promptcheck_sha256": text_digest,
        "promptcheck_length": len,
    }
    for name, function in functions.items():
        connection.create_function(name, 1, function, deterministic=True)
    try:
        for table, column in (("samples", "output"), ("generation_cache", "text")):
            connection.execute(
                "INSERT OR IGNORE INTO texts (sha256, text, length)"
                f" SELECT promptcheck_sha256({column}), {column}, promptcheck_length({column})"
                f" FROM {table} WHERE {column} IS NOT NULL"
            )
        connection.execute(
            "UPDATE samples SET output_id = (SELECT id FROM texts"
            " WHERE sha256 = promptcheck_sha256(samples.output)), output = NULL"
            " WHERE output IS NOT NULL"
        )
        connection.execute(
            "INSERT INTO generation_cache_v3 (key, text_id, formatted_prompt, prompt_tokens,"
            " completion_tokens, latency_s, finish_reason, created_at)"
            # g.text: inside the subquery a bare ``text`` would be texts.text
            " SELECT g.key, (SELECT id FROM texts WHERE sha256 = promptcheck_sha256(g.text)),"
            " g.formatted_prompt, g.prompt_tokens, g.completion_tokens, g.latency_s,"
            " g.finish_reason, g.created_at FROM generation_cache AS g"
        )
    finally:
        for name in functions:
            connection.create_function(name, 1, None)


_V3 = Migration(
    3,
    "outputs stored once in texts (content-addressed, cut to a cap) and a run's status",
    (
        """
        CREATE TABLE texts (
            id     INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,        -- of the full text's UTF-8 form
            text   TEXT NOT NULL,               -- the full text, or its first characters
            length INTEGER NOT NULL             -- the full text's length in characters
        )
        """,
        # samples.output stays (ALTER TABLE DROP COLUMN needs SQLite 3.35), always NULL from now.
        "ALTER TABLE samples ADD COLUMN output_id INTEGER REFERENCES texts (id)",
        # Nothing refers to the cache, so it is rebuilt without its text column.
        """
        CREATE TABLE generation_cache_v3 (
            key               TEXT PRIMARY KEY,
            text_id           INTEGER NOT NULL REFERENCES texts (id),
            formatted_prompt  TEXT,
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            latency_s         REAL NOT NULL,
            finish_reason     TEXT,
            created_at        REAL NOT NULL
        )
        """,
        _move_texts_into_table,
        "DROP TABLE generation_cache",
        "ALTER TABLE generation_cache_v3 RENAME TO generation_cache",
        # running when created, finished or interrupted when closed; NULL (unknown) before V3.
        "ALTER TABLE runs ADD COLUMN status TEXT",
    ),
)

_V4 = Migration(
    4,
    "human review: raters, review sets, ratings, locks and recorded judge calibrations",
    (
        """
        CREATE TABLE raters (
            id           INTEGER PRIMARY KEY,
            name         TEXT NOT NULL UNIQUE,
            token_sha256 TEXT UNIQUE,           -- of the login token; NULL: cannot log in
            created_at   REAL NOT NULL
        )
        """,
        """
        CREATE TABLE review_sets (
            id         TEXT PRIMARY KEY,        -- run:<run> or comparison:<run a>:<run b>
            kind       TEXT NOT NULL CHECK (kind IN ('run', 'comparison')),
            run_a      TEXT NOT NULL,
            run_b      TEXT,
            overlap    INTEGER NOT NULL CHECK (overlap >= 1),
            created_at REAL NOT NULL
        )
        """,
        # An item is a sample named by its natural key, not by cases.id: recording a case again
        # gives it a new row id, and a rating must outlive that. output_sha256 is what was rated.
        """
        CREATE TABLE ratings (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            set_id        TEXT NOT NULL REFERENCES review_sets (id),
            run_id        TEXT NOT NULL,
            suite_path    TEXT NOT NULL,
            case_id       TEXT NOT NULL,
            model         TEXT NOT NULL,
            sample        INTEGER NOT NULL,     -- SampleOutcome.index
            output_sha256 TEXT NOT NULL,
            rater_id      INTEGER NOT NULL REFERENCES raters (id),
            verdict       TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')),
            label         TEXT,
            note          TEXT,
            created_at    REAL NOT NULL,
            UNIQUE (set_id, run_id, suite_path, case_id, model, sample, rater_id, created_at)
        )
        """,
        "CREATE INDEX ratings_item ON ratings (run_id, suite_path, case_id, model, sample)",
        """
        CREATE TABLE review_locks (
            set_id    TEXT PRIMARY KEY REFERENCES review_sets (id),
            locked_at REAL NOT NULL,
            locked_by TEXT NOT NULL,
            ratings   INTEGER NOT NULL,
            digest    TEXT NOT NULL             -- sha256 of the canonical JSON of the ratings
        )
        """,
        # A rating is never changed or deleted (a change is a new rating), and a locked set takes
        # none: enforced by the file itself, whatever program writes to it. Editing the file by
        # hand can drop these; the lock's digest is what detects that.
        """
        CREATE TRIGGER ratings_never_change BEFORE UPDATE ON ratings
        BEGIN SELECT RAISE(ABORT, 'ratings are never changed: a change is a new rating'); END
        """,
        """
        CREATE TRIGGER ratings_never_go BEFORE DELETE ON ratings
        BEGIN SELECT RAISE(ABORT, 'ratings are never deleted'); END
        """,
        """
        CREATE TRIGGER ratings_stop_at_the_lock BEFORE INSERT ON ratings
        WHEN EXISTS (SELECT 1 FROM review_locks WHERE set_id = NEW.set_id)
        BEGIN SELECT RAISE(ABORT, 'the review set is locked'); END
        """,
        """
        CREATE TRIGGER locks_never_change BEFORE UPDATE ON review_locks
        BEGIN SELECT RAISE(ABORT, 'a lock is never changed'); END
        """,
        """
        CREATE TRIGGER locks_never_go BEFORE DELETE ON review_locks
        BEGIN SELECT RAISE(ABORT, 'a lock is never lifted'); END
        """,
        # What the locked ratings say of each judging check, and whether its verdicts gate: the
        # runner reads ``gates`` when it scores (run/judge_gates.py).
        """
        CREATE TABLE judge_calibrations (
            suite       TEXT NOT NULL,          -- the suite's name (cases.suite)
            case_id     TEXT NOT NULL,
            check_index INTEGER NOT NULL,
            judge       TEXT NOT NULL,          -- the judge model (the model under test for
                                                -- self_critique)
            label       TEXT NOT NULL,
            figures     TEXT NOT NULL,          -- JSON: counts, estimates, intervals, the floor
            gates       INTEGER NOT NULL,       -- 0: its verdicts are diagnostic only
            reason      TEXT NOT NULL,
            recorded_at REAL NOT NULL,
            PRIMARY KEY (suite, case_id, check_index, judge)
        ) WITHOUT ROWID
        """,
    ),
)

_V5 = Migration(
    5,
    "the model and fingerprint a hosted API said served each cached generation",
    (
        # NULL for generations cached before, and for local backends, which report none.
        "ALTER TABLE generation_cache ADD COLUMN served_model TEXT",
        "ALTER TABLE generation_cache ADD COLUMN served_fingerprint TEXT",
    ),
)


def _move_prompts_into_table(connection: sqlite3.Connection) -> None:
    """Move every sample's prompt and formatted prompt, and every cached formatted prompt, into
    ``prompts``, once per distinct text, and point the rows at them.

    SQLite has no SHA-256, so it comes from a Python function registered for this step only.
    ``samples.prompt`` is NOT NULL, so it is emptied rather than set to NULL.
    """
    connection.create_function("promptcheck_sha256", 1, text_digest, deterministic=True)
    try:
        for table, column in (
            ("samples", "prompt"),
            ("samples", "formatted_prompt"),
            ("generation_cache", "formatted_prompt"),
        ):
            connection.execute(
                "INSERT OR IGNORE INTO prompts (sha256, text)"
                f" SELECT promptcheck_sha256({column}), {column}"
                f" FROM {table} WHERE {column} IS NOT NULL"
            )
        found = "(SELECT id FROM prompts WHERE sha256 = promptcheck_sha256({}))"
        connection.execute(
            f"UPDATE samples SET prompt_id = {found.format('samples.prompt')}, prompt = ''"
        )
        for table in ("samples", "generation_cache"):
            connection.execute(
                f"UPDATE {table} SET formatted_prompt_id ="
                f" {found.format(f'{table}.formatted_prompt')}, formatted_prompt = NULL"
                " WHERE formatted_prompt IS NOT NULL"
            )
    finally:
        connection.create_function("promptcheck_sha256", 1, None)


_V6 = Migration(
    6,
    "prompts stored once in prompts (content-addressed), samples and cached generations "
    "pointing at them",
    (
        """
        CREATE TABLE prompts (
            id     INTEGER PRIMARY KEY,
            sha256 TEXT NOT NULL UNIQUE,        -- of the text's UTF-8 form
            text   TEXT NOT NULL                -- whole: rendering bounds a prompt's size
        )
        """,
        # samples.prompt and formatted_prompt, generation_cache.formatted_prompt stay (DROP
        # COLUMN needs SQLite 3.35): empty and NULL from now.
        "ALTER TABLE samples ADD COLUMN prompt_id INTEGER REFERENCES prompts (id)",
        "ALTER TABLE samples ADD COLUMN formatted_prompt_id INTEGER REFERENCES prompts (id)",
        "ALTER TABLE generation_cache ADD COLUMN formatted_prompt_id INTEGER"
        " REFERENCES prompts (id)",
        _move_prompts_into_table,
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2, _V3, _V4, _V5, _V6)
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
                    if isinstance(statement, str):
                        connection.execute(statement)
                    else:
                        statement(connection)
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
