"""The openai backend's client path: 2,000 samples from an endpoint that answers after 50 ms.

A fake OpenAI-compatible server (tests/fakes/openai_server.py, in its own process) answers every
request after ``--latency-ms``. A project of 40 cases x 50 samples runs through the ``openai``
backend, and the whole ``pytest --promptcheck`` command is timed (process start, collection,
the store, the report: all of it), fresh, at each concurrency:

  pytest       wall time of the run, one request per sample (n_per_request: 1)
  ideal        requests x latency / concurrency
  bare loop    the same 2,000 requests from a bare AsyncOpenAI loop with a semaphore of the same
               size, in this process: what the client costs without promptcheck
  bare script  the same loop as a whole process (interpreter start and ``import openai``
               included): the like-for-like baseline of a whole pytest run
  fixed        the same pytest command answered from the cache (no requests): the fixed cost
               of starting pytest, collecting, recording and reporting, and what it is made of:
               a bare ``pytest`` start with the environment's auto-loaded plugins, ``import
               openai`` and ``import promptcheck.session``, each in a fresh interpreter (they
               share pydantic, so their sum overstates the whole)
  n            the run with n honoured (n_per_request: 50): 40 requests of 50 samples

Goals (issue 5): >= 80% of ideal at concurrency 8; no worse than the bare loop at 64; with n,
the 2,000 samples in about 40 requests' time.
Usage: python benchmarks/openai_client.py [--cases 40] [--samples 50] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fakes" / "openai_server.py"


def write_project(root: Path, url: str, cases: int, samples: int) -> None:
    common = {"backend": "openai", "base_url": url, "model": "fake", "api_key_env": ""}
    models = {"one": {**common, "n_per_request": 1}, "n": {**common, "n_per_request": samples}}
    lines = ["[tool.promptcheck]", 'model = "one"']
    for name, settings in models.items():
        lines.append(f"[tool.promptcheck.models.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    suite = {
        "suite": "client-bench",
        "defaults": {"samples": samples, "threshold": 0.9},
        "cases": [
            {"id": f"case-{i}", "prompt": f"Case {i}: reply GOOD", "expect": [{"equals": "GOOD"}]}
            for i in range(cases)
        ],
    }
    (root / "suites").mkdir()
    (root / "suites" / "bench.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))


def run_pytest(root: Path, *options: str) -> float:
    command = [sys.executable, "-m", "pytest", "--promptcheck", "-q", "-p", "no:cacheprovider"]
    command += ["--promptcheck-no-progress", *options, "suites"]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"pytest failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return elapsed


async def bare_loop(url: str, requests: int, concurrency: int) -> float:
    import openai

    client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=60)
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with limit:
            await client.chat.completions.create(
                model="fake",
                messages=[{"role": "user", "content": f"Case {index % 40}: reply GOOD"}],
                temperature=0.8,
                max_tokens=200,
                seed=index,
            )

    async with client:
        await one(-1)  # connect and warm up outside the timing
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return time.perf_counter() - started


def bare_seconds(url: str, requests: int, concurrency: int) -> float:
    return asyncio.run(bare_loop(url, requests, concurrency))


def bare_script_seconds(url: str, requests: int, concurrency: int) -> float:
    """The bare loop in a fresh interpreter, timed from process start to exit."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        f"import openai_client; openai_client.bare_seconds({url!r}, {requests}, {concurrency})"
    )
    return timed(["-c", code], ROOT)


#: Pieces of the fixed cost, each timed in a fresh interpreter.
STARTUP_PARTS: dict[str, list[str]] = {
    "pytest start with auto-loaded plugins": ["-m", "pytest", "-q", "-p", "no:cacheprovider",
                                              "--co", os.devnull],
    "import openai": ["-c", "import openai"],
    "import promptcheck.session": ["-c", "import promptcheck.session"],
}  # fmt: skip


def timed(arguments: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=cwd, capture_output=True, check=False)
    return time.perf_counter() - started


def best(repeats: int, measure: Callable[[], float]) -> float:
    """The shortest of ``repeats`` measurements: the one least disturbed by other load."""
    return min(measure() for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()
    requests = args.cases * args.samples
    latency = args.latency_ms / 1000
    server = subprocess.Popen(
        [sys.executable, str(FAKE), "--latency-ms", str(args.latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            write_project(root, url, args.cases, args.samples)
            env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
            shape = f"{requests} samples ({args.cases} cases x {args.samples})"
            print(f"{shape}, {args.latency_ms:g} ms per request; {env_note}")
            run_pytest(root)  # fills the cache, for the overhead runs
            overhead = best(args.repeats, lambda: run_pytest(root))
            parts = {name: best(args.repeats, functools.partial(timed, command, root))
                     for name, command in STARTUP_PARTS.items()}  # fmt: skip
            print(
                f"fixed: a cached pytest run (no requests) takes {overhead:.2f} s; apart: "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items())
            )
            columns = ("conc", "pytest", "ideal", "of ideal", "bare", "vs bare", "script")
            print(" ".join(f"{c:>10}" for c in columns) + "  vs script  (pytest - fixed) of ideal")
            for concurrency in args.concurrency:
                fresh = ("--promptcheck-fresh", f"--promptcheck-concurrency={concurrency}")
                wall = best(args.repeats, functools.partial(run_pytest, root, *fresh))
                bare_run = functools.partial(bare_seconds, url, requests, concurrency)
                bare = best(args.repeats, bare_run)
                script_run = functools.partial(bare_script_seconds, url, requests, concurrency)
                script = best(args.repeats, script_run)
                ideal = requests * latency / concurrency
                cells = [f"{wall:.2f}s", f"{ideal:.2f}s", f"{ideal / wall:.0%}", f"{bare:.2f}s"]
                cells += [f"{bare / wall:.0%}", f"{script:.2f}s"]
                share = ideal / max(wall - overhead, 1e-9)
                print(
                    f"{concurrency:>10} "
                    + " ".join(f"{c:>10}" for c in cells)
                    + f"  {script / wall:>9.0%}  {share:.0%}"
                )
            n_run = best(
                args.repeats,
                lambda: run_pytest(root, "--promptcheck-fresh", "--promptcheck-model=n"),
            )
            n_requests = args.cases  # one request of n = samples per case
            print(
                f"n honoured: {n_run:.2f}s for {requests} samples in {n_requests} requests "
                f"({n_requests} x {args.latency_ms:g} ms = {n_requests * latency:.2f}s; "
                f"{n_run - overhead:.2f}s beyond the fixed cost)"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
