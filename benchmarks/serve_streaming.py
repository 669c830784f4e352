"""What token streaming costs ``promptcheck serve``: one sampler call, streamed and not.

The same prepared chat request (N rows of one prompt, ``--max-tokens`` each, random weights so
every row runs to the end) is sampled by the local backend as the server samples it, plainly and
with a :class:`~promptcheck.serve.streaming.RowStreamer` on every row (incremental decoding,
hold-backs, one ``call_soon_threadsafe`` per piece of text). The figures are CPU seconds of the
process (``time.process_time``), medians of ``--repeats`` interleaved runs, so that other jobs on
a shared machine move them less than wall time. Requests that do not stream run no streaming
code at all (one check per row per step), which this benchmark does not separate from noise.

    python benchmarks/serve_streaming.py [--sizes 1 16 64] [--max-tokens 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from serve_throughput import build_checkpoint  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from promptcheck.backends.base import GenerationRequest, SamplingParams
    from promptcheck.serve import load_engine
    from promptcheck.serve.streaming import RowStreamer, TextFeed

    torch.set_num_threads(args.threads)
    loop = asyncio.new_event_loop()  # not running: the pieces just queue on it
    with tempfile.TemporaryDirectory() as directory:
        engine = load_engine(build_checkpoint(Path(directory) / "bench", args.hidden, args.layers))
        backend = engine.chat
        print(f"{'rows':>5} {'plain ms':>9} {'streamed ms':>12} {'streamed/plain':>15}")
        for rows in args.sizes:
            params = SamplingParams(temperature=1.0, max_tokens=args.max_tokens)
            request = GenerationRequest("Write a story.", None, params, tuple(range(rows)))
            plain = backend.prepare(request)
            assert not isinstance(plain, list)
            times: dict[str, list[float]] = {"plain": [], "streamed": []}
            for repeat in range(args.repeats):
                order = ("plain", "streamed") if repeat % 2 == 0 else ("streamed", "plain")
                for name in order:
                    prepared = plain
                    if name == "streamed":
                        feed = TextFeed()
                        fmt = backend.prompt_format
                        streamer = RowStreamer(loop, feed, fmt, plain.stop_strings, rows)
                        prepared = replace(plain, job=replace(plain.job, observer=streamer))
                    started = time.process_time()
                    backend.run([prepared])
                    times[name].append(time.process_time() - started)
            a, b = statistics.median(times["plain"]), statistics.median(times["streamed"])
            print(f"{rows:>5} {a * 1000:>9.1f} {b * 1000:>12.1f} {b / a:>15.3f}")
    loop.close()


if __name__ == "__main__":
    main()
