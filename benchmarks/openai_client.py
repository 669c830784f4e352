"""The openai backend's client path: 2,000 samples from an endpoint that answers after 50 ms.

A fake OpenAI-compatible server (tests/fakes/openai_server.py, in its own process) answers every
request after ``--latency-ms``. A project of 40 cases x 50 samples runs through the ``openai``
backend, and the whole ``pytest --promptcheck`` command is timed (process start, collection,
the store, the report: all of it), fresh, at each concurrency:

  pytest       wall time of the run, one request per sample (n_per_request: 1)
  ideal        requests x latency / concurrency
  bare         the same 2,000 requests from a user's own loop (``chat.completions.create`` under
               a semaphore of the same size) as a whole process, with the client's default httpx
               transport and with its aiohttp one (promptcheck's default where installed): the
               loop's own seconds, and the whole process's (interpreter start and ``import
               openai`` included), the like-for-like baseline of a whole pytest run
  fixed        the same pytest command answered from the cache (no requests, and no ``import
               openai``: the client is imported at the first request): the fixed cost of
               starting pytest, collecting, recording and reporting, and what it is made of:
               a bare ``pytest`` start with the environment's auto-loaded plugins, ``import
               openai`` and ``import promptcheck.session``, each in a fresh interpreter (they
               share pydantic, so their sum overstates the whole)
  floor        the same requests as raw HTTP/1.1 from this process, no client library: what
               the fake server allows
  n            the run with n honoured (n_per_request: 50): 40 requests of 50 samples

Every run and baseline uses ``--python`` (default: this interpreter). A user's install
(``python -m venv V && V/bin/pip install '.[openai]'``) is the fair one: this development
environment also auto-loads the pytest plugins of hypothesis, anyio's trio backend and xdist.
The children may write bytecode caches even where PYTHONDONTWRITEBYTECODE is set here, as Python
does on any machine that allows it.

Goals (issue 5): >= 80% of ideal at concurrency 8; no worse than the bare loop at 64; with n,
the 2,000 samples in about 40 requests' time.
Usage: python benchmarks/openai_client.py [--python V/bin/python] [--repeats 3] [--cases 40]
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
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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


def run_pytest(python: str, root: Path, *options: str) -> float:
    command = [python, "-m", "pytest", "--promptcheck", "-q", "-p", "no:cacheprovider"]
    command += ["--promptcheck-no-progress", *options, "suites"]
    started = time.perf_counter()
    completed = subprocess.run(
        command, cwd=root, capture_output=True, text=True, check=False, env=CHILD_ENV
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        sys.exit(f"pytest failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return elapsed


async def bare_loop(url: str, requests: int, concurrency: int, transport: str) -> float:
    """A user's own loop: ``chat.completions.create`` under a semaphore; seconds of the loop."""
    import openai

    http_client = openai.DefaultAioHttpClient() if transport == "aiohttp" else None
    client = openai.AsyncOpenAI(
        base_url=url, api_key="unused", max_retries=0, timeout=60, http_client=http_client
    )
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


async def raw_loop(url: str, requests: int, concurrency: int) -> float:
    """The server's floor: raw HTTP/1.1 over ``concurrency`` keep-alive connections, no client
    library; seconds of the loop."""
    parsed = urlsplit(url)
    assert parsed.hostname is not None and parsed.port is not None
    body = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "GOOD"}]})
    head = (
        f"POST {parsed.path}/chat/completions HTTP/1.1\r\nhost: {parsed.netloc}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    message = (head + body).encode()
    remaining = iter(range(requests))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(parsed.hostname, parsed.port)
        for _ in remaining:
            writer.write(message)
            headers = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
            await reader.readexactly(length)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return time.perf_counter() - started


def raw_seconds(url: str, requests: int, concurrency: int) -> float:
    return asyncio.run(raw_loop(url, requests, concurrency))


def bare_script(python: str, url: str, requests: int, concurrency: int, transport: str) -> Bare:
    """The bare loop as a whole process: the loop's own seconds, and the process's."""
    code = (
        f"import sys, asyncio; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "import openai_client; "
        f"print(asyncio.run(openai_client.bare_loop({url!r}, {requests}, {concurrency}, "
        f"{transport!r})))"
    )
    started = time.perf_counter()
    completed = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True, env=CHILD_ENV
    )
    return Bare(float(completed.stdout.strip()), time.perf_counter() - started)


@dataclass(frozen=True)
class Bare:
    loop_s: float
    process_s: float


#: Pieces of the fixed cost, each timed in a fresh interpreter.
STARTUP_PARTS: dict[str, list[str]] = {
    "pytest start with auto-loaded plugins": ["-m", "pytest", "-q", "-p", "no:cacheprovider",
                                              "--co", os.devnull],
    "import openai": ["-c", "import openai"],
    "import promptcheck.session": ["-c", "import promptcheck.session"],
}  # fmt: skip

#: The children may keep bytecode caches, as on any machine where Python may write them: without
#: them every run compiles pytest's rewritten plugin modules (promptcheck's, hypothesis's) again.
TRANSPORTS = ("httpx", "aiohttp")
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(python: str, arguments: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run([python, *arguments], cwd=cwd, capture_output=True, check=False, env=CHILD_ENV)
    return time.perf_counter() - started


def best(repeats: int, measure: Callable[[], float]) -> float:
    """The shortest of ``repeats`` measurements: the one least disturbed by other load."""
    return min(measure() for _ in range(repeats))


def best_bare(repeats: int, measure: Callable[[], Bare]) -> Bare:
    runs = [measure() for _ in range(repeats)]
    return Bare(min(r.loop_s for r in runs), min(r.process_s for r in runs))


def describe_environment(python: str) -> str:
    code = (
        "import importlib.metadata as m\n"
        "def v(name):\n"
        "    try: return m.version(name)\n"
        "    except m.PackageNotFoundError: return 'not installed'\n"
        "print(', '.join(f'{n} {v(n)}' for n in ('openai', 'aiohttp', 'hypothesis')))"
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
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter of the runs and baselines: a user's install (pip install "
        "'promptcheck[openai]') rather than this development environment",
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
        with tempfile.TemporaryDirectory() as directory:
            root = Path(directory)
            write_project(root, url, args.cases, args.samples)
            env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
            shape = f"{requests} samples ({args.cases} cases x {args.samples})"
            print(f"{shape}, {args.latency_ms:g} ms per request; {env_note}")
            print(describe_environment(python))
            run_pytest(python, root)  # fills the cache (and the bytecode caches)
            overhead = best(args.repeats, lambda: run_pytest(python, root))
            parts = {name: best(args.repeats, functools.partial(timed, python, command, root))
                     for name, command in STARTUP_PARTS.items()}  # fmt: skip
            print(
                f"fixed: a cached pytest run (no requests) takes {overhead:.2f} s; apart: "
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items())
            )
            print(
                "bare: a user's own AsyncOpenAI loop (chat.completions.create under a semaphore) "
                "as a whole process; 'loop' is its loop alone, 'process' the whole process"
            )
            header = ["conc", "ideal", "pytest", "of ideal"]
            for transport in TRANSPORTS:
                header += [f"bare {transport} loop", "process", "pytest vs it"]
            print(" | ".join(header) + " | (pytest - fixed) of ideal")
            floors: list[str] = []
            for concurrency in args.concurrency:
                fresh = ("--promptcheck-fresh", f"--promptcheck-concurrency={concurrency}")
                wall = best(args.repeats, functools.partial(run_pytest, python, root, *fresh))
                ideal = requests * latency / concurrency
                cells = [str(concurrency), f"{ideal:.2f}s", f"{wall:.2f}s", f"{ideal / wall:.0%}"]
                for transport in TRANSPORTS:
                    measure = functools.partial(
                        bare_script, python, url, requests, concurrency, transport
                    )
                    bare = best_bare(args.repeats, measure)
                    cells += [f"{bare.loop_s:.2f}s", f"{bare.process_s:.2f}s"]
                    cells.append(f"{bare.process_s / wall:.0%}")
                share = ideal / max(wall - overhead, 1e-9)
                print(" | ".join(cells) + f" | {share:.0%}")
                raw_run = functools.partial(raw_seconds, url, requests, concurrency)
                raw = best(args.repeats, raw_run)
                floors.append(f"{raw:.2f}s at {concurrency} ({ideal / raw:.0%} of ideal)")
            print(
                "the server's floor (raw HTTP/1.1, no client library, in process): "
                + ", ".join(floors)
            )
            n_run = best(
                args.repeats,
                lambda: run_pytest(python, root, "--promptcheck-fresh", "--promptcheck-model=n"),
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
