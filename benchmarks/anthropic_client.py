"""The anthropic backend's client path: 2,000 samples from a Messages API that answers after 50 ms.

A fake Messages API (tests/fakes/anthropic_server.py, in its own process) answers every request
after ``--latency-ms``. Measured at each concurrency, against baselines run in the same
benchmark on the same server:

  backend      in one process, 2,000 samples through ``AnthropicBackend.generate`` (one request
               per sample, as the API has no ``n``) under a semaphore of the concurrency, as the
               runner holds one: the backend's own cost (body, retries loop, pacing, parsing)
  bare         the same 2,000 requests from a user's own loop, ``client.messages.create`` under
               a semaphore of the same size (``AsyncAnthropic``, its default httpx transport and
               its aiohttp one), in the same process: the baseline the backend is compared with
  pytest       the whole ``pytest --promptcheck`` run of 40 cases x 50 samples on the backend
               (process start, collection, the store, the report: all of it), fresh
  bare process the bare loop as a whole process (interpreter start and ``import anthropic``
               included): the like-for-like baseline of a whole pytest run
  ideal        requests x latency / concurrency

Ratios are time over time: "backend / bare 1.02" means the backend took 2% longer than the bare
loop for the same requests. The backend runs with ``http_client: auto`` (aiohttp where
installed), as users get it; it is compared with the bare loop on both transports.

Usage: python benchmarks/anthropic_client.py [--repeats 3] [--cases 40] [--samples 50]
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
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from openai_client import CHILD_ENV, Bare, best, best_bare, run_pytest

ROOT = Path(__file__).resolve().parents[1]
FAKE = ROOT / "tests" / "fakes" / "anthropic_server.py"
TRANSPORTS = ("httpx", "aiohttp")


def write_project(root: Path, url: str, cases: int, samples: int) -> None:
    settings = {"backend": "anthropic", "base_url": url, "model": "fake", "api_key_env": ""}
    lines = ["[tool.promptcheck]", 'model = "claude"', "[tool.promptcheck.models.claude]"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    suite = {
        "suite": "anthropic-bench",
        "defaults": {"samples": samples, "threshold": 0.9},
        "cases": [
            {"id": f"case-{i}", "prompt": f"Case {i}: reply GOOD", "expect": [{"equals": "GOOD"}]}
            for i in range(cases)
        ],
    }
    (root / "suites").mkdir()
    (root / "suites" / "bench.yaml").write_text(yaml.safe_dump(suite, sort_keys=False))


async def bare_loop(url: str, requests: int, concurrency: int, transport: str) -> float:
    """A user's own loop: ``messages.create`` under a semaphore; seconds of the loop."""
    import anthropic

    http_client = anthropic.DefaultAioHttpClient() if transport == "aiohttp" else None
    client = anthropic.AsyncAnthropic(
        base_url=url, api_key="unused", max_retries=0, timeout=60, http_client=http_client
    )
    limit = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with limit:
            await client.messages.create(
                model="fake",
                max_tokens=200,
                messages=[{"role": "user", "content": f"Case {index % 40}: reply GOOD"}],
            )

    async with client:
        await one(-1)  # connect and warm up outside the timing
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return time.perf_counter() - started


async def backend_loop(url: str, requests: int, concurrency: int) -> float:
    """The same requests through the backend, one sample each, under the runner's semaphore."""
    from promptcheck.backends.base import (
        BACKENDS,
        BackendContext,
        GenerationRequest,
        SamplingParams,
    )

    entry = BACKENDS.get("anthropic")
    params = entry.params.model_validate({"model": "fake", "base_url": url, "api_key_env": None})
    backend = entry.build(params, BackendContext(ROOT))
    limit = asyncio.Semaphore(concurrency)
    sampling = SamplingParams(max_tokens=200)

    async def one(index: int) -> None:
        request = GenerationRequest(f"Case {index % 40}: reply GOOD", None, sampling, (index,))
        async with limit:
            [generation] = await backend.generate(request)
        assert generation.text == "GOOD", generation.error

    try:
        await one(-1)
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        return time.perf_counter() - started
    finally:
        await backend.aclose()  # type: ignore[attr-defined]


def bare_script(python: str, url: str, requests: int, concurrency: int, transport: str) -> Bare:
    """The bare loop as a whole process: the loop's own seconds, and the process's."""
    code = (
        f"import sys, asyncio; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import anthropic_client; "
        f"print(asyncio.run(anthropic_client.bare_loop({url!r}, {requests}, {concurrency}, "
        f"{transport!r})))"
    )
    started = time.perf_counter()
    completed = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, env=CHILD_ENV
    )
    return Bare(float(completed.stdout.strip()), time.perf_counter() - started)


def in_process(url: str, requests: int, concurrency: int, repeats: int) -> dict[str, float]:
    """Best-of seconds of the backend and the bare loops, interleaved so that load drifting
    over the run touches each alike."""
    runs: dict[str, list[float]] = {"backend": [], **{f"bare {t}": [] for t in TRANSPORTS}}
    for _ in range(repeats):
        runs["backend"].append(asyncio.run(backend_loop(url, requests, concurrency)))
        for transport in TRANSPORTS:
            seconds = asyncio.run(bare_loop(url, requests, concurrency, transport))
            runs[f"bare {transport}"].append(seconds)
    return {name: min(values) for name, values in runs.items()}


def describe_environment(python: str) -> str:
    code = (
        "import importlib.metadata as m\n"
        "def v(name):\n"
        "    try: return m.version(name)\n"
        "    except m.PackageNotFoundError: return 'not installed'\n"
        "print(', '.join(f'{n} {v(n)}' for n in ('anthropic', 'aiohttp')))"
    )
    completed = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return f"{python}: {completed.stdout.strip()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the runs")
    parser.add_argument(
        "--no-pytest", action="store_true", help="only the in-process comparison (faster)"
    )
    args = parser.parse_args()
    python = args.python
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
        env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        shape = f"{requests} samples ({args.cases} cases x {args.samples})"
        print(f"{shape}, {args.latency_ms:g} ms per request; {env_note}")
        print(describe_environment(python))
        print("in one process, best of", args.repeats, "(seconds; ratio = backend / bare):")
        print(
            "conc | ideal | backend | bare httpx | bare aiohttp | backend/httpx | backend/aiohttp"
        )
        for concurrency in args.concurrency:
            ideal = requests * latency / concurrency
            got = in_process(url, requests, concurrency, args.repeats)
            cells = [str(concurrency), f"{ideal:.2f}", f"{got['backend']:.2f}"]
            cells += [f"{got[f'bare {t}']:.2f}" for t in TRANSPORTS]
            cells += [f"{got['backend'] / got[f'bare {t}']:.2f}" for t in TRANSPORTS]
            print(" | ".join(cells))
        if args.no_pytest:
            return
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            write_project(root, url, args.cases, args.samples)
            run_pytest(python, root)  # fills the cache (and the bytecode caches)
            overhead = best(args.repeats, lambda: run_pytest(python, root))
            print(f"fixed: a cached pytest run (no requests) takes {overhead:.2f} s")
            print(
                "conc | ideal | pytest | of ideal | bare httpx process | pytest/it "
                "| bare aiohttp process | pytest/it"
            )
            for concurrency in args.concurrency:
                fresh = ("--promptcheck-fresh", f"--promptcheck-concurrency={concurrency}")
                wall = best(args.repeats, functools.partial(run_pytest, python, root, *fresh))
                ideal = requests * latency / concurrency
                cells = [str(concurrency), f"{ideal:.2f}", f"{wall:.2f}", f"{ideal / wall:.0%}"]
                for transport in TRANSPORTS:
                    measure = functools.partial(
                        bare_script, python, url, requests, concurrency, transport
                    )
                    bare = best_bare(args.repeats, measure)
                    cells += [f"{bare.process_s:.2f}", f"{wall / bare.process_s:.2f}"]
                print(" | ".join(cells))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
