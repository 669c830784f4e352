"""How long a first run takes, the two ways a user meets promptcheck (issue 16's goals).

1. **A fresh clone**: ``pytest --promptcheck suites/`` in this repository with an empty store (the
   install is separate): goal <= 20 s on a 2-core machine.
2. **A clean directory**: ``promptcheck init`` then ``pytest --promptcheck suites/`` with the
   wheel installed in a virtual environment (``--python`` of that environment; the install is
   separate): goal <= 20 s.

The fresh clone runs with this interpreter (the repository's environment: its suites use the
``strategies`` extra), the clean directory with ``--python``. The baseline, measured in the same
run with each interpreter, is the fixed cost of starting ``pytest --version``; each figure is
also printed as a multiple of its interpreter's.

    python benchmarks/first_run.py [--python /path/to/venv/bin/python] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 20.0


def timed(args: list[str], cwd: Path) -> float:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    started = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=environment, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter with promptcheck")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    python = args.python
    rows: dict[str, list[float]] = {
        "baseline: pytest --version": [],
        "fresh clone": [],
        "baseline: pytest --version (--python)": [],
        "clean directory: init + pytest": [],
    }
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as scratch:
            work = Path(scratch)
            rows["baseline: pytest --version"].append(
                timed([sys.executable, "-m", "pytest", "--version"], work)
            )
            rows["baseline: pytest --version (--python)"].append(
                timed([python, "-m", "pytest", "--version"], work)
            )
            store = work / "store.db"
            rows["fresh clone"].append(
                timed(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "--promptcheck",
                        "suites/",
                        "-p",
                        "no:cacheprovider",
                        "--promptcheck-store",
                        str(store),
                        "--promptcheck-no-progress",
                    ],
                    ROOT,
                )
            )
            project = work / "project"
            project.mkdir()
            started = time.perf_counter()
            timed([python, "-m", "promptcheck.cli", "init"], project)
            timed(
                [python, "-m", "pytest", "--promptcheck", "suites/", "-p", "no:cacheprovider"],
                project,
            )
            rows["clean directory: init + pytest"].append(time.perf_counter() - started)
            shutil.rmtree(project)
    own = statistics.median(rows["baseline: pytest --version"])
    other = statistics.median(rows["baseline: pytest --version (--python)"])
    print(f"fresh clone: {sys.executable}; clean directory: {python}; median of {args.repeats}")
    for name, values in rows.items():
        median = statistics.median(values)
        baseline = other if "--python" in name or name.startswith("clean") else own
        goal = "" if name.startswith("baseline") else f"  goal <= {GOAL_S:g} s: "
        goal += ("met" if median <= GOAL_S else "NOT met") if goal else ""
        print(f"{name:38s} {median:7.2f} s  {median / baseline:6.1f}x baseline{goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
