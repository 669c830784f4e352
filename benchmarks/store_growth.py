"""How big the run store grows under long outputs: schema 3 against the schema-2 layout.

Finding 9 of issue 14: 20 samples of a 10 MiB output made a 420 MB store, each output written
once in ``samples.output`` and once more in ``generation_cache.text``. Builds, in a temporary
directory and in this one run, the store of one case of N samples whose outputs are C characters
long, every generation cached under its own key as the runner does, two ways:

  v2 layout   the baseline: a database migrated to schema 2 only (``MIGRATIONS[:2]``), written
              with the INSERT statements the schema-2 Store ran (that code is gone from here, so
              they are replayed; main's schema-2 code measured 419,991,552 bytes, the same)
  v3          the Store of this promptcheck (texts kept once, cut to the cap, long ones uncached)

once with every sample the same output (deduplicated and cut) and once with every sample a
different output (cut only), and prints each store's size (database and WAL, after closing)
and its ratio to the v2 layout of the same outputs.
Usage: python benchmarks/store_growth.py [--samples 20] [--chars 10485760] [--cap 100000]
"""

from __future__ import annotations

import argparse
import functools
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from promptcheck.backends.base import Generation
from promptcheck.results import CaseResult, SampleOutcome
from promptcheck.stats import Outcome, ThresholdVerdict
from promptcheck.store.database import RunInfo, Store
from promptcheck.store.schema import MIGRATIONS, migrate

RUN = RunInfo("bench-run", "bench", "model", {"backend": "scripted"}, 0.0)


def outputs(samples: int, chars: int, *, distinct: bool) -> list[str]:
    """``samples`` outputs of ``chars`` characters: one text repeated, or each its own."""
    if not distinct:
        return ["x" * chars] * samples
    return [f"{number:06d}" + "x" * (chars - 6) for number in range(samples)]


def case(texts: list[str]) -> CaseResult:
    samples = tuple(
        SampleOutcome(n, 0, {}, "Write a lot", n, text, cache_key=f"key-{n}")
        for n, text in enumerate(texts)
    )
    verdict = ThresholdVerdict(Outcome.PASS, len(texts), len(texts), 0.9, 0.05, (0.8, 1.0), "")
    return CaseResult("bench", "bench.yaml", "long", "model", samples, verdict)


def size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.iterdir())


def write_v3(folder: Path, texts: list[str], cap: int | None) -> None:
    with Store(folder / "store.db", max_output_chars=cap) as store:
        store.create_run(RUN)
        for number, text in enumerate(texts):  # the runner caches as each request returns
            store.cache_generations([(f"key-{number}", Generation(text))])
        store.record_case(RUN.id, case(texts))
        store.finish_run(RUN.id, 1.0)


def write_v2(folder: Path, texts: list[str]) -> None:
    """The schema-2 layout and the schema-2 Store's statements (samples hold their output, the
    cache its text), with the same pragmas and one transaction per write."""
    path = folder / "store.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA foreign_keys = ON")
        migrate(connection, path, MIGRATIONS[:2])
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        connection.execute(
            "INSERT INTO runs (id, session, model, model_spec, started_at, label, git_commit,"
            " versions) VALUES (?, ?, ?, '{}', 0.0, NULL, NULL, '{}')",
            (RUN.id, RUN.session, RUN.model),
        )
        for number, text in enumerate(texts):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute(
                "INSERT OR REPLACE INTO generation_cache (key, text, formatted_prompt,"
                " prompt_tokens, completion_tokens, latency_s, finish_reason, created_at)"
                " VALUES (?, ?, NULL, NULL, NULL, 0.0, NULL, ?)",
                (f"key-{number}", text, time.time()),
            )
            connection.execute("COMMIT")
        connection.execute("BEGIN IMMEDIATE")
        case_pk = connection.execute(
            "INSERT INTO cases (run_id, suite_path, case_id, model, suite, outcome, k, n,"
            " threshold, tolerance, interval_low, interval_high, explanation, sample_count,"
            " tags, properties, recorded_at)"
            " VALUES (?, 'bench.yaml', 'long', 'model', 'bench', 'pass', ?, ?, 0.9, 0.05, 0.8,"
            " 1.0, '', ?, '[]', '{}', 0.0)",
            (RUN.id, len(texts), len(texts), len(texts)),
        ).lastrowid
        connection.executemany(
            "INSERT INTO samples (case_pk, pos, idx, combination, variables, prompt, seed,"
            " output, error, status, formatted_prompt, prompt_tokens, completion_tokens,"
            " latency_s, cached, cache_key)"
            " VALUES (?, ?, ?, 0, '{}', 'Write a lot', ?, ?, NULL, 'pass', NULL, NULL, NULL,"
            " 0.0, 0, ?)",
            [(case_pk, n, n, n, text, f"key-{n}") for n, text in enumerate(texts)],
        )
        connection.execute("COMMIT")
        connection.execute("UPDATE runs SET finished_at = 1.0 WHERE id = ?", (RUN.id,))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--chars", type=int, default=10 * 2**20)
    parser.add_argument("--cap", type=int, default=None, help="default: MAX_STORED_OUTPUT_CHARS")
    args = parser.parse_args()
    print(f"one case of {args.samples} samples of {args.chars:,}-character outputs, each cached")
    for distinct in (False, True):
        texts = outputs(args.samples, args.chars, distinct=distinct)
        kind = "distinct outputs" if distinct else "the same output"
        baseline = measure(f"v2 layout, {kind}", functools.partial(write_v2, texts=texts))
        v3 = functools.partial(write_v3, texts=texts, cap=args.cap)
        measure(f"v3, {kind}", v3, baseline)


def measure(
    label: str,
    write: Callable[[Path], None],
    baseline: int | None = None,
    *,
    baseline_name: str = "v2 layout",
    width: int = 30,
) -> int:
    """Write a store in a temporary folder; print its size, time and ratio to ``baseline``
    (the store ``baseline_name`` wrote, measured in the same run)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        write(folder)
        seconds = time.perf_counter() - started
        written = size(folder)
    ratio = ""
    if baseline is not None:
        ratio = (
            f"  ratio to {baseline_name} {written / baseline:.5f} ({baseline / written:,.0f}x less)"
        )
    print(f"{label:<{width}} {written:>13,} bytes  {seconds:6.2f} s{ratio}")
    return written


if __name__ == "__main__":
    main()
