"""Measure checkpoints' conformance on the example suites, as promptcheck itself measures it.

Builds a throwaway project (a copy of ``suites/`` and ``plugins/`` with a pyproject that declares
each ``NAME=DIR`` checkpoint as a ``backend: local`` model; a bare ``NAME`` is a built-in model
such as ``tiny-dolly``), then runs every case on every model through promptcheck's own session:
the suites' prompts, variables, temperature, token limits and checks, the backend's Dolly
formatting and sampling, the runner's verdict. ``--samples`` sets the sample count of every case
instead of the suites' 100.

    python tests/scripts/measure_conformance.py tiny-dolly rebuilt=build/tiny-dolly-full \\
        --samples 200 --json rates.json

A sample's seed depends on the model's backend and parameters, so a checkpoint declared by path
draws other samples than the built-in model that loads the same weights. The shipped weights'
figures in ``weights/manifest.json`` are therefore measured on the built-in models (by
tests/scripts/ship_tiny_dolly.py, through this script): they are what ``pytest --promptcheck
suites/`` prints, and the slow tests compare against them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
#: How many of a case's samples may conform differently from the manifest's count when the
#: shipped weights are measured again. The samples are drawn from fixed seeds, so the counts
#: repeat, up to the last bits of the arithmetic: those differ on another CPU, and between runs
#: where requests that happen to be queued together share a batch. A sampled token changes only
#: where a random draw falls at a boundary between two tokens' probabilities: a rare event that
#: moves a count by one sample at a time. Two samples of 100 allow for that and no more: a case
#: that gains or loses three conforming samples is a change.
TOLERANCE_SAMPLES = 2


#: The built-in model that loads each shipped variant of the tiny Dolly.
BUILTIN = {"full": "tiny-dolly", "no-json": "tiny-dolly-no-json", "critic": "tiny-dolly-critic"}


def project(directory: Path, models: dict[str, Path | None]) -> Path:
    """A project that runs the example suites on the given checkpoints (None: built-in)."""
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    lines = [
        "[tool.promptcheck]",
        f'model = "{next(iter(models))}"',
        'plugins = ["plugins.checks"]',
    ]
    for name, path in models.items():
        if path is None:
            continue
        lines += [
            "",
            f'[tool.promptcheck.models."{name}"]',
            'backend = "local"',
            f'path = "{path}"',
        ]
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return directory


def measure(models: dict[str, Path | None], samples: int | None) -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT / "src"))
    from promptcheck.config import Options
    from promptcheck.session import PromptcheckSession

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), models)
        sys.path.insert(0, str(root))  # plugins.checks, plugins.models
        session = PromptcheckSession(
            root=root, options=Options(samples=samples, store=str(root / "runs.db"), progress=False)
        )
        try:
            for suite_path in sorted((root / "suites").glob("*.yaml")):
                suite = session.suite(suite_path)
                for case in suite.cases:
                    for name in models:
                        started = time.perf_counter()
                        _, result = session.run_case(
                            suite, case, session.model(name, suite), samples
                        )
                        verdict = result.verdict
                        failing = [s.output for s in result.samples if s.status == "fail"][:2]
                        rows.append(
                            {
                                "case": f"{suite_path.name}::{case.id}",
                                "model": name,
                                "k": verdict.k,
                                "n": verdict.n,
                                "rate": round(verdict.rate, 4),
                                "interval": [round(x, 4) for x in verdict.interval],
                                "verdict": str(verdict.outcome.value).upper(),
                                "seconds": round(time.perf_counter() - started, 1),
                                "failing": failing,
                            }
                        )
                        row = rows[-1]
                        print(
                            f"{row['case']:36s} {name:10s} {row['k']:4d}/{row['n']:<4d} "
                            f"{row['rate']:7.1%}  {row['verdict']:9s} {row['seconds']:6.1f} s"
                            + "".join(f"\n      fail: {t!r}" for t in failing),
                            flush=True,
                        )
        finally:
            session.finish()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "models", nargs="+", metavar="NAME[=DIR]", help="checkpoints or built-in models to measure"
    )
    parser.add_argument("--samples", type=int, help="samples per case (default: the suites')")
    parser.add_argument("--json", type=Path, help="write the rows here")
    args = parser.parse_args()
    models: dict[str, Path | None] = {}
    for item in args.models:
        name, _, path = item.partition("=")
        models[name] = Path(path).resolve() if path else None
    rows = measure(models, args.samples)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
