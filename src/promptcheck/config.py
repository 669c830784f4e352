"""Settings and their defaults: the ``--promptcheck-*`` options, the fail-on table, exit codes
and where the run store lives. One home for each, so the plugin, the command line and the library
cannot drift apart. Cheap to import (the plugin reads it in every pytest run); the project's own
``[tool.promptcheck]`` table is read by :mod:`promptcheck.project`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: Where the run store lives when neither an option nor ``[tool.promptcheck] store`` says.
DEFAULT_STORE = ".promptcheck/promptcheck.db"
#: How the commands that read the store describe their ``--store`` option.
STORE_HELP = f"run store (default: [tool.promptcheck] store, else {DEFAULT_STORE})"
#: Requests in flight per model when neither an option nor the project says.
DEFAULT_CONCURRENCY = 8

#: Comparisons (``--promptcheck-baseline``, ``promptcheck compare``, ``promptcheck plan``):
#: the chance of any false regression across a suite, ...
DEFAULT_ALPHA = 0.05
#: ... the chance that any case which dropped by the detectable drop is called unchanged, ...
DEFAULT_BETA = 0.2
#: ... the drop a case may show without being a regression (drops beyond it are tested), ...
DEFAULT_MARGIN = 0.0
#: ... the drop in conformance a comparison is planned to catch, which "unchanged" rules out
#: (0.95 -> 0.80 is the drop docs/statistics.md holds the gate to) ...
DEFAULT_DETECT = 0.15
#: ... and the chance of catching it, on one case of a suite, that the plan buys.
DEFAULT_POWER = 0.8
#: A case's planned samples are a multiple of this (the adaptive round) ...
PLAN_STEP = 10
#: ... and at most this many: past it a plan reports the drop it can detect instead.
MAX_PLANNED_SAMPLES = 1000
#: A stored baseline's rate enters a plan as its one-sided lower bound at this confidence: a
#: lower rate needs more samples, so a lucky baseline does not shrink the plan.
PLANNING_CONFIDENCE = 0.8
#: Where plans keep the exact test's cut-offs between runs, beside the run store (a cache: it
#: only sizes plans and states detectable drops, and a damaged one is ignored) ...
POWER_CACHE_FILE = "power-cache.json"
#: ... and the largest such file read, in bytes.
POWER_CACHE_MAX_BYTES = 8_000_000
#: A stored baseline older than this many days is reported as stale: the model behind a hosted
#: name changes, and a re-recorded baseline is an independent draw (docs/statistics.md).
BASELINE_MAX_AGE_DAYS = 30
#: Bounds on what a suite can make promptcheck do (docs/security.md): a rendered prompt's length
#: and the time one render may take; a number a template computes has at most 8 bits per
#: character allowed (multiplying two such numbers stays well under a second).
MAX_RENDERED_CHARS = 1_000_000
MAX_RENDER_SECONDS = 2.0
MAX_TEMPLATE_INT_BITS = 8 * MAX_RENDERED_CHARS
#: The most items a container a template's filter or call returns may hold, counted as a walk
#: visits them (a part shared twice counts twice): comparing or sorting it runs in C, where the
#: render's deadline does not reach, and takes well under a second at this size.
MAX_RENDERED_ITEMS = 1_000_000
#: The time all of one suite's renders may take together, at collection: a suite renders each
#: prompt, system text and message once per combination of each case (and each judge's rubric
#: too), so many renders each under :data:`MAX_RENDER_SECONDS` could still take minutes.
MAX_SUITE_RENDER_SECONDS = 30.0
#: Largest file a suite may make promptcheck read (data, schemas, the suite itself); a Parquet
#: file's or a saved dataset's rows are held to it once decoded, too.
MAX_FILE_BYTES = 64 * 2**20
#: Most rows a Parquet file or a saved dataset may hold: a small, well-compressed file can
#: describe millions of rows, and its metadata says how many before any is decoded.
MAX_DATA_ROWS = 1_000_000
#: Most references (``$ref``, ``$dynamicRef``, ``$recursiveRef``) a json_schema check's schema
#: may hold, with those of the files it references, and how deep its references and in-place
#: subschemas (allOf, not, if ...) may nest: deeper, jsonschema's recursion gives up on every
#: output (it does at some 400).
MAX_SCHEMA_REFS = 10_000
MAX_SCHEMA_IN_PLACE_DEPTH = 100
#: Longest a check that can run long (a regex, a user's function, a schema) may take on one
#: output; past it the sample is unscored for that check, with the reason.
CHECK_TIMEOUT_S = 5.0
#: Longest output the run store keeps whole, in characters (``[tool.promptcheck]
#: max_stored_output``); a longer one keeps this many and its full length, and is not cached.
MAX_STORED_OUTPUT_CHARS = 100_000
#: What every report calls a case whose samples were drawn and none could be scored (every one
#: errored, or no check could tell): the pytest item is an error, whatever
#: ``--promptcheck-fail-on`` says (:func:`promptcheck.results.case_status`).
NOTHING_SCORED = "error"
#: Longest reason given for a case nothing could score ("no sample was scored: ..."), as every
#: report and the JUnit properties show it: the first error or unscored check, cut to this.
MAX_REASON_CHARS = 300

#: Longest Markdown report written (a comparison's or a run's, the pull request's comment and the
#: job summary): GitHub refuses a comment over 65,536 characters. Past it, a report's row budget
#: is halved until it fits.
MARKDOWN_MAX_CHARS = 60_000
#: Table rows in one Markdown report, over all its tables, before "and N more": a row takes
#: about 150 characters, so 200 leave room below :data:`MARKDOWN_MAX_CHARS` for the rest.
MARKDOWN_MAX_ROWS = 200

#: ``::error`` annotations written per session: GitHub shows 10 per step (50 per job) and drops
#: the rest, so promptcheck writes the most important first and a notice of how many more.
MAX_ERROR_ANNOTATIONS = 10

#: ``promptcheck review``: where it listens unless told (loopback: anything else needs raters
#: with tokens) and how many raters each item gets (``[tool.promptcheck] review_overlap``).
DEFAULT_REVIEW_HOST = "127.0.0.1"
DEFAULT_REVIEW_PORT = 8765
DEFAULT_REVIEW_OVERLAP = 2


@dataclass(frozen=True)
class JudgeFloor:
    """The calibration against human ratings a judging check must show for its verdicts to gate
    (``[tool.promptcheck] judge_floor``; docs/review.md): the lower ends of the 95% intervals of
    its sensitivity and specificity (and of its kappa, when set) at least these. It applies once
    the locked ratings hold ``min_items`` human-labelled items of each verdict; before that the
    judge is uncalibrated and gates, as it did before review."""

    sensitivity: float = 0.5
    specificity: float = 0.5
    kappa: float | None = None
    min_items: int = 10


#: ``--promptcheck-fail-on`` for threshold verdicts (first: the default) ...
THRESHOLD_FAIL_ON = ("fail", "undecided")
#: ... and for a comparison against a baseline (``--promptcheck-baseline``, ``compare``).
COMPARISON_FAIL_ON = ("regressed", "inconclusive")
FAIL_ON = THRESHOLD_FAIL_ON + COMPARISON_FAIL_ON
#: Which outcomes (threshold verdicts) or changes (comparisons) fail an item under each
#: ``fail-on``; compared by value with the ``Outcome`` and ``Change`` string enums.
FAILING: Mapping[str, frozenset[str]] = {
    "fail": frozenset({"fail"}),
    "undecided": frozenset({"fail", "undecided"}),
    "regressed": frozenset({"regressed"}),
    "inconclusive": frozenset({"regressed", "inconclusive"}),
}


class ExitCode(enum.IntEnum):
    """The exit status of every ``promptcheck`` command (pytest keeps its own)."""

    OK = 0
    FAILED = 1  # a gate failed: a suite did not validate, a case regressed
    USAGE = 2  # a user error: a bad option, a missing file, an unknown run
    INTERRUPTED = 130


@dataclass(frozen=True)
class Options:
    """The ``--promptcheck-*`` options (or their ini / pyproject equivalents), resolved."""

    models: tuple[str, ...] = ()
    samples: int | None = None
    fresh: bool = False
    store: str | None = None
    concurrency: int | None = None
    label: str | None = None
    fail_on: str = "fail"
    progress: bool = True
    adaptive: bool = False
    baseline: str | None = None
    md: str | None = None
    html: str | None = None
    pairwise: str | None = None
    pairwise_rubric: str | None = None
    pairwise_margin: float | None = None
    detect: float | None = None
    power: float | None = None
    baseline_refresh: bool = False
    #: Write annotations, the job summary and step outputs for GitHub Actions; None: when the
    #: environment says the run is in GitHub Actions (GITHUB_ACTIONS=true).
    github: bool | None = None


def store_path(root: Path, given: str | Path | None, configured: str | None) -> Path:
    """The run store: the option, else the project's ``store``, else the default; a relative
    path is taken from the project root (pytest's rootdir, or the command's working directory)."""
    path = Path(given or configured or DEFAULT_STORE)
    return path if path.is_absolute() else root / path


def concurrency(given: int | None, configured: int | None) -> int:
    """Requests in flight per model: the option, else the project's, else the default."""
    return given or configured or DEFAULT_CONCURRENCY
