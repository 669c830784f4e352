"""The run store: one SQLite file holding runs, their case results and the generation cache.

Several pytest-xdist workers open the same file and write at once, so every write is a short
``BEGIN IMMEDIATE`` transaction and every insert is idempotent: a run is created by whichever
worker comes first, a re-recorded case replaces the earlier record. Taking the write lock up
front matters: a transaction that reads first and then writes is refused at once ("database is
locked") when another process wrote in between, without waiting out the busy timeout.
WAL lets readers go on while one process writes; ``synchronous=NORMAL`` keeps a commit free of
fsync, at the price of the last commits (never consistency) on a power cut.
Outputs are kept once per distinct text and cut to a cap, prompts once per distinct text
(:mod:`promptcheck.store.texts`); error texts and check reasons are scrubbed of secrets as they
are written.
Layout and migrations live in :mod:`promptcheck.store.schema`; docs/store.md describes both.
"""

from __future__ import annotations

import enum
import functools
import json
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, NamedTuple

from promptcheck.backends.base import Generation
from promptcheck.checks.base import Status
from promptcheck.config import MAX_STORED_OUTPUT_CHARS
from promptcheck.errors import StoreError
from promptcheck.redaction import REDACTED, redact_secrets, scrub_text
from promptcheck.results import CaseResult, CheckOutcome, CheckTally, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.reviews import ReviewRecords
from promptcheck.store.schema import SCHEMA_VERSION, migrate
from promptcheck.store.texts import TextRow, shown_text, text_digest, text_row
from promptcheck.store.usage import combine, usage_by_model

__all__ = [
    "REDACTED",
    "SCHEMA_VERSION",
    "RunInfo",
    "RunStatus",
    "RunSummary",
    "Store",
    "redact_secrets",
]

_BUSY_TIMEOUT_S = 30.0
# Bound parameters per statement: well under SQLite's historical limit of 999.
_CHUNK = 900
_CACHED_FIELDS = attrgetter(
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "finish_reason",
    "served_model",
    "served_fingerprint",
)
# After the output's text id, the scrubbed error and the formatted prompt's id: ``status`` is
# derived, and stored so that SQL can count by it; ``cached`` binds as 0 or 1.
_SAMPLE_FIELDS = attrgetter(
    "status",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "cached",
    "cache_key",
)
# Status is a str enum, so SQLite stores its value; the reason goes through scrub_text.
_CHECK_FIELDS = attrgetter("index", "label", "status")
# Reads by primary-key order, so that SQLite needs no sort.
_CASES_OF_RUN = "(SELECT id FROM cases WHERE run_id = ?)"
_STATUS = {status.value: status for status in Status}
# A case whose samples were drawn and none scored (results.case_status), in SQL.
_NOTHING_SCORED = "(c.n = 0 AND c.sample_count > 0)"


class RunStatus(enum.StrEnum):
    """Where a run stands: ``running`` from its creation until a session closes it, as
    ``finished`` or ``interrupted``. A run whose process was killed stays ``running``."""

    RUNNING = "running"
    FINISHED = "finished"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunInfo:
    """What identifies a run: one session against one model. ``suites`` maps path -> sha256."""

    id: str
    session: str
    model: str
    model_spec: Mapping[str, Any]
    started_at: float
    label: str | None = None
    git_commit: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    suites: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSummary(RunInfo):
    """A stored run with its counts; ``passed``/``failed``/``undecided``/``errored`` count cases
    by what reports call them (:func:`promptcheck.results.case_status`): ``errored`` those whose
    samples were drawn and none could be scored, whatever their verdict (undecided) says."""

    finished_at: float | None = None
    cases: int = 0
    samples: int = 0
    passed: int = 0
    failed: int = 0
    undecided: int = 0
    #: What the run's model cost (:mod:`promptcheck.store.usage`); None when nothing was recorded.
    usage: Mapping[str, Any] | None = None
    #: None for a run recorded before statuses were (schema 3): whether it was cut short is unknown.
    status: RunStatus | None = None
    errored: int = 0

    @property
    def state(self) -> str:
        """The status for listings: ``unfinished`` for a run never closed (still running, or its
        process was killed), ``unknown`` for a closed run recorded before statuses were."""
        if self.finished_at is None:
            return "unfinished"
        return self.status.value if self.status is not None else "unknown"


class Store(ReviewRecords):
    """A handle on one store file; cheap to open, safe to share between threads of one process.

    Every public method either does what it says or raises :class:`StoreError`; a raw
    ``sqlite3`` exception escaping from here is a bug. Human review's raters, ratings, locks and
    judge calibrations are read and written by the methods of
    :class:`~promptcheck.store.reviews.ReviewRecords`.
    """

    def __init__(self, path: str | Path, *, max_output_chars: int | None = None) -> None:
        """``max_output_chars``: outputs longer than this are stored cut (default
        :data:`~promptcheck.config.MAX_STORED_OUTPUT_CHARS`); it bounds what this handle writes."""
        if max_output_chars is not None and max_output_chars < 1:
            raise ValueError(f"max_output_chars must be at least 1, not {max_output_chars}")
        self.path = Path(path)
        self.max_output_chars = max_output_chars or MAX_STORED_OUTPUT_CHARS
        self._lock = threading.RLock()
        self._connection = self._open()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock, suppress(sqlite3.Error):
            self._connection.close()

    # -- runs -------------------------------------------------------------------------------

    def create_run(self, run: RunInfo) -> None:
        """Record ``run``; every xdist worker calls this with the same id, and the first wins.

        Later calls fill in a missing label or commit, keep the earliest start and add the suites
        they know of. A different model under an existing id is a caller's bug and is refused.
        """
        spec = _dumps(redact_secrets(run.model_spec))
        versions = _dumps(dict(run.versions))
        with self._transaction(f"creating run {run.id!r}") as connection:
            row = connection.execute("SELECT model FROM runs WHERE id = ?", (run.id,)).fetchone()
            if row is None:
                connection.execute(
                    "INSERT INTO runs (id, session, model, model_spec, started_at, label,"
                    " git_commit, versions, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        run.id,
                        run.session,
                        run.model,
                        spec,
                        run.started_at,
                        run.label,
                        run.git_commit,
                        versions,
                        RunStatus.RUNNING.value,
                    ),
                )
            elif row[0] != run.model:
                raise StoreError(
                    f"{self.path}: run {run.id!r} already exists for model {row[0]!r}, "
                    f"not {run.model!r}"
                )
            else:
                connection.execute(
                    "UPDATE runs SET label = coalesce(label, ?), git_commit = coalesce(git_commit,"
                    " ?), started_at = min(started_at, ?) WHERE id = ?",
                    (run.label, run.git_commit, run.started_at, run.id),
                )
            connection.executemany(
                "INSERT OR IGNORE INTO run_suites (run_id, path, sha256) VALUES (?, ?, ?)",
                [(run.id, path, digest) for path, digest in run.suites.items()],
            )

    def finish_run(
        self, run_id: str, finished_at: float, status: RunStatus = RunStatus.FINISHED
    ) -> None:
        """Close a run as ``finished`` or ``interrupted``. With several xdist workers closing the
        same run, the last end is kept and an interruption seen by any of them sticks."""
        status = RunStatus(status)
        if status is RunStatus.RUNNING:
            raise ValueError("a run is closed as finished or interrupted, not running")
        with self._transaction(f"finishing run {run_id!r}") as connection:
            updated = connection.execute(
                "UPDATE runs SET finished_at = max(coalesce(finished_at, ?), ?),"
                " status = CASE WHEN status = ? THEN status ELSE ? END WHERE id = ?",
                (
                    finished_at,
                    finished_at,
                    RunStatus.INTERRUPTED.value,
                    status.value,
                    run_id,
                ),
            ).rowcount
            if not updated:
                raise StoreError(f"{self.path}: no run {run_id!r} to finish")

    def record_session_usage(
        self, run_ids_by_model: Mapping[str, str], backends: Mapping[Any, object]
    ) -> None:
        """Store each run's usage with the run: the usage of the backends of its model.

        Models without a run (judges) are not recorded; their usage is in ``usage_lines``.
        Each pytest-xdist worker records its own backends' usage and the store adds them up.
        """
        for name, usage in usage_by_model(backends).items():
            run_id = run_ids_by_model.get(name)
            if run_id is not None:
                self.record_usage(run_id, usage)

    def record_usage(self, run_id: str, usage: Mapping[str, Any]) -> None:
        """Add ``usage`` (requests, tokens, cost: :func:`promptcheck.store.usage.backend_usage`) to
        the run's; each xdist worker records its own backends' usage, and they add up."""
        with self._transaction(f"recording the usage of run {run_id!r}") as connection:
            row = connection.execute("SELECT usage FROM runs WHERE id = ?", (run_id,)).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no run {run_id!r} to record usage for")
            earlier = [json.loads(row[0])] if row[0] else []
            total = combine([*earlier, usage])
            connection.execute("UPDATE runs SET usage = ? WHERE id = ?", (_dumps(total), run_id))

    def runs(self, limit: int = 50) -> list[RunSummary]:
        """The ``limit`` most recently started runs, newest first."""
        with self._transaction("listing runs", "DEFERRED") as connection:
            return self._summaries(connection, None, limit)

    def run(self, ref: str) -> RunSummary:
        """The run named by ``ref``: an exact id, else a unique id prefix, else the newest run
        carrying ``ref`` as its label. Ambiguity is an error that lists the candidates."""
        if not ref:
            raise StoreError(f"{self.path}: an empty run reference names no run")
        with self._transaction(f"looking up run {ref!r}", "DEFERRED") as connection:
            exact = self._summaries(connection, ref, 1)
            if exact:
                return exact[0]
            prefixed = [
                row[0]
                for row in connection.execute(
                    "SELECT id FROM runs WHERE substr(id, 1, ?) = ?"
                    " ORDER BY started_at DESC, id DESC LIMIT 11",
                    (len(ref), ref),
                )
            ]
            if len(prefixed) == 1:
                return self._summaries(connection, prefixed[0], 1)[0]
            labelled = connection.execute(
                "SELECT id FROM runs WHERE label = ? ORDER BY started_at DESC, id DESC LIMIT 1",
                (ref,),
            ).fetchone()
            if labelled is not None:
                return self._summaries(connection, labelled[0], 1)[0]
            if prefixed:
                candidates = [self._summaries(connection, id_, 1)[0] for id_ in prefixed[:10]]
                more = " ..." if len(prefixed) > 10 else ""
                raise StoreError(
                    f"{self.path}: run reference {ref!r} is ambiguous; it is a prefix of"
                    f"{_listing(candidates)}{more}"
                )
            recent = self._summaries(connection, None, 5)
            known = f"; recent runs:{_listing(recent)}" if recent else "; the store has no runs"
            raise StoreError(f"{self.path}: no run id, id prefix or label matches {ref!r}{known}")

    # -- generation cache -------------------------------------------------------------------

    def cached_generations(self, keys: Sequence[str]) -> dict[str, Generation]:
        """The cached generation of each key that has one; keys without one are simply absent."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Generation] = {}
        if not unique:
            return found
        with self._transaction("reading the generation cache", "DEFERRED") as connection:
            cursor = connection.cursor()
            cursor.row_factory = None  # plain tuples: this is the hot path of a cached re-run
            for start in range(0, len(unique), _CHUNK):
                chunk = unique[start : start + _CHUNK]
                cursor.execute(
                    "SELECT g.key, t.text, NULL, p.text, g.prompt_tokens,"
                    " g.completion_tokens, g.latency_s, g.finish_reason, g.served_model,"
                    " g.served_fingerprint FROM generation_cache AS g"
                    " JOIN texts AS t ON t.id = g.text_id"
                    " LEFT JOIN prompts AS p ON p.id = g.formatted_prompt_id"
                    f" WHERE g.key IN ({_marks(chunk)})",
                    chunk,
                )
                # Positional arguments in Generation's field order (hence the NULL error column)
                # build it markedly faster than keywords; the round-trip test guards the order.
                for row in cursor:
                    found[row[0]] = Generation(*row[1:])
        return found

    def cache_generations(self, items: Sequence[tuple[str, Generation]]) -> None:
        """Cache successful generations under their keys; an error is never cached, so that a
        re-run retries what failed instead of replaying the failure. Nor is a text longer than
        the cap: a re-run samples it again rather than scoring a cut text."""
        now = time.time()
        texts = _TextRows(self.max_output_chars)
        prompts = _PromptRows()
        rows = [
            (
                key,
                texts.add(generation.text),
                prompts.add_optional(generation.formatted_prompt),
                *_CACHED_FIELDS(generation),
                now,
            )
            for key, generation in items
            if generation.error is None
            and generation.text is not None
            and len(generation.text) <= self.max_output_chars
        ]
        if not rows:
            return
        with self._transaction("writing the generation cache") as connection:
            ids = texts.write(connection)
            prompt_ids = prompts.write(connection)
            connection.executemany(
                "INSERT OR REPLACE INTO generation_cache (key, text_id, formatted_prompt_id,"
                " prompt_tokens, completion_tokens, latency_s, finish_reason, served_model,"
                " served_fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (key, ids[digest], prompt_ids.get(shown), *rest)
                    for key, digest, shown, *rest in rows
                ],
            )

    # -- case results -----------------------------------------------------------------------

    def record_case(self, run_id: str, result: CaseResult) -> None:
        """Store one case result in one transaction, replacing an earlier record of the same case
        and model in this run (a re-run item, ``--lf``), so no case is ever counted twice."""
        verdict = result.verdict
        case_row = (
            run_id,
            result.suite_path,
            result.case_id,
            result.model,
            result.suite,
            Outcome(verdict.outcome).value,
            verdict.k,
            verdict.n,
            verdict.threshold,
            verdict.tolerance,
            verdict.interval[0],
            verdict.interval[1],
            verdict.explanation,
            len(result.samples),
            _dumps(list(result.tags)),
            _dumps(dict(result.properties)),
            time.time(),
        )
        encoded: dict[int, str] = {}  # samples of one combination usually share their variables
        texts = _TextRows(self.max_output_chars)
        prompts = _PromptRows()
        scrubbed = functools.cache(scrub_text)  # check reasons repeat across samples
        sample_rows = []
        for pos, sample in enumerate(result.samples):
            variables = encoded.get(id(sample.variables))
            if variables is None:
                variables = encoded[id(sample.variables)] = _dumps(dict(sample.variables))
            output = None if sample.output is None else texts.add(sample.output)
            error = None if sample.error is None else scrubbed(sample.error)
            sample_rows.append(
                (
                    pos,
                    sample.index,
                    sample.combination,
                    variables,
                    prompts.add(sample.prompt),
                    sample.seed,
                    output,
                    error,
                    prompts.add_optional(sample.formatted_prompt),
                    *_SAMPLE_FIELDS(sample),
                )
            )
        check_rows = [
            (pos, check_pos, *_CHECK_FIELDS(check), scrubbed(check.reason), check.score)
            for pos, sample in enumerate(result.samples)
            for check_pos, check in enumerate(sample.checks)
        ]
        tally_rows = [
            (pos, tally.index, tally.label, tally.passed, tally.failed, tally.unscored)
            for pos, tally in enumerate(result.tallies)
        ]
        what = f"recording case {result.suite_path}::{result.case_id}[{result.model}]"
        with self._transaction(what) as connection:
            self._require_run(connection, run_id)
            connection.execute(
                "DELETE FROM cases WHERE run_id = ? AND suite_path = ? AND case_id = ?"
                " AND model = ?",
                case_row[:4],
            )
            case_pk = connection.execute(
                "INSERT INTO cases (run_id, suite_path, case_id, model, suite, outcome, k, n,"
                " threshold, tolerance, interval_low, interval_high, explanation, sample_count,"
                " tags, properties, recorded_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                case_row,
            ).lastrowid
            ids = texts.write(connection)
            prompt_ids = prompts.write(connection)
            connection.executemany(
                "INSERT INTO samples (case_pk, pos, idx, combination, variables, prompt,"
                " prompt_id, seed, output_id, error, formatted_prompt_id, status,"
                " prompt_tokens, completion_tokens, latency_s, cached, cache_key)"
                " VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    # the digests of prompt, output and formatted prompt become their row ids
                    (
                        case_pk,
                        *row[:4],
                        prompt_ids[row[4]],
                        row[5],
                        None if row[6] is None else ids[row[6]],
                        row[7],
                        None if row[8] is None else prompt_ids[row[8]],
                        *row[9:],
                    )
                    for row in sample_rows
                ],
            )
            connection.executemany(
                "INSERT INTO check_results (case_pk, pos, check_pos, idx, label, status, reason,"
                " score) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(case_pk, *row) for row in check_rows],
            )
            connection.executemany(
                "INSERT INTO case_tallies (case_pk, pos, idx, label, passed, failed, unscored)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(case_pk, *row) for row in tally_rows],
            )

    def case_results(self, run_id: str) -> list[CaseResult]:
        """Every case of a run rebuilt as recorded, ordered by suite path, case id and model.

        Variables and properties come back as their JSON form: tuples become lists and values
        JSON cannot hold come back as their ``str``.
        """
        with self._transaction(f"reading the cases of run {run_id!r}", "DEFERRED") as connection:
            self._require_run(connection, run_id)
            return self._case_results(connection, run_id)

    def export_run(self, run_id: str) -> dict[str, Any]:
        """A run with all its cases, samples and checks as plain JSON-ready data; each sample
        also says its output's full length and whether only its first characters are stored."""
        lengths: dict[int, dict[int, _Lengths]] = defaultdict(dict)
        with self._transaction(f"exporting run {run_id!r}", "DEFERRED") as connection:
            found = self._summaries(connection, run_id, 1)
            if not found:
                raise StoreError(f"{self.path}: no run {run_id!r}")
            cases = self._case_results(connection, run_id, lengths)
        return {
            "schema_version": SCHEMA_VERSION,
            "run": asdict(found[0]),
            "cases": [_case_json(case, lengths[number]) for number, case in enumerate(cases)],
        }

    # -- plumbing ---------------------------------------------------------------------------

    def _case_results(
        self,
        connection: sqlite3.Connection,
        run_id: str,
        lengths: dict[int, dict[int, _Lengths]] | None = None,
    ) -> list[CaseResult]:
        """Every case of a run, read inside the caller's transaction; ``lengths`` (when given)
        receives each output's lengths by case position in the result, then sample position."""
        cases = connection.execute(
            "SELECT id, suite, suite_path, case_id, model, outcome, k, n, threshold,"
            " tolerance, interval_low, interval_high, explanation, tags, properties"
            " FROM cases WHERE run_id = ? ORDER BY suite_path, case_id, model",
            (run_id,),
        ).fetchall()
        checks = self._checks(connection, run_id)
        case_lengths: dict[tuple[int, int], _Lengths] = {}
        samples = self._samples(connection, run_id, checks, case_lengths)
        if lengths is not None:
            positions = {case["id"]: number for number, case in enumerate(cases)}
            for (case_pk, pos), found in case_lengths.items():
                lengths[positions[case_pk]][pos] = found
        tallies: dict[int, list[CheckTally]] = {}
        for case_pk, index, label, passed, failed, unscored in connection.execute(
            "SELECT case_pk, idx, label, passed, failed, unscored FROM case_tallies"
            f" WHERE case_pk IN {_CASES_OF_RUN} ORDER BY case_pk, pos",
            (run_id,),
        ):
            tallies.setdefault(case_pk, []).append(
                CheckTally(index, label, passed, failed, unscored)
            )
        return [
            CaseResult(
                suite=case["suite"],
                suite_path=case["suite_path"],
                case_id=case["case_id"],
                model=case["model"],
                samples=tuple(samples.get(case["id"], ())),
                verdict=ThresholdVerdict(
                    Outcome(case["outcome"]),
                    case["k"],
                    case["n"],
                    case["threshold"],
                    case["tolerance"],
                    (case["interval_low"], case["interval_high"]),
                    case["explanation"],
                ),
                tallies=tuple(tallies.get(case["id"], ())),
                tags=tuple(json.loads(case["tags"])),
                properties=json.loads(case["properties"]),
            )
            for case in cases
        ]

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path}: cannot create the store's directory: {exc}") from exc
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=_BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.row_factory = sqlite3.Row
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open the promptcheck store: {exc}") from exc
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
            connection.execute("PRAGMA foreign_keys = ON")
            # Migrate (or refuse a foreign or newer file) before switching to WAL, which is
            # itself a change to the file.
            migrate(connection, self.path)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            connection.close()
            if "not a database" in str(exc):
                raise StoreError(
                    f"{self.path} is not an SQLite database, so not a promptcheck store; use "
                    "another --promptcheck-store or move the file away"
                ) from exc
            raise StoreError(f"{self.path}: cannot open the promptcheck store: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        return connection

    @contextmanager
    def _transaction(self, action: str, mode: str = "IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """Run the body in one transaction and turn any SQLite error into a StoreError.

        Writers take the lock with ``IMMEDIATE``; readers use ``DEFERRED`` for one consistent
        snapshot across the several queries of a read.
        """
        with self._lock:
            connection = self._connection
            try:
                connection.execute(f"BEGIN {mode}")
                try:
                    yield connection
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        with suppress(sqlite3.Error):
                            connection.execute("ROLLBACK")
                    raise
            except (sqlite3.Error, OverflowError, UnicodeEncodeError) as exc:
                hint = ""
                if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                    hint = f" (another process held the write lock for over {_BUSY_TIMEOUT_S:g} s)"
                raise StoreError(f"{self.path}: {action} failed: {exc}{hint}") from exc

    def _require_run(self, connection: sqlite3.Connection, run_id: str) -> None:
        if connection.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
            raise StoreError(f"{self.path}: no run {run_id!r} (create_run must come first)")

    def _checks(
        self, connection: sqlite3.Connection, run_id: str
    ) -> dict[tuple[int, int], list[CheckOutcome]]:
        """A run's check outcomes by (case row, sample position), in their recorded order."""
        checks: dict[tuple[int, int], list[CheckOutcome]] = defaultdict(list)
        cursor = connection.cursor()
        cursor.row_factory = None  # tuples: a run easily has 100,000 check outcomes
        for case_pk, pos, index, label, status, reason, score in cursor.execute(
            "SELECT case_pk, pos, idx, label, status, reason, score FROM check_results"
            f" WHERE case_pk IN {_CASES_OF_RUN} ORDER BY case_pk, pos, check_pos",
            (run_id,),
        ):
            checks[case_pk, pos].append(CheckOutcome(index, label, _STATUS[status], reason, score))
        return checks

    def _samples(
        self,
        connection: sqlite3.Connection,
        run_id: str,
        checks: Mapping[tuple[int, int], list[CheckOutcome]],
        lengths: dict[tuple[int, int], _Lengths],
    ) -> dict[int, list[SampleOutcome]]:
        """A run's samples by case row; ``lengths`` receives each output's lengths by (case row,
        position). Samples of one combination share one variables dict."""
        samples: dict[int, list[SampleOutcome]] = defaultdict(list)
        parsed: dict[str, Any] = {}
        cursor = connection.cursor()
        cursor.row_factory = None
        for row in cursor.execute(
            "SELECT s.case_pk, s.pos, s.idx, s.combination, s.variables, p.text, s.seed,"
            " t.text, s.error, f.text, s.prompt_tokens, s.completion_tokens,"
            " s.latency_s, s.cached, s.cache_key, t.length FROM samples AS s"
            " JOIN prompts AS p ON p.id = s.prompt_id"
            " LEFT JOIN prompts AS f ON f.id = s.formatted_prompt_id"
            " LEFT JOIN texts AS t ON t.id = s.output_id"
            f" WHERE s.case_pk IN {_CASES_OF_RUN} ORDER BY s.case_pk, s.pos",
            (run_id,),
        ):
            variables = parsed.get(row[4])
            if variables is None:
                variables = parsed[row[4]] = json.loads(row[4])
            output = row[7]
            if output is not None:
                lengths[row[0], row[1]] = _Lengths(row[15], len(output))
                output = shown_text(output, row[15])
            samples[row[0]].append(
                SampleOutcome(
                    index=row[2],
                    combination=row[3],
                    variables=variables,
                    prompt=row[5],
                    seed=row[6],
                    output=output,
                    checks=tuple(checks.get((row[0], row[1]), ())),
                    error=row[8],
                    formatted_prompt=row[9],
                    prompt_tokens=row[10],
                    completion_tokens=row[11],
                    latency_s=row[12],
                    cached=bool(row[13]),
                    cache_key=row[14],
                )
            )
        return samples

    def _summaries(
        self, connection: sqlite3.Connection, run_id: str | None, limit: int
    ) -> list[RunSummary]:
        """Summaries of one run (``run_id``) or of the newest ``limit`` runs."""
        where, params = ("WHERE id = ?", (run_id,)) if run_id is not None else ("", ())
        rows = connection.execute(
            "SELECT r.id, r.session, r.model, r.model_spec, r.started_at, r.label, r.git_commit,"
            " r.versions, r.finished_at, r.usage, r.status, count(c.id) AS cases,"
            " coalesce(sum(c.sample_count), 0) AS samples,"
            f" coalesce(sum(c.outcome = 'pass' AND NOT {_NOTHING_SCORED}), 0) AS passed,"
            f" coalesce(sum(c.outcome = 'fail' AND NOT {_NOTHING_SCORED}), 0) AS failed,"
            f" coalesce(sum(c.outcome = 'undecided' AND NOT {_NOTHING_SCORED}), 0) AS undecided,"
            f" coalesce(sum({_NOTHING_SCORED}), 0) AS errored"
            f" FROM (SELECT * FROM runs {where} ORDER BY started_at DESC, id DESC LIMIT ?) AS r"
            " LEFT JOIN cases AS c ON c.run_id = r.id"
            " GROUP BY r.id ORDER BY r.started_at DESC, r.id DESC",
            (*params, limit),
        ).fetchall()
        suites: dict[str, dict[str, str]] = {row[0]: {} for row in rows}
        ids = list(suites)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for id_, path, digest in connection.execute(
                "SELECT run_id, path, sha256 FROM run_suites"
                f" WHERE run_id IN ({_marks(chunk)}) ORDER BY run_id, path",
                chunk,
            ):
                suites[id_][path] = digest
        return [
            RunSummary(
                id=row["id"],
                session=row["session"],
                model=row["model"],
                model_spec=json.loads(row["model_spec"]),
                started_at=row["started_at"],
                label=row["label"],
                git_commit=row["git_commit"],
                versions=json.loads(row["versions"]),
                suites=suites[row["id"]],
                finished_at=row["finished_at"],
                cases=row["cases"],
                samples=row["samples"],
                passed=row["passed"],
                failed=row["failed"],
                undecided=row["undecided"],
                errored=row["errored"],
                usage=json.loads(row["usage"]) if row["usage"] else None,
                status=RunStatus(row["status"]) if row["status"] else None,
            )
            for row in rows
        ]


class _Lengths(NamedTuple):
    """A stored output's length in characters: the model's whole output, and what is kept."""

    full: int
    stored: int


class _DistinctTexts:
    """The distinct texts of one write to a content-addressed table, each hashed once however
    many samples share it: a 300 KB prompt drawn 200 times is hashed and written once."""

    #: The table, and the statement that stores one of :meth:`_row`'s rows in it.
    _TABLE: ClassVar[str]
    _INSERT: ClassVar[str]

    def __init__(self) -> None:
        self._digests: dict[str, str] = {}
        self._rows: dict[str, tuple[Any, ...]] = {}

    def _row(self, text: str) -> tuple[Any, ...]:
        """The row that stores ``text``, its digest first."""
        raise NotImplementedError

    def add(self, text: str) -> str:
        """Take ``text`` into the write; its digest, by which :meth:`write` gives its id."""
        digest = self._digests.get(text)
        if digest is None:
            row = self._row(text)
            digest = self._digests[text] = row[0]
            self._rows[digest] = row
        return digest

    def add_optional(self, text: str | None) -> str | None:
        """:meth:`add`, passing None through."""
        return None if text is None else self.add(text)

    def write(self, connection: sqlite3.Connection) -> dict[str, int]:
        """Store the texts not stored yet and return every text's id by digest."""
        if not self._rows:
            return {}
        connection.executemany(self._INSERT, list(self._rows.values()))
        ids: dict[str, int] = {}
        digests = list(self._rows)
        for start in range(0, len(digests), _CHUNK):
            chunk = digests[start : start + _CHUNK]
            for digest, id_ in connection.execute(
                f"SELECT sha256, id FROM {self._TABLE} WHERE sha256 IN ({_marks(chunk)})", chunk
            ):
                ids[digest] = id_
        return ids


class _TextRows(_DistinctTexts):
    """Outputs, cut to the cap. A text already stored keeps its row; if this write holds more of
    it (a larger cap), the longer prefix replaces the shorter one (both are prefixes of one
    text, so the longer compares greater), and no text is ever shortened."""

    _TABLE = "texts"
    _INSERT = (
        "INSERT INTO texts (sha256, text, length) VALUES (?, ?, ?)"
        " ON CONFLICT (sha256) DO UPDATE SET text = excluded.text"
        " WHERE excluded.text > texts.text"
    )

    def __init__(self, max_chars: int) -> None:
        super().__init__()
        self._max_chars = max_chars

    def _row(self, text: str) -> tuple[Any, ...]:
        row: TextRow = text_row(text, self._max_chars)
        return row.sha256, row.text, row.length


class _PromptRows(_DistinctTexts):
    """Prompts and formatted prompts, whole (rendering bounds their size)."""

    _TABLE = "prompts"
    _INSERT = "INSERT INTO prompts (sha256, text) VALUES (?, ?) ON CONFLICT (sha256) DO NOTHING"

    def _row(self, text: str) -> tuple[Any, ...]:
        return text_digest(text), text


def _marks(values: Sequence[object]) -> str:
    """``?, ?, ?``: one placeholder per value, for an ``IN (...)`` list."""
    return ", ".join("?" * len(values))


def _dumps(value: Any) -> str:
    """Compact JSON; ``str`` for what JSON cannot hold, ASCII so a lone surrogate cannot fail."""
    return json.dumps(value, separators=(",", ":"), default=str)


def _case_json(case: CaseResult, lengths: Mapping[int, _Lengths]) -> dict[str, Any]:
    """``asdict`` with enums as their values, plus the derived case status and reason, sample
    status and rate, and each output's full length and whether it was cut (``lengths`` by
    sample position)."""
    data = asdict(case, dict_factory=_json_fields)
    data["status"] = case.status
    data["reason"] = case.reason
    data["verdict"]["rate"] = case.verdict.rate
    for pos, (sample, sample_data) in enumerate(zip(case.samples, data["samples"], strict=True)):
        sample_data["status"] = sample.status
        found = lengths.get(pos)
        sample_data["output_length"] = None if found is None else found.full
        sample_data["output_truncated"] = found is not None and found.stored < found.full
    return data


def _json_fields(items: list[tuple[str, Any]]) -> dict[str, Any]:
    fields = {}
    for key, value in items:
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        fields[key] = value
    return fields


def _listing(runs: Sequence[RunSummary]) -> str:
    lines = []
    for run in runs:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started_at))
        label = f", label {run.label!r}" if run.label else ""
        lines.append(f"\n  {run.id} ({run.model}{label}, started {when})")
    return "".join(lines)
