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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promptcheck.project import ProjectConfig


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


def store_path(root: Path, given: str | Path | None, project: ProjectConfig) -> Path:
    """The run store: the option, else the project's ``store``, else the default; a relative
    path is taken from the project root (pytest's rootdir, or the command's working directory)."""
    path = Path(given or project.store or DEFAULT_STORE)
    return path if path.is_absolute() else root / path


def concurrency(given: int | None, project: ProjectConfig) -> int:
    """Requests in flight per model: the option, else the project's, else the default."""
    return given or project.concurrency or DEFAULT_CONCURRENCY
