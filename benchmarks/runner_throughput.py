"""Runner and checks throughput with the scripted backend: 200 cases x 50 samples.

Measures, in one run and on one core:
  baseline   the checks alone: check.evaluate() over the same 10,000 outputs in a bare loop
  runner     Runner.run_case for every case, no store (planning, backend, checks, verdicts)
  recorded   the same with the SQLite store: caching and recording every sample (fresh run)
  cached     a re-run answered entirely from the store's generation cache
  pytest     the whole `pytest --promptcheck` command, fresh and cached (subprocess wall time)

Goals (issue 2): >= 20,000 sample-checks/s; a cached re-run of 10,000 samples in < 2 s.
Usage: python benchmarks/runner_throughput.py [--cases 200] [--samples 50] [--no-pytest]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CHECKS = [
    "json",
    {
        "json_schema": {
            "type": "object",
            "required": ["label"],
            "properties": {"label": {"enum": ["a", "b"]}},
        }
    },
    {"regex": {"pattern": "label", "mode": "search"}},
]


def write_project(root: Path, cases: int, samples: int) -> Path:
    suite = {
        "suite": "bench",
        "defaults": {"samples": samples, "threshold": 0.9},
        "models": {
            "bench": {
                "backend": "scripted",
                "default": [
                    {"text": '{"label": "a"}', "weight": 9},
                    {"text": '{"label": "z"}', "weight": 1},
                ],
            }
        },
        "cases": [
            {
                "id": f"case-{i}",
                "prompt": f"Prompt number {i} about {{{{ topic }}}}",
                "vars": {"topic": ["x", "y"]},
                "expect": CHECKS,
            }
            for i in range(cases)
        ],
    }
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    (root / "pyproject.toml").write_text('[tool.promptcheck]\nmodel = "bench"\n', encoding="utf-8")
    return path


def timed(label: str, seconds: float, samples: int, checks: int) -> None:
    rate = samples * checks / seconds
    per_second = samples / seconds
    print(f"{label:<13} {seconds:8.3f} s {per_second:9.0f} samples/s {rate:9.0f} sample-checks/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--no-pytest", action="store_true", help="skip the subprocess runs")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the goal says

    from promptcheck.checks.base import CheckContext
    from promptcheck.project import load_project_config
    from promptcheck.run.runner import Runner
    from promptcheck.store.database import RunInfo, Store
    from promptcheck.suite.loader import load_suite

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        suite_path = write_project(root, args.cases, args.samples)
        suite = load_suite(suite_path, load_project_config(root))
        model = suite.models["bench"]
        total = args.cases * args.samples
        checks = len(CHECKS)
        print(
            f"{args.cases} cases x {args.samples} samples = {total} samples, {checks} checks each"
        )

        outputs = ['{"label": "a"}' if i % 10 else '{"label": "z"}' for i in range(total)]
        context = CheckContext(prompt="p")
        compiled = suite.cases[0].checks
        start = time.perf_counter()
        for output in outputs:
            for check in compiled:
                check.check.evaluate(output, context)
        baseline = time.perf_counter() - start
        timed("baseline", baseline, total, checks)

        runner = Runner(cache=None)
        start = time.perf_counter()
        for case in suite.cases:
            runner.run_case(case, model)
        plain = time.perf_counter() - start
        runner.close()
        timed("runner", plain, total, checks)

        store = Store(root / "store.db")
        store.create_run(
            RunInfo(id="bench-run", session="bench", model="bench", model_spec={}, started_at=0.0)
        )
        runner = Runner(cache=store)
        start = time.perf_counter()
        for case in suite.cases:
            store.record_case("bench-run", runner.run_case(case, model))
        recorded = time.perf_counter() - start
        timed("recorded", recorded, total, checks)

        start = time.perf_counter()
        for case in suite.cases:
            result = runner.run_case(case, model)
            store.record_case("bench-run", result)
        cached = time.perf_counter() - start
        assert all(sample.cached for sample in result.samples)
        timed("cached", cached, total, checks)
        runner.close()
        store.close()

        overhead = (plain - baseline) / total * 1e6
        print(f"runner overhead per sample over the bare checks: {overhead:.1f} us")
        print(f"ratio runner / baseline time: {plain / baseline:.2f}x")

        if not args.no_pytest:
            command = [
                sys.executable,
                "-m",
                "pytest",
                "--promptcheck",
                "-q",
                "-p",
                "no:cacheprovider",
                "--promptcheck-no-progress",
                str(suite_path),
            ]
            # Bytecode caching on, as on a user's machine (some sandboxes turn it off, and then
            # every run recompiles pytest's and promptcheck's modules); a collect-only run warms it.
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            subprocess.run([*command, "--collect-only"], cwd=root, env=env, capture_output=True)
            for label in ("pytest", "pytest-cached"):
                start = time.perf_counter()
                subprocess.run(command, cwd=root, env=env, capture_output=True, check=False)
                timed(label, time.perf_counter() - start, total, checks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
