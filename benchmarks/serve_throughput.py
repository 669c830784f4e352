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
the table gives the median of each and the ratio candidate / baseline. On a shared machine the
wall-clock rates move with other jobs' load; the servers' own CPU time per completion token
(``cpu ms/tok``, from ``/proc``) moves much less, and is compared too.

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


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(
    stack: ExitStack, source: Path, checkpoint: Path, args: argparse.Namespace
) -> tuple[str, int, str]:
    """Start a server running the code under ``source``; (its URL, its pid, its ready line)."""
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
    return line.rsplit(" ", 1)[1], server.pid, line


def measure(url: str, pid: int, clients: int, args: argparse.Namespace) -> tuple[float, ...]:
    """(tokens per second, rows per batch, server CPU ms per token) of one level."""
    before, cpu_before = stats(url), cpu_seconds(pid)
    _, tokens, wall = asyncio.run(load(url, clients, args.seconds, args.max_tokens))
    after, cpu_after = stats(url), cpu_seconds(pid)
    batches = after["batches"] - before["batches"]
    cpu_ms = 1000 * (cpu_after - cpu_before) / max(tokens, 1)
    return tokens / wall, (after["rows"] - before["rows"]) / max(batches, 1), cpu_ms


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
        urls, pids = {}, {}
        for name, source in servers.items():
            urls[name], pids[name], line = start(stack, source, checkpoint, args)
            print(f"{name} ({source}): {line}")
        machine = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
        print(f"{machine}; {args.max_tokens} tokens a request, {args.seconds:g} s a level")
        figures: dict[tuple[str, int], list[tuple[float, ...]]] = {}
        for repeat in range(args.repeats):
            for level, clients in enumerate(args.clients):
                order = list(urls) if (repeat + level) % 2 == 0 else list(reversed(urls))
                for name in order:
                    figure = measure(urls[name], pids[name], clients, args)
                    figures.setdefault((name, clients), []).append(figure)
        report(list(urls), args.clients, figures)


def report(
    names: list[str], levels: list[int], figures: dict[tuple[str, int], list[tuple[float, ...]]]
) -> None:
    """Medians per server and level (with the range of the rates when repeated), and the ratios
    candidate / baseline of the rates and of the CPU per token."""

    def median(name: str, clients: int, column: int) -> float:
        return statistics.median(figure[column] for figure in figures[(name, clients)])

    columns = ["clients"]
    for name in names:
        columns += [f"{name} tok/s", "x single", "rows/batch", "cpu ms/tok"]
    if len(names) == 2:
        columns += ["tok/s c/b", "cpu/tok c/b"]
    print(" ".join(f"{c:>15}" for c in columns))
    for clients in levels:
        cells = [f"{clients:>15}"]
        for name in names:
            rate = median(name, clients, 0)
            rates = [figure[0] for figure in figures[(name, clients)]]
            shown = (
                f"{rate:.0f} ({min(rates):.0f}-{max(rates):.0f})"
                if len(rates) > 1
                else f"{rate:.0f}"
            )
            single = median(name, levels[0], 0)
            cells += [f"{shown:>15}", f"{rate / single:>14.1f}x"]
            cells += [f"{median(name, clients, 1):>15.1f}", f"{median(name, clients, 2):>15.2f}"]
        if len(names) == 2:
            base, cand = names
            rate_ratio = median(cand, clients, 0) / median(base, clients, 0)
            cpu_ratio = median(cand, clients, 2) / median(base, clients, 2)
            cells += [f"{rate_ratio:>14.2f}x", f"{cpu_ratio:>14.2f}x"]
        print(" ".join(cells))


if __name__ == "__main__":
    main()
