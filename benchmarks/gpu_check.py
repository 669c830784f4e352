"""One prepared check of promptcheck's local path on a lent GPU (issue 21), in one command.

GPU machines are lent for minutes at a time, with no network, so this runs everything the local
path has never run on a GPU, in order, each part in a process of its own with a share of the
time budget (``--budget-seconds``, default 480):

  tests     ``pytest -m gpu`` on every test module that holds GPU tests (loading Dolly
            checkpoints in bf16/fp16 on CUDA, seeded batched sampling, ``### End``, out of memory)
  sampling  promptcheck's sampler against ``generate(num_return_sequences=N)`` at the
            dolly-v2-3b shape (bf16, random weights), N = 1, 16, 64, 256 new tokens, and the
            share of the memory-bandwidth roofline (local_sampling.py)
  serve     ``python -m promptcheck.serve`` at the same shape with 1, 8, 32 concurrent
            clients (serve_throughput.py)
  train     training steps at the pythia-160m and dolly-v2-3b shapes, bf16, full and LoRA,
            tokens/s and model FLOPs utilisation (train_throughput.py)

It prints what it does as it goes and rewrites ``OUT/gpu_check.json`` and ``OUT/gpu_check.md``
after every figure, so a run cut off still tells what it measured. A part that would overrun its
share is stopped (what it measured is kept); parts the budget cannot start are skipped, and the
record says so. ``--cpu --tiny`` runs the same code on tiny shapes on a CPU in well under a
minute (tests/e2e/test_gpu_check_cpu.py runs it in CI). See docs/gpu-check.md.

    python benchmarks/gpu_check.py --out "$OUT"
    python benchmarks/gpu_check.py --cpu --tiny --out /tmp/gpu-check
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gpu_check_record import PARTS, CheckRecord, fold_events, read_events

ROOT = Path(__file__).resolve().parents[1]
PART_SCRIPT = Path(__file__).resolve().parent / "gpu_check_parts.py"

#: Each part's share of the budget; time a part leaves unused goes to the parts after it.
SHARES = {"tests": 0.2, "sampling": 0.35, "serve": 0.23, "train": 0.22}
#: The least time worth starting a part with, in seconds: (GPU shapes, tiny shapes).
MINIMUM_SECONDS = {"tests": (20, 5), "sampling": (40, 5), "serve": (40, 5), "train": (30, 5)}
#: How long a part may run past its share before it is stopped (never past the whole budget).
GRACE_SECONDS = (20, 10)
#: Distributions whose versions the record names.
PACKAGES = ("torch", "transformers", "accelerate", "peft", "tokenizers", "safetensors", "openai",
            "pydantic", "pytest")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], epilog="See docs/gpu-check.md."
    )
    parser.add_argument("--out", type=Path, default=Path("gpu-check"), help="where to write")
    parser.add_argument("--budget-seconds", type=float, default=480.0)
    parser.add_argument("--cpu", action="store_true", help="run on the CPU (needs --tiny)")
    parser.add_argument("--tiny", action="store_true", help="tiny shapes: seconds, not minutes")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    args = parser.parse_args(argv)
    if args.cpu and not args.tiny:
        parser.error("--cpu runs the tiny shapes only: add --tiny")
    device = "cpu" if args.cpu else "cuda"
    parts = [part for part in PARTS if part in args.parts]
    mode = {"device": device, "tiny": args.tiny, "parts": parts}
    record = CheckRecord(args.out, mode, args.budget_seconds)
    record.set_environment(environment(device))
    say(f"gpu check: {', '.join(parts)} on {device}, {'tiny' if args.tiny else 'GPU'} shapes, "
        f"budget {args.budget_seconds:.0f} s, writing {args.out}")  # fmt: skip
    if device == "cuda" and not record.data["environment"].get("gpus"):
        for part in parts:
            record.skip_section(
                part, "no CUDA device (neither nvidia-smi nor torch sees one); try --cpu --tiny"
            )
        record.finish()
        say("no CUDA device: nothing run")
        return 2
    run_parts(parts, args, device, record)
    record.finish()
    print(record.markdown_path.read_text(encoding="utf-8"), flush=True)
    statuses = [record.data["sections"][part]["status"] for part in parts]
    return 0 if all(status == "done" for status in statuses) else 1


def run_parts(parts: list[str], args: argparse.Namespace, device: str, record: CheckRecord) -> None:
    """Run each part within its share of the budget; skip those the budget cannot start."""
    tiny = int(args.tiny)
    started = time.monotonic()
    end = started + args.budget_seconds
    total_share = sum(SHARES[part] for part in parts)
    share = 0.0
    env = child_environment()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for part in parts:
            share += SHARES[part] / total_share
            now = time.monotonic()
            needed = MINIMUM_SECONDS[part][tiny]
            if end - now < needed:
                reason = (
                    f"{max(0.0, end - now):.0f} s of the {args.budget_seconds:.0f} s budget left, "
                    f"the part needs at least {needed} s"
                )
                record.skip_section(part, reason)
                say(f"== {part}: skipped, {reason}")
                continue
            soft = min(end, max(started + share * args.budget_seconds, now + needed))
            hard = min(end, soft + GRACE_SECONDS[tiny])
            events = Path(scratch) / f"{part}.jsonl"
            run_part(part, events, soft, hard, args, device, env, record)


def run_part(
    part: str,
    events: Path,
    soft: float,
    hard: float,
    args: argparse.Namespace,
    device: str,
    env: dict[str, str],
    record: CheckRecord,
) -> None:
    """One part in its own process group; its events are folded into the record as they come,
    and the group is stopped at ``hard`` (a monotonic time)."""
    deadline = time.time() + (soft - time.monotonic())
    command = [sys.executable, str(PART_SCRIPT), part, "--events", str(events), "--deadline",
               f"{deadline:.1f}", "--device", device, "--out", str(args.out)]  # fmt: skip
    if args.tiny:
        command.append("--tiny")
    say(f"== {part}: started, {soft - time.monotonic():.0f} s of the budget")
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    seen = -1
    code: int | None = None
    while True:
        try:
            code = process.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            pass
        size = events.stat().st_size if events.exists() else 0
        if size != seen:
            seen = size
            record.set_section(part, fold_events(read_events(events)))
        if time.monotonic() >= hard:
            break
    stop_group(process)
    section = fold_events(read_events(events))
    if code is None:
        section["status"] = "cut off"
        section["reason"] = (
            f"stopped after {time.monotonic() - started:.0f} s, past its share of the budget; "
            "the rows above are what it measured"
        )
        section["seconds"] = round(time.monotonic() - started, 1)
    elif section["status"] == "running":
        section["status"] = "failed"
        section["reason"] = f"its process ended with exit code {code} before finishing"
        section["seconds"] = round(time.monotonic() - started, 1)
    record.set_section(part, section)
    say(f"== {part}: {section['status']} after {time.monotonic() - started:.0f} s")


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """End a part and whatever it started and left behind (a server): SIGTERM to its process
    group, then SIGKILL to what is still there ten seconds later."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            break
        waited = time.monotonic() + 10
        while time.monotonic() < waited and _group_alive(process):
            time.sleep(0.1)
    process.wait()


def _group_alive(process: subprocess.Popen[bytes]) -> bool:
    process.poll()  # reap the part itself, or its group would never look empty
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return _running_member(process.pid) if Path("/proc").is_dir() else True


def _running_member(group: int) -> bool:
    """Whether a process of ``group`` still runs: orphans' zombies, which only their new parent
    can reap, do not count."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, IndexError, ValueError):
            continue
        if int(pgrp) == group and state != "Z":
            return True
    return False


def child_environment() -> dict[str, str]:
    """This tree's sources first on the path, unbuffered output, no tokenizer thread warnings."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TOKENIZERS_PARALLELISM="false")
    paths = [str(ROOT / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def environment(device: str) -> dict[str, Any]:
    """Versions, commit and GPUs, read without importing torch (the parts import it)."""
    found: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    found["commit"] = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    if device == "cuda":
        query = "--query-gpu=name,memory.total,driver_version"
        listed = _output(["nvidia-smi", query, "--format=csv,noheader"])
        if not listed:  # no nvidia-smi here: ask torch (a few seconds), as the parts will
            probe = (
                "import torch; n = torch.cuda.device_count(); "
                "print(*(torch.cuda.get_device_name(i) for i in range(n)), sep='\\n')"
            )
            listed = _output([sys.executable, "-c", probe])
        found["gpus"] = listed.splitlines() if listed else []
        if found["gpus"]:
            found["device_name"] = found["gpus"][0].split(",")[0].strip()
    else:
        found["device_name"] = f"cpu ({platform.machine()}, {os.cpu_count()} cores)"
    return found


def _output(command: list[str]) -> str | None:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
