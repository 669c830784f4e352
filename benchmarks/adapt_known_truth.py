"""``promptcheck adapt`` on its known truth, timed: the data-first tiny Dolly against tiny-dolly.

The goal (issue 19): every case that can be fixed is fixed, no other prompt changes, in at most
5 minutes on 2 cores with the models built. Measured here, in one run, on a copy of ``suites/``
and ``plugins/``, each command in a child process with its own store:

* the named baseline: the gate a team runs anyway, ``pytest --promptcheck suites/
  --promptcheck-model data-first --promptcheck-baseline tiny-dolly`` at the same samples;
* ``promptcheck adapt`` on a fresh store (everything sampled);
* ``promptcheck adapt`` again on that store (everything from the cache).

It prints wall and CPU seconds (the child's user + system time, which a machine shared with other
work does not inflate) and their ratios to the gate, then what adapt decided, and, for each case
it tried, the rate of the baseline's original prompt and of the candidate's chosen (or best)
rewrite that contended in the race, on the held-out values, over ``--held-out-samples`` new samples
each: what "can be fixed" means for that case.

Usage: python benchmarks/adapt_known_truth.py [--samples 50] [--confirm-samples 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = Path(os.environ.get("PROMPTCHECK_TINY_DIR", ROOT / ".promptcheck" / "models"))
GOAL_S = 300.0


def project(directory: Path, variant: Path) -> Path:
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    (directory / "pyproject.toml").write_text(
        '[tool.promptcheck]\nplugins = ["plugins.checks"]\n'
        f'[tool.promptcheck.models.data-first]\nbackend = "tiny-dolly"\npath = "{variant}"\n'
    )
    return directory


def timed(
    command: Sequence[str], cwd: Path
) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds, CPU seconds of the child, and its result."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        list(command), cwd=cwd, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", default="50")
    parser.add_argument("--confirm-samples", default="1000")
    parser.add_argument("--held-out-samples", type=int, default=400)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    from promptcheck.train.tiny import build_tiny_dolly

    variant = build_tiny_dolly(MODELS / "tiny-dolly-data-first", "data-first")
    with tempfile.TemporaryDirectory() as tmp:
        root = project(Path(tmp), variant)
        gate = timed(
            [sys.executable, "-m", "pytest", "--promptcheck", "suites/", "-p", "no:cacheprovider",
             "-q", "--promptcheck-no-progress", "--promptcheck-model", "data-first",
             "--promptcheck-baseline", "tiny-dolly", "--promptcheck-samples", args.samples,
             "--promptcheck-store", "gate.db"],
            root,
        )  # fmt: skip
        adapt = [
            sys.executable,
            "-m",
            "promptcheck.cli",
            "adapt",
            "suites",
            "--model",
            "data-first",
            "--baseline",
            "tiny-dolly",
            "--samples",
            args.samples,
            "--confirm-samples",
            args.confirm_samples,
            "--json",
            "--store",
            "adapt.db",
        ]
        fresh = timed(adapt, root)
        cached = timed(adapt, root)
        truth = held_out_rates(root, fresh[2].stdout, args.held_out_samples)
    print(
        f"samples per case: {args.samples} (held-out tests: {args.confirm_samples}); "
        f"{os.cpu_count()} CPUs; load {os.getloadavg()[0]:.1f}"
    )
    print("| run | wall s | CPU s | wall / gate | CPU / gate |")
    print("|---|---|---|---|---|")
    for name, (wall, cpu, _) in (("gate (baseline)", gate), ("adapt, fresh", fresh),
                                 ("adapt, cached", cached)):  # fmt: skip
        print(f"| {name} | {wall:.1f} | {cpu:.1f} | {wall / gate[0]:.2f} | {cpu / gate[1]:.2f} |")
    print(f"goal: adapt, fresh <= {GOAL_S:.0f} s: wall {fresh[0]:.0f} s, CPU {fresh[1]:.0f} s")
    if fresh[2].returncode not in (0, 1):
        print(fresh[2].stderr)
        return
    report = json.loads(fresh[2].stdout)
    for status in report["statuses"]:
        print(
            f"  {status['suite_path']}::{status['case_id']}: {status['status']} {status['detail']}"
        )
    for case in report["cases"]:
        held = case["confirmation"]
        shown = "no held-out test" if held is None else f"held-out {held['k']}/{held['n']}"
        winner = case["race"]["winner"]
        print(f"  {case['case_id']}: winner {winner}, {shown}, adapted {case['adapted']}")
    spend = report["spend"]
    print(f"spend: {json.dumps(spend)}")
    again = json.loads(cached[2].stdout)["spend"]
    drawn = again["diagnosis"] + again["search"] + again["confirmation"]
    print(f"re-run: {again['cached']} of {drawn} samples from the cache")
    for line in truth:
        print(line)


def held_out_rates(root: Path, report_json: str, samples: int) -> list[str]:
    """Each tried case's held-out values: the baseline's original prompt and every rewrite that
    conformed on at least half its race samples, on ``samples`` new samples each (other seeds)."""
    import dataclasses

    from promptcheck.adapt.split import split_combinations
    from promptcheck.adapt.templates import PromptTemplate
    from promptcheck.importing import import_project_plugins
    from promptcheck.project import load_project_config
    from promptcheck.run import Runner
    from promptcheck.suite import load_suite, model_named

    try:
        report = json.loads(report_json)
    except ValueError:
        return ["(no report to measure)"]
    project = load_project_config(root)
    import_project_plugins(root, project.plugins)
    runner = Runner()
    lines = [f"held-out rates over {samples} new samples each:"]
    try:
        for case in report["cases"]:
            suite = load_suite(root / case["suite_path"], project)
            spec = next(c for c in suite.cases if c.id == case["case_id"])
            held = split_combinations(spec, 0.5, seed=0).held_out
            fresh = dataclasses.replace(spec, combinations=held, seed=spec.seed + 7919)
            base = runner.run_case(fresh, model_named("tiny-dolly", suite, project), samples)
            lines.append(
                f"  {case['case_id']} (threshold {case['threshold']:g}): baseline's prompt "
                f"{base.verdict.k}/{base.verdict.n} = {base.verdict.rate:.3f}"
            )
            # every rewrite that was a contender in the race: what could have been a fix
            contenders = [t for t in case["trials"] if t["search"] and t["search"]["rate"] >= 0.5]
            for trial in contenders:
                chosen = trial["template"]
                template = PromptTemplate(prompt=chosen["prompt"], system=chosen["system"])
                rendered = tuple(template.render(c.index, c.variables) for c in held)
                candidate = runner.run_case(
                    dataclasses.replace(fresh, combinations=rendered),
                    model_named("data-first", suite, project),
                    samples,
                )
                lines.append(
                    f"    {trial['name']}: {candidate.verdict.k}/{candidate.verdict.n} = "
                    f"{candidate.verdict.rate:.3f}"
                )
    finally:
        runner.close()
    return lines


if __name__ == "__main__":
    main()
