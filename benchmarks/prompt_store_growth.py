"""How big the run store grows under a long prompt: schema 6 against the schema-5 layout.

Issue 14's store growth, second half: schema 3 stored each output once, but every sample row
still held its rendered prompt and its formatted prompt (what the model saw), and every cached
generation its formatted prompt again, so one case of 200 samples of a prompt carrying 300 KB of
context made a store of about 180 MB. Builds, in a temporary directory and in this one run, the
store of one case of N samples of one P-character prompt (its Dolly-formatted form a little
longer), every generation cached under its own key as the runner does, two ways:

  v5 layout   the baseline: a database migrated to schema 5 only (``MIGRATIONS[:5]``), written
              with the INSERT statements the schema-5 Store ran (that code is gone from here, so
              they are replayed; main's schema-5 code at a50c8b1 wrote a file of the same size)
  v6          the Store of this promptcheck (each distinct prompt once, in ``prompts``)

and prints each store's size (database and WAL, after closing) and its ratio to the v5 layout.
Usage: python benchmarks/prompt_store_growth.py [--samples 200] [--chars 300000]
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from store_growth import measure

from promptcheck.backends.base import Generation
from promptcheck.results import CaseResult, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import RunInfo, Store
from promptcheck.store.schema import MIGRATIONS, migrate
from promptcheck.store.texts import text_digest

RUN = RunInfo("bench-run", "bench", "model", {"backend": "local"}, 0.0)


def case(samples: int, chars: int) -> CaseResult:
    """One case of ``samples`` samples of one ``chars``-character prompt, short outputs."""
    prompt = ("Context: " + "the quick brown fox jumps over the lazy dog. " * chars)[:chars]
    formatted = f"### Instruction:\n{prompt}\n\n### Response:\n"
    drawn = tuple(
        SampleOutcome(
            n,
            0,
            {"context": "file.txt"},
            prompt,
            n,
            f"summary {n % 5}",
            formatted_prompt=formatted,
            prompt_tokens=chars // 4,
            completion_tokens=3,
            cache_key=f"key-{n}",
        )
        for n in range(samples)
    )
    verdict = ThresholdVerdict(Outcome.PASS, samples, samples, 0.9, 0.05, (0.9, 1.0), "")
    return CaseResult("bench", "bench.yaml", "long-context", "model", drawn, verdict)


def generations(result: CaseResult) -> list[tuple[str, Generation]]:
    return [
        (s.cache_key, Generation(s.output, None, s.formatted_prompt, s.prompt_tokens, 3))
        for s in result.samples
    ]


def write_v6(folder: Path, result: CaseResult) -> None:
    with Store(folder / "store.db") as store:
        store.create_run(RUN)
        for item in generations(result):  # the runner caches as each request returns
            store.cache_generations([item])
        store.record_case(RUN.id, result)
        store.finish_run(RUN.id, 1.0)


def write_v5(folder: Path, result: CaseResult) -> None:
    """The schema-5 layout and the schema-5 Store's statements (samples hold their prompt and
    formatted prompt, the cache its formatted prompt; texts once), with the same pragmas and one
    transaction per write."""
    path = folder / "store.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection, path, MIGRATIONS[:5])
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(
            "INSERT INTO runs (id, session, model, model_spec, started_at, label, git_commit,"
            " versions, status) VALUES (?, ?, ?, '{}', 0.0, NULL, NULL, '{}', 'running')",
            (RUN.id, RUN.session, RUN.model),
        )

        def text_id(text: str) -> int:
            connection.execute(
                "INSERT INTO texts (sha256, text, length) VALUES (?, ?, ?)"
                " ON CONFLICT (sha256) DO UPDATE SET text = excluded.text"
                " WHERE excluded.text > texts.text",
                (text_digest(text), text, len(text)),
            )
            found = connection.execute(
                "SELECT id FROM texts WHERE sha256 = ?", (text_digest(text),)
            ).fetchone()
            return int(found[0])

        for key, generation in generations(result):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT OR REPLACE INTO generation_cache (key, text_id, formatted_prompt,"
                " prompt_tokens, completion_tokens, latency_s, finish_reason, served_model,"
                " served_fingerprint, created_at) VALUES (?, ?, ?, ?, ?, 0.0, NULL, NULL, NULL,"
                " ?)",
                (
                    key,
                    text_id(generation.text or ""),
                    generation.formatted_prompt,
                    generation.prompt_tokens,
                    generation.completion_tokens,
                    time.time(),
                ),
            )
            connection.execute("COMMIT")
        connection.execute("BEGIN IMMEDIATE")
        case_pk = connection.execute(
            "INSERT INTO cases (run_id, suite_path, case_id, model, suite, outcome, k, n,"
            " threshold, tolerance, interval_low, interval_high, explanation, sample_count,"
            " tags, properties, recorded_at)"
            " VALUES (?, 'bench.yaml', 'long-context', 'model', 'bench', 'pass', ?, ?, 0.9,"
            " 0.05, 0.9, 1.0, '', ?, '[]', '{}', 0.0)",
            (RUN.id, len(result.samples), len(result.samples), len(result.samples)),
        ).lastrowid
        connection.executemany(
            "INSERT INTO samples (case_pk, pos, idx, combination, variables, prompt, seed,"
            " output_id, error, status, formatted_prompt, prompt_tokens, completion_tokens,"
            " latency_s, cached, cache_key)"
            " VALUES (?, ?, ?, 0, '{\"context\":\"file.txt\"}', ?, ?, ?, NULL, 'pass', ?, ?, 3,"
            " 0.0, 0, ?)",
            [
                (
                    case_pk,
                    pos,
                    s.index,
                    s.prompt,
                    s.seed,
                    text_id(s.output or ""),
                    s.formatted_prompt,
                    s.prompt_tokens,
                    s.cache_key,
                )
                for pos, s in enumerate(result.samples)
            ],
        )
        connection.execute("COMMIT")
        connection.execute(
            "UPDATE runs SET finished_at = 1.0, status = 'finished' WHERE id = ?", (RUN.id,)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--chars", type=int, default=300_000)
    args = parser.parse_args()
    result = case(args.samples, args.chars)
    print(
        f"one case of {args.samples} samples of a {args.chars:,}-character prompt, "
        "each generation cached"
    )
    baseline = measure("v5 layout", functools.partial(write_v5, result=result), width=12)
    v6 = functools.partial(write_v6, result=result)
    measure("v6", v6, baseline, baseline_name="v5 layout", width=12)


if __name__ == "__main__":
    main()
