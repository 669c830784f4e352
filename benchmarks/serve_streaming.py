"""What token streaming costs ``promptcheck serve``: one sampler call, streamed and not, and
with ``--baseline-src`` the baseline's streaming code on the same sampler call, in the same run.

The same prepared chat request (N rows of one prompt, ``--max-tokens`` each, random weights so
every row runs to the end) is sampled by the local backend as the server samples it, plainly and
with a :class:`~promptcheck.serve.streaming.RowStreamer` on every row (incremental decoding,
hold-backs, one ``call_soon_threadsafe`` per piece of text). ``--stop-lengths`` adds a stop
string of that many characters (one the random model never writes) to the request: every row
then matches it on every token, which the hand-written matcher did in time proportional to the
stop's length per token. The figures are CPU seconds of the process (``time.process_time``),
medians of ``--repeats`` interleaved runs, so that other jobs on a shared machine move them less
than wall time. "plain" is the sampler call with no observer; "watched" is what the server
runs for a request that does not stream: a :class:`~promptcheck.serve.batching.Departure` on
its rows, checked once per row per step, so that a client that hangs up stops its sampling.

    python benchmarks/serve_streaming.py [--sizes 1 16 64] [--max-tokens 128] [--threads 1]
        [--stop-lengths 0 8 512] [--baseline-src /tmp/serve-baseline/src]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from serve_throughput import build_checkpoint  # noqa: E402

#: A character the random model does not write: its stop strings never end a row.
RARE = "\u2603"


def baseline_streaming(source: Path) -> ModuleType:
    """The baseline tree's ``promptcheck/serve/streaming.py``, loaded under another name."""
    path = source / "promptcheck" / "serve" / "streaming.py"
    spec = importlib.util.spec_from_file_location("baseline_streaming", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--stop-lengths", type=int, nargs="+", default=[0])
    parser.add_argument("--baseline-src", type=Path, help="a src/ tree to compare against")
    args = parser.parse_args()

    import torch

    from promptcheck.backends.base import GenerationRequest, SamplingParams
    from promptcheck.serve import load_engine
    from promptcheck.serve import streaming as candidate
    from promptcheck.serve.batching import Departure

    modules = {"streamed": candidate}
    if args.baseline_src is not None:
        modules = {"baseline": baseline_streaming(args.baseline_src), **modules}
    torch.set_num_threads(args.threads)
    loop = asyncio.new_event_loop()  # not running: the pieces just queue on it
    with tempfile.TemporaryDirectory() as directory:
        engine = load_engine(build_checkpoint(Path(directory) / "bench", args.hidden, args.layers))
        backend = engine.chat
        names = ["plain", "watched", *modules]
        header = f"{'stop':>5} {'rows':>5} " + " ".join(f"{n + ' ms':>12}" for n in names)
        header += " " + " ".join(f"{n + '/plain':>16}" for n in ["watched", *modules])
        if len(modules) == 2:
            header += f" {'streamed/baseline':>18}"
        print(header)
        for length in args.stop_lengths:
            stop = (RARE * length,) if length else ()
            for rows in args.sizes:
                params = SamplingParams(temperature=1.0, max_tokens=args.max_tokens, stop=stop)
                request = GenerationRequest("Write a story.", None, params, tuple(range(rows)))
                plain = backend.prepare(request)
                assert not isinstance(plain, list)
                times: dict[str, list[float]] = {name: [] for name in names}
                for repeat in range(args.repeats):
                    order = names if repeat % 2 == 0 else list(reversed(names))
                    for name in order:
                        prepared = plain
                        if name == "watched":
                            prepared = replace(plain, job=replace(plain.job, observer=Departure()))
                        elif name != "plain":
                            module = modules[name]
                            feed = module.TextFeed()
                            fmt = backend.prompt_format
                            streamer = module.RowStreamer(loop, feed, fmt, plain.stop_strings, rows)
                            prepared = replace(plain, job=replace(plain.job, observer=streamer))
                        started = time.process_time()
                        backend.run([prepared])
                        times[name].append(time.process_time() - started)
                medians = {name: statistics.median(times[name]) for name in names}
                cells = [f"{length:>5}", f"{rows:>5}"]
                cells += [f"{medians[n] * 1000:>12.1f}" for n in names]
                cells += [f"{medians[n] / medians['plain']:>16.3f}" for n in ["watched", *modules]]
                if len(modules) == 2:
                    cells.append(f"{medians['streamed'] / medians['baseline']:>18.3f}")
                print(" ".join(cells))
    loop.close()


if __name__ == "__main__":
    main()
