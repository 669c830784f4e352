"""The four parts of benchmarks/gpu_check.py, each run by it in a process of its own.

A process per part keeps one part's failure (a CUDA error poisons its process), memory (a 3B
model and its optimizer) and time overrun away from the others: the check can stop a part at its
share of the budget and still run the next. A part appends what it finds, figure by figure, to
an events file (``gpu_check_record.PartLog``) and prints what it is doing as it goes.

The figures come from the benchmarks that measure them on their own (``local_sampling.py``,
``serve_throughput.py``, ``train_throughput.py``): this module picks the shapes and collects.

    python benchmarks/gpu_check_parts.py PART --events FILE --deadline EPOCH_SECONDS \\
        [--device cuda|cpu] [--tiny] [--out DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(1, str(ROOT / "tests"))  # tests/checkpoints.py: the Dolly layout builders

from gpu_check_record import PartLog  # noqa: E402

#: A test module holds GPU tests when it uses this marker.
GPU_MARK = re.compile(r"pytest\.mark\.gpu\b")


@dataclass(frozen=True)
class SamplingShape:
    sizes: tuple[int, ...]
    new_tokens: int
    prompt_tokens: int
    repeats: int
    copy_elements: int  # bf16 elements of the bandwidth copy


@dataclass(frozen=True)
class ServeShape:
    hidden: int
    layers: int
    heads: int
    clients: tuple[int, ...]
    seconds: float
    max_tokens: int


@dataclass(frozen=True)
class TrainShape:
    shapes: tuple[tuple[str, int], ...]  # (shape, rows per step)
    seq_len: int
    steps: int
    warmup: int
    matmul_size: int


#: The GPU shapes of issue 21, and tiny ones that run the same code on a CPU in seconds. Items
#: run in order of importance (the goals' rows first), so that a short budget drops the least.
SAMPLING = {
    False: SamplingShape((64, 1, 16), 256, 48, 2, 2**30),
    True: SamplingShape((8, 1, 4), 16, 16, 1, 2**20),
}
SERVE = {
    False: ServeShape(2560, 32, 32, (1, 32, 8), 12.0, 64),
    True: ServeShape(64, 2, 4, (1, 4, 2), 0.5, 8),
}
TRAIN = {
    False: TrainShape((("dolly-v2-3b", 4), ("pythia-160m", 16)), 2048, 10, 3, 8192),
    True: TrainShape((("tiny", 2),), 64, 2, 1, 256),
}


class Budget:
    """The part's deadline: an item is started only when the last one's duration still fits."""

    def __init__(self, deadline: float, log: PartLog) -> None:
        self.deadline = deadline
        self.log = log
        self.exhausted = False

    def left(self) -> float:
        return self.deadline - time.time()

    def run_items(self, items: list[tuple[str, Callable[[], dict[str, Any]]]]) -> None:
        """Measure each item in turn and log its row; an item that raises is logged as an error
        and the next one goes on; once one would not fit, it and all after it are skipped."""
        estimate = 0.0
        for name, measure in items:
            left = self.left()
            if self.exhausted or left < estimate:
                self.exhausted = True
                reason = (
                    f"{max(left, 0):.0f} s of the part's budget left, the last item took "
                    f"{estimate:.0f} s"
                )
                self.log.event("skip", item=name, reason=reason)
                self.log.say(f"skipped {name}: {reason}")
                continue
            self.log.say(f"{name} ...")
            started = time.monotonic()
            try:
                row = measure()
            except Exception as exc:
                message = f"{type(exc).__name__}: {_first_line(exc)}"
                self.log.event("error", item=name, message=message)
                self.log.say(f"{name} failed: {message}")
                traceback.print_exc()
                _release_gpu_memory()
            else:
                self.log.event("row", **row)
                self.log.say(f"{name}: {_summary(row)}")
                _release_gpu_memory()
            estimate = time.monotonic() - started


# -- tests ----------------------------------------------------------------------------------------


def gpu_test_files() -> list[Path]:
    """Every test module under tests/ that holds ``pytest.mark.gpu`` tests."""
    return sorted(
        path
        for path in (ROOT / "tests").rglob("test_*.py")
        if GPU_MARK.search(path.read_text(encoding="utf-8"))
    )


def run_tests(args: argparse.Namespace, log: PartLog, budget: Budget) -> None:
    """``pytest -m gpu`` on the modules that hold GPU tests; one row per test from JUnit XML."""
    files = [str(path.relative_to(ROOT)) for path in gpu_test_files()]
    junit = args.out / "gpu_tests.xml"
    command = [sys.executable, "-m", "pytest", "-m", "gpu", *files, "-p", "no:cacheprovider",
               "-v", "-rs", f"--junitxml={junit}", "-o", "junit_family=xunit1"]  # fmt: skip
    log.event("settings", files=files, command=" ".join(command[1:]))
    log.say(f"pytest -m gpu on {len(files)} files")
    # Interrupted at the part's deadline, pytest has 8 s to write its report before the check
    # stops the part (10 s past its deadline on tiny shapes, 20 s on the GPU's).
    timeout = max(1.0, budget.left())
    pytest = subprocess.Popen(command, cwd=ROOT)
    try:
        log.event("fact", exit_code=pytest.wait(timeout=timeout))
    except subprocess.TimeoutExpired:
        # Interrupted, pytest still writes the JUnit XML of the tests it ran.
        pytest.send_signal(signal.SIGINT)
        try:
            pytest.wait(timeout=8)
        except subprocess.TimeoutExpired:
            pytest.kill()
            pytest.wait()
        message = (
            f"interrupted at the part's budget ({timeout:.0f} s); the tests after it did not run"
        )
        log.event("error", item="pytest", message=message)
    if not junit.exists():
        raise RuntimeError("pytest wrote no JUnit XML")
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for row in junit_rows(junit):
        counts[row["outcome"] if row["outcome"] != "error" else "errors"] += 1
        log.event("row", **row)
    log.event("fact", **counts)
    log.say(", ".join(f"{v} {k}" for k, v in counts.items()))


def junit_rows(path: Path) -> list[dict[str, Any]]:
    """One row per test case of a JUnit XML file: name, outcome, message, recorded properties."""
    rows = []
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        if case.get("name") is None:  # the placeholder an interrupted session leaves
            continue
        where = case.get("file") or case.get("classname", "").replace(".", "/") + ".py"
        outcome, message = "passed", ""
        for tag, name in (("failure", "failed"), ("error", "error"), ("skipped", "skipped")):
            found = case.find(tag)
            if found is not None:
                outcome, message = name, found.get("message", "") or (found.text or "")[:300]
                break
        properties = {
            p.get("name", ""): p.get("value", "") for p in case.iter("property") if p.get("name")
        }
        rows.append(
            {
                "test": f"{where}::{case.get('name')}",
                "outcome": outcome,
                "message": message.strip(),
                "seconds": float(case.get("time") or 0),
                "properties": properties,
            }
        )
    return rows


# -- sampling -------------------------------------------------------------------------------------


def run_sampling(args: argparse.Namespace, log: PartLog, budget: Budget) -> None:
    """Local sampling against ``generate(num_return_sequences=N)`` and the bandwidth roofline."""
    import local_sampling as sampling
    import torch

    shape = SAMPLING[args.tiny]
    log.event("settings", **asdict(shape), temperature=sampling.TEMPERATURE, top_p=1.0)
    log.event("fact", **torch_facts(args.device))
    device = torch.device(args.device)
    if args.tiny:
        setup = sampling.tiny_model(512, shape.prompt_tokens, 1.0, device=args.device, hidden=32,
                                    layers=2)  # fmt: skip
    else:
        setup = sampling.dolly_3b_shaped_model(shape.prompt_tokens, args.device)
    copy = sampling.copy_bandwidth_gbps(device, shape.copy_elements)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    datasheet = sampling.datasheet_bandwidth_gbps(name) if name else None
    log.event("fact", model=setup.description, copy_bandwidth_gbps=significant(copy),
              datasheet_bandwidth_gbps=datasheet)  # fmt: skip
    log.say(f"{setup.description}; copy bandwidth {copy:,.0f} GB/s")
    started = time.monotonic()
    for warm_up in (
        sampling.promptcheck_run(setup, max(shape.sizes), 1.0, max(shape.sizes), 8),
        sampling.hf_nrs_run(setup, max(shape.sizes), 1.0, 8),
    ):
        warm_up()  # kernels, allocator, lazy imports: once, on a short run of each method
    log.event("fact", warm_up_seconds=significant(time.monotonic() - started))

    def measure(n: int) -> dict[str, Any]:
        new_tokens = shape.new_tokens
        methods = {
            "promptcheck": sampling.promptcheck_run(setup, n, 1.0, max(shape.sizes), new_tokens),
            "generate": sampling.hf_nrs_run(setup, n, 1.0, new_tokens),
        }
        runs = sampling.interleaved_rates(setup, methods, shape.repeats, warm_up=False)
        ours, theirs = (statistics.median(runs[m]) for m in ("promptcheck", "generate"))
        roof = sampling.roofline_tokens_per_second(setup, n, copy, new_tokens)
        row = {
            "n": n,
            "promptcheck_tokens_per_s": significant(ours),
            "generate_tokens_per_s": significant(theirs),
            "ratio_vs_generate": significant(ours / theirs),
            "roofline_tokens_per_s": significant(roof),
            "roofline_fraction": significant(ours / roof),
            "generate_roofline_fraction": significant(theirs / roof),
            "runs": {m: [significant(r) for r in rates] for m, rates in runs.items()},
        }
        if datasheet:
            peak_roof = sampling.roofline_tokens_per_second(setup, n, datasheet, new_tokens)
            row["datasheet_roofline_fraction"] = significant(ours / peak_roof)
        return row

    budget.run_items([(f"N = {n}", partial(measure, n)) for n in shape.sizes])


# -- serve ----------------------------------------------------------------------------------------


def run_serve(args: argparse.Namespace, log: PartLog, budget: Budget) -> None:
    """``python -m promptcheck.serve`` on a Dolly-layout checkpoint, loaded by 1..32 clients."""
    import serve_throughput
    import torch

    shape = SERVE[args.tiny]
    log.event("settings", **asdict(shape))
    log.event("fact", **torch_facts(args.device))
    dtype = torch.float32 if args.device == "cpu" else torch.bfloat16
    with tempfile.TemporaryDirectory() as directory:
        started = time.monotonic()
        checkpoint = build_dolly_checkpoint(Path(directory) / "bench", shape, args.device, dtype)
        log.event("fact", checkpoint_seconds=round(time.monotonic() - started, 1))
        command = [sys.executable, "-m", "promptcheck.serve", str(checkpoint), "--port", "0",
                   "--name", "bench", "--device", args.device,
                   "--api-key-env", serve_throughput.KEY_ENV]  # fmt: skip
        if args.device == "cpu":
            command += ["--threads", "1"]
        log.say("starting " + " ".join(command[1:]))
        env = {**os.environ, serve_throughput.KEY_ENV: serve_throughput.KEY}
        server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        try:
            line = first_line(server, budget.left())
            match = re.search(r"https?://\S+", line)
            if match is None:
                raise RuntimeError(f"no URL in the server's first line: {line!r}")
            url = match.group(0)
            log.event("fact", server=line, url=url)
            log.say(line)
            one_client: list[float] = []  # the rate of one client, which the others divide

            def measure(clients: int) -> dict[str, Any]:
                before = server_stats(url)
                requests, tokens, wall = asyncio.run(
                    serve_throughput.load(url, clients, shape.seconds, shape.max_tokens)
                )
                after = server_stats(url)
                rate = tokens / wall
                if clients == 1:
                    one_client.append(rate)
                row: dict[str, Any] = {
                    "clients": clients,
                    "requests": requests,
                    "completion_tokens": tokens,
                    "seconds": significant(wall),
                    "tokens_per_s": significant(rate),
                }
                if one_client:
                    row["ratio_vs_one_client"] = significant(rate / one_client[0])
                if before and after:
                    batches = after["batches"] - before["batches"]
                    row["batches"] = batches
                    row["rows_per_batch"] = significant(
                        (after["rows"] - before["rows"]) / max(1, batches)
                    )
                return row

            budget.run_items([(f"{c} clients", partial(measure, c)) for c in shape.clients])
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def build_dolly_checkpoint(directory: Path, shape: ServeShape, device: str, dtype: Any) -> Path:
    """A Dolly v2 layout checkpoint of ``shape`` (the real GPT-NeoX-20B tokenizer with Dolly's
    tokens, random weights, so every request runs to ``max_tokens``), built on ``device``."""
    import torch
    from checkpoints import dolly_model, dolly_v2_config, neox_tokenizer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    config = dolly_v2_config(hidden_size=shape.hidden, layers=shape.layers, heads=shape.heads)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            model = dolly_model(config)
    finally:
        torch.set_default_dtype(default)
    model.save_pretrained(directory)
    neox_tokenizer().save_pretrained(directory)
    del model
    _release_gpu_memory()
    return directory


def first_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The first line a process prints, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    stdout = process.stdout
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(max(1.0, timeout))
    if not lines:
        raise TimeoutError(f"the server printed no URL within {timeout:.0f} s")
    if not lines[0]:
        raise RuntimeError(f"the server exited (code {process.wait()}) before printing its URL")
    return lines[0].strip()


def server_stats(url: str) -> dict[str, float] | None:
    """The server's batching counters (``GET /health``), or None where it has none."""
    import serve_throughput

    try:
        return serve_throughput.stats(url)
    except Exception:
        return None


# -- train ----------------------------------------------------------------------------------------


def run_train(args: argparse.Namespace, log: PartLog, budget: Budget) -> None:
    """Training steps, full and LoRA, with model FLOPs utilisation."""
    import torch
    import train_throughput

    shape = TRAIN[args.tiny]
    log.event("settings", **asdict(shape), dtype="bfloat16")
    log.event("fact", **torch_facts(args.device))
    device = torch.device(args.device)
    measured = train_throughput.matmul_tflops(device, torch.bfloat16, shape.matmul_size)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    datasheet = train_throughput.datasheet_tflops(name) if name else None
    log.event("fact", matmul_tflops=significant(measured),
              datasheet_tflops=datasheet[0] if datasheet else None,
              datasheet_entry=datasheet[1] if datasheet else None)  # fmt: skip
    log.say(f"bf16 matrix product: {measured:.4g} TFLOP/s")

    def measure(shape_name: str, batch: int, lora: bool) -> dict[str, Any]:
        return train_throughput.step_benchmark(
            shape_name,
            device=args.device,
            lora=lora,
            batch=batch,
            seq_len=shape.seq_len,
            steps=shape.steps,
            warmup=shape.warmup,
            peak=datasheet,
            measured_tflops=measured,
        )

    budget.run_items(
        [
            (f"{name} {'lora' if lora else 'full'}", partial(measure, name, batch, lora))
            for name, batch in shape.shapes
            for lora in (False, True)
        ]
    )


# -- common ---------------------------------------------------------------------------------------


def torch_facts(device: str) -> dict[str, Any]:
    import torch
    import transformers

    name = torch.cuda.get_device_name(0) if device == "cuda" else f"cpu ({platform.machine()})"
    return {
        "device_name": name,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
    }


def significant(value: float, digits: int = 4) -> float:
    """``value`` rounded to ``digits`` significant digits (tiny shapes give tiny figures)."""
    return float(f"{value:.{digits}g}")


def _release_gpu_memory() -> None:
    """Give the memory of the item just measured back (models can hold reference cycles)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        gc.collect()
        torch.cuda.empty_cache()


def _summary(row: dict[str, Any]) -> str:
    shown = [f"{k}={v}" for k, v in row.items() if isinstance(v, (int, float, str)) and v != ""]
    return ", ".join(shown[:8])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


PARTS: dict[str, Callable[[argparse.Namespace, PartLog, Budget], None]] = {
    "tests": run_tests,
    "sampling": run_sampling,
    "serve": run_serve,
    "train": run_train,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=list(PARTS))
    parser.add_argument("--events", type=Path, required=True, help="JSON-lines file to append to")
    parser.add_argument("--deadline", type=float, required=True, help="epoch seconds")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    args = parser.parse_args(argv)
    log = PartLog(args.events, args.part)
    budget = Budget(args.deadline, log)
    started = time.monotonic()
    status = "done"
    try:
        PARTS[args.part](args, log, budget)
    except Exception as exc:
        status = "failed"
        message = f"{type(exc).__name__}: {_first_line(exc)}"
        log.event("error", item=args.part, message=message)
        log.say(f"failed: {message}")
        traceback.print_exc()
    log.event("end", status=status, seconds=round(time.monotonic() - started, 1))
    return 0 if status == "done" else 1


if __name__ == "__main__":
    raise SystemExit(main())
