"""Throughput of ``promptcheck serve`` (tokens per second) with 1, 8 and 32 concurrent clients,
optionally against a baseline server from another source tree, measured in the same run.

A tiny GPT-NeoX checkpoint in Dolly v2's layout (the GPT-NeoX-20B tokenizer with Dolly's special
tokens; ``--hidden``/``--layers`` shape it, random weights, so that every request generates its
full ``--max-tokens``) is served by ``python -m promptcheck.serve`` in its own process. Each
client, an ``AsyncOpenAI`` in this process, sends chat requests one after another for
``--seconds``; throughput is the completion tokens the server reported, over the wall time.

With ``--baseline-src DIR`` (a ``src`` directory, e.g. main's exported with ``git archive main
src | tar -x -C /tmp/serve-baseline``), a second server runs that code on the same checkpoint;
the two are loaded in turn, level by level (the order alternating), ``--repeats`` times, and
the table gives the median of each and the ratio candidate / baseline.

Goals: >= 2x single-client throughput at 32 clients on CPU (>= 6x on a GPU) (issue 5); the
maintained HTTP server no slower than the hand-written one at 1, 8 and 32 clients (issue 14).
Usage: python benchmarks/serve_throughput.py [--clients 1 8 32] [--threads 1] [--device cpu]
       [--baseline-src /tmp/serve-baseline/src] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tests/checkpoints.py: the Dolly layout builders

KEY_ENV = "PROMPTCHECK_BENCH_KEY"
KEY = "bench-key"  # both the old server and the new take --api-key-env


def build_checkpoint(directory: Path, hidden: int, layers: int) -> Path:
    from checkpoints import dolly_model, dolly_v2_config, neox_tokenizer

    config = dolly_v2_config(hidden_size=hidden, layers=layers, heads=max(1, hidden // 32))
    dolly_model(config).save_pretrained(directory)
    neox_tokenizer().save_pretrained(directory)
    return directory


async def load(url: str, clients: int, seconds: float, max_tokens: int) -> tuple[int, int, float]:
    """(requests, completion tokens, wall seconds) of ``clients`` clients for ``seconds``."""
    import openai

    api = openai.AsyncOpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=600)
    totals = [0, 0]

    async def client(index: int, deadline: float) -> None:
        turn = 0
        while time.perf_counter() < deadline:
            answer = await api.chat.completions.create(
                model="bench",
                messages=[{"role": "user", "content": f"Write about topic {index}-{turn}."}],
                max_tokens=max_tokens,
                temperature=1.0,
                seed=index * 100_000 + turn,
            )
            assert answer.usage is not None
            totals[0] += 1
            totals[1] += answer.usage.completion_tokens
            turn += 1

    async with api:
        await client(-1, time.perf_counter() + 0.5)  # warm up the model and the connection
        totals[:] = [0, 0]
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(client(i, deadline) for i in range(clients)))
        return totals[0], totals[1], time.perf_counter() - started


def stats(url: str) -> dict[str, float]:
    health = url.removesuffix("/v1") + "/health"
    with urllib.request.urlopen(health, timeout=30) as response:
        result: dict[str, float] = json.load(response)["stats"]
    return result


def start(
    stack: ExitStack, source: Path, checkpoint: Path, args: argparse.Namespace
) -> tuple[str, str]:
    """Start a server running the code under ``source``; (its URL, its ready line)."""
    env = {**os.environ, "PYTHONPATH": str(source), KEY_ENV: KEY}
    where = subprocess.run(
        [sys.executable, "-c", "import promptcheck.serve; print(promptcheck.serve.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(where).resolve().is_relative_to(source.resolve()), (where, source)
    command = [sys.executable, "-m", "promptcheck.serve", str(checkpoint), "--port", "0"]
    command += ["--name", "bench", "--device", args.device, "--api-key-env", KEY_ENV]
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    stack.callback(server.wait, 30)
    stack.callback(server.terminate)
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    return line.rsplit(" ", 1)[1], line


def measure(url: str, clients: int, args: argparse.Namespace) -> tuple[float, float]:
    """(tokens per second, rows per batch) of one level."""
    before = stats(url)
    _, tokens, wall = asyncio.run(load(url, clients, args.seconds, args.max_tokens))
    after = stats(url)
    batches = after["batches"] - before["batches"]
    return tokens / wall, (after["rows"] - before["rows"]) / max(batches, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="server's torch threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--checkpoint", type=Path, help="serve this checkpoint instead")
    parser.add_argument("--baseline-src", type=Path, help="a src/ tree to compare against")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of every level")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory, ExitStack() as stack:
        checkpoint = args.checkpoint or build_checkpoint(
            Path(directory) / "bench", args.hidden, args.layers
        )
        servers = {"candidate": ROOT / "src"}
        if args.baseline_src is not None:
            servers = {"baseline": args.baseline_src, **servers}
        urls = {}
        for name, source in servers.items():
            urls[name], line = start(stack, source, checkpoint, args)
            print(f"{name} ({source}): {line}")
        machine = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        print(f"{machine}; {args.max_tokens} tokens a request, {args.seconds:g} s a level")
        rates: dict[tuple[str, int], list[float]] = {}
        rows: dict[tuple[str, int], list[float]] = {}
        for repeat in range(args.repeats):
            for level, clients in enumerate(args.clients):
                order = list(urls) if (repeat + level) % 2 == 0 else list(reversed(urls))
                for name in order:
                    rate, per_batch = measure(urls[name], clients, args)
                    rates.setdefault((name, clients), []).append(rate)
                    rows.setdefault((name, clients), []).append(per_batch)
        report(list(urls), args.clients, rates, rows)


def report(
    names: list[str],
    levels: list[int],
    rates: dict[tuple[str, int], list[float]],
    rows: dict[tuple[str, int], list[float]],
) -> None:
    columns = ["clients"]
    for name in names:
        columns += [f"{name} tok/s", "x single", "rows/batch"]
    if len(names) == 2:
        columns.append("cand/base")
    print(" ".join(f"{c:>15}" for c in columns))
    single = {name: statistics.median(rates[(name, levels[0])]) for name in names}
    for clients in levels:
        cells = [f"{clients:>15}"]
        for name in names:
            rate = statistics.median(rates[(name, clients)])
            spread = f"{min(rates[(name, clients)]):.0f}-{max(rates[(name, clients)]):.0f}"
            shown = f"{rate:.0f} ({spread})" if len(rates[(name, clients)]) > 1 else f"{rate:.0f}"
            per_batch = statistics.median(rows[(name, clients)])
            cells += [f"{shown:>15}", f"{rate / single[name]:>14.1f}x", f"{per_batch:>15.1f}"]
        if len(names) == 2:
            ratio = statistics.median(rates[(names[1], clients)]) / statistics.median(
                rates[(names[0], clients)]
            )
            cells.append(f"{ratio:>14.2f}x")
        print(" ".join(cells))


if __name__ == "__main__":
    main()
