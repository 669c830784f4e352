"""Throughput of ``promptcheck serve`` (tokens per second) with 1, 8 and 32 concurrent clients.

A tiny GPT-NeoX checkpoint in Dolly v2's layout (the GPT-NeoX-20B tokenizer with Dolly's special
tokens; ``--hidden``/``--layers`` shape it, random weights, so that every request generates its
full ``--max-tokens``) is served by ``python -m promptcheck.serve`` in its own process. Each
client, an ``AsyncOpenAI`` in this process, sends chat requests one after another for
``--seconds``; throughput is the completion tokens the server reported, over the wall time.

Goal (issue 5): >= 2x single-client throughput at 32 clients on CPU (>= 6x on a GPU).
Usage: python benchmarks/serve_throughput.py [--clients 1 8 32] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # tests/checkpoints.py: the Dolly layout builders


def build_checkpoint(directory: Path, hidden: int, layers: int) -> Path:
    from checkpoints import dolly_model, dolly_v2_config, neox_tokenizer

    config = dolly_v2_config(hidden_size=hidden, layers=layers, heads=max(1, hidden // 32))
    dolly_model(config).save_pretrained(directory)
    neox_tokenizer().save_pretrained(directory)
    return directory


async def load(url: str, clients: int, seconds: float, max_tokens: int) -> tuple[int, int, float]:
    """(requests, completion tokens, wall seconds) of ``clients`` clients for ``seconds``."""
    import openai

    api = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=600)
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = args.checkpoint or build_checkpoint(
            Path(directory) / "bench", args.hidden, args.layers
        )
        command = [sys.executable, "-m", "promptcheck.serve", str(checkpoint), "--port", "0"]
        command += ["--name", "bench", "--device", args.device]
        if args.threads is not None:
            command += ["--threads", str(args.threads)]
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None
            line = server.stdout.readline().strip()
            url = line.rsplit(" ", 1)[1]
            print(line)
            machine = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
            print(f"{machine}; {args.max_tokens} tokens a request, {args.seconds:g} s a level")
            columns = ("clients", "requests", "tokens/s", "x single", "batches", "rows/batch")
            print(" ".join(f"{c:>10}" for c in columns))
            single = None
            for clients in args.clients:
                before = stats(url)
                requests, tokens, wall = asyncio.run(
                    load(url, clients, args.seconds, args.max_tokens)
                )
                after = stats(url)
                batches = after["batches"] - before["batches"]
                rows = (after["rows"] - before["rows"]) / max(batches, 1)
                rate = tokens / wall
                single = single or rate
                cells = (clients, requests, f"{rate:.0f}", f"{rate / single:.1f}x", batches, rows)
                print(
                    " ".join(
                        f"{c:>10}" if not isinstance(c, float) else f"{c:>10.1f}" for c in cells
                    )
                )
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
