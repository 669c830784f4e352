"""What benchmarks/gpu_check.py found: one JSON file and one Markdown table, rewritten after every
figure, so that a run cut off by its lease still leaves everything it measured.

A part (tests, sampling, serve, train) runs in its own process and appends events to a JSON-lines
file (:class:`PartLog`); the check folds them into a section (:func:`fold_events`) and the
record into ``gpu_check.json`` and ``gpu_check.md`` (:class:`CheckRecord`). The goals of the
issue are judged here too, on the GPU shapes only.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORD_VERSION = 1
PARTS = ("tests", "sampling", "serve", "train")
TITLES = {
    "tests": "GPU tests (`pytest -m gpu`)",
    "sampling": "Local sampling against `generate(num_return_sequences=N)`",
    "serve": "`promptcheck serve` with concurrent clients",
    "train": "Fine-tuning steps",
}


class PartLog:
    """The events of one part, appended as JSON lines and flushed one by one (a part may be
    killed at any moment; every line written before that is kept)."""

    def __init__(self, path: Path, part: str) -> None:
        self.path = path
        self.part = part
        self.started = time.monotonic()

    def event(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"event": kind, **fields}, default=str)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(line + "\n")
            stream.flush()

    def say(self, message: str) -> None:
        """Print a progress line at once, prefixed with the part's name."""
        print(f"[{self.part} {time.monotonic() - self.started:5.0f}s] {message}", flush=True)


def read_events(path: Path) -> list[dict[str, Any]]:
    """The events of a part's file; a last line cut off mid-write is ignored."""
    if not path.exists():
        return []
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


def fold_events(events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """A part's section: its settings, facts, rows, items it skipped, errors and end status.

    Status: ``done`` (ended and measured everything), ``partial`` (ended, some items skipped or
    failed), ``failed`` (ended by an error), ``running`` (no end yet; the check turns it into
    ``cut off`` when it had to stop the part).
    """
    section: dict[str, Any] = {
        "status": "running",
        "settings": {},
        "facts": {},
        "rows": [],
        "skipped": [],
        "errors": [],
    }
    for event in events:
        kind = event.pop("event", None)
        if kind == "settings":
            section["settings"].update(event)
        elif kind == "fact":
            section["facts"].update(event)
        elif kind == "row":
            section["rows"].append(event)
        elif kind == "skip":
            section["skipped"].append(event)
        elif kind == "error":
            section["errors"].append(event)
        elif kind == "end":
            failed = event.get("status") == "failed"
            incomplete = section["skipped"] or section["errors"]
            section["status"] = "failed" if failed else "partial" if incomplete else "done"
            section["seconds"] = event.get("seconds")
    return section


@dataclass(frozen=True)
class Goal:
    """A figure the issue asks of the GPU shapes, read off one row of one section.

    On the GPU shapes the row is the one ``where`` names; on tiny shapes, where the goal is not
    judged but its figure still shown, ``pick`` chooses the row that plays its part.
    """

    name: str
    part: str
    where: dict[str, Any]
    pick: Callable[[list[dict[str, Any]]], dict[str, Any] | None]
    field: str
    target: float

    def judge(self, sections: dict[str, Any], applies: bool) -> dict[str, Any]:
        rows = sections.get(self.part, {}).get("rows", [])
        if applies:
            found = [r for r in rows if all(r.get(k) == v for k, v in self.where.items())]
            row = found[0] if found else None
        else:
            row = self.pick(rows)
        value = row.get(self.field) if row else None
        result: dict[str, Any] = {
            "goal": self.name,
            "target": self.target,
            "value": value,
            "row": _row_label(self.part, row),
        }
        if not applies:
            result["met"] = None
            result["note"] = "goals apply to the GPU shapes; this run used tiny ones"
        elif value is None:
            result["met"] = None
            result["note"] = "not measured"
        else:
            result["met"] = bool(value >= self.target)
        return result


Pick = Callable[[list[dict[str, Any]]], dict[str, Any] | None]


def _extreme(key: str, choose: Callable[..., Any], **match: Any) -> Pick:
    def pick(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
        found = [r for r in rows if all(r.get(k) == v for k, v in match.items()) and key in r]
        return choose(found, key=lambda r: r[key]) if found else None

    return pick


GOALS = (
    Goal(
        "sampling, N = 64: promptcheck's share of the bandwidth roofline",
        "sampling",
        {"n": 64},
        _extreme("n", max),
        "roofline_fraction",
        0.5,
    ),
    Goal(
        "sampling, N = 64: promptcheck / generate(num_return_sequences)",
        "sampling",
        {"n": 64},
        _extreme("n", max),
        "ratio_vs_generate",
        2.0,
    ),
    Goal(
        "sampling, N = 1: promptcheck / generate (within 1.5x)",
        "sampling",
        {"n": 1},
        _extreme("n", min),
        "ratio_vs_generate",
        round(1 / 1.5, 3),
    ),
    Goal(
        "serve, 32 clients: throughput / one client's",
        "serve",
        {"clients": 32},
        _extreme("clients", max),
        "ratio_vs_one_client",
        6.0,
    ),
    Goal(
        "fine-tuning, dolly-v2-3b shape, full: MFU (datasheet bf16 peak)",
        "train",
        {"shape": "dolly-v2-3b", "method": "full"},
        _extreme("parameters", max, method="full"),
        "mfu",
        0.35,
    ),
)


def _row_label(part: str, row: dict[str, Any] | None) -> str | None:
    if row is None:
        return None
    if part == "sampling":
        return f"N = {row['n']}"
    if part == "serve":
        return f"{row['clients']} clients"
    return f"{row['shape']} {row['method']}"


class CheckRecord:
    """The whole check's findings, written to ``out/gpu_check.json`` and ``out/gpu_check.md``."""

    def __init__(self, out: Path, mode: dict[str, Any], budget_seconds: float) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.json_path = out / "gpu_check.json"
        self.markdown_path = out / "gpu_check.md"
        self.started = time.monotonic()
        self.data: dict[str, Any] = {
            "version": RECORD_VERSION,
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "finished": None,
            "mode": mode,
            "budget_seconds": budget_seconds,
            "elapsed_seconds": 0.0,
            "environment": {},
            "sections": {},
            "goals": [],
        }

    @property
    def gpu_shapes(self) -> bool:
        return bool(self.data["mode"]["device"] == "cuda" and not self.data["mode"]["tiny"])

    def set_environment(self, environment: dict[str, Any]) -> None:
        self.data["environment"].update(environment)
        self.write()

    def set_section(self, part: str, section: dict[str, Any]) -> None:
        self.data["sections"][part] = section
        facts = section.get("facts", {})
        for key in ("device_name", "torch", "transformers", "cuda"):
            if facts.get(key) and not self.data["environment"].get(key):
                self.data["environment"][key] = facts[key]
        self.write()

    def skip_section(self, part: str, reason: str) -> None:
        self.set_section(part, {"status": "skipped", "reason": reason, "rows": []})

    def finish(self) -> None:
        self.data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        self.write()

    def write(self) -> None:
        self.data["elapsed_seconds"] = round(time.monotonic() - self.started, 1)
        self.data["goals"] = [g.judge(self.data["sections"], self.gpu_shapes) for g in GOALS]
        _replace(self.json_path, json.dumps(self.data, indent=2, default=str) + "\n")
        _replace(self.markdown_path, render_markdown(self.data))


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically: a reader never sees half a file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


# -- Markdown -----------------------------------------------------------------------------------


def render_markdown(data: dict[str, Any]) -> str:
    mode = data["mode"]
    env = data["environment"]
    shapes = "tiny shapes" if mode["tiny"] else "GPU shapes"
    lines = [
        "# GPU check of the local path",
        "",
        f"- device: {env.get('device_name', 'unknown')} ({mode['device']}, {shapes})",
        "- versions: "
        + ", ".join(
            f"{name} {env[name]}"
            for name in ("python", "torch", "cuda", "transformers", "accelerate", "peft")
            if env.get(name)
        ),
        f"- started {data['started']}, {data['elapsed_seconds']:.0f} s of a "
        f"{data['budget_seconds']:.0f} s budget"
        + ("" if data["finished"] else " (still running or cut off)"),
        "",
        "## Goals",
        "",
        "| goal | row | value | target | met |",
        "|---|---|--:|--:|---|",
    ]
    for goal in data["goals"]:
        met = {True: "yes", False: "**no**", None: goal.get("note", "")}[goal["met"]]
        lines.append(
            f"| {goal['goal']} | {goal['row'] or '-'} | {_number(goal['value'])} | "
            f"{_number(goal['target'])} | {met} |"
        )
    for part in PARTS:
        section = data["sections"].get(part)
        lines += ["", f"## {TITLES[part]}", ""]
        if section is None:
            lines.append("not run")
            continue
        lines.append(_status_line(section))
        lines += RENDERERS[part](section)
        for skipped in section.get("skipped", []):
            lines.append(f"- skipped {skipped.get('item')}: {skipped.get('reason')}")
        for error in section.get("errors", []):
            lines.append(f"- error in {error.get('item')}: {error.get('message')}")
    return "\n".join(lines) + "\n"


def _status_line(section: dict[str, Any]) -> str:
    status = section["status"]
    if status == "skipped":
        return f"**skipped**: {section.get('reason')}\n"
    seconds = section.get("seconds")
    took = f" in {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
    reason = f": {section['reason']}" if section.get("reason") else ""
    return f"status: **{status}**{took}{reason}\n"


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def _percent(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _table(header: list[str], rows: list[list[Any]], text_columns: int = 1) -> list[str]:
    """A Markdown table: the first ``text_columns`` columns left-aligned, numbers right."""
    align = ["---" if i < text_columns else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _tests(section: dict[str, Any]) -> list[str]:
    facts = section.get("facts", {})
    counts = ", ".join(
        f"{facts[k]} {k}" for k in ("passed", "failed", "errors", "skipped") if k in facts
    )
    lines = [counts, ""] if counts else []
    rows = [
        [
            row.get("test"),
            row.get("outcome"),
            (row.get("message") or "").replace("|", "/").replace("\n", " ")[:160],
            ", ".join(f"{k}={v}" for k, v in row.get("properties", {}).items()),
        ]
        for row in section.get("rows", [])
    ]
    header = ["test", "outcome", "message", "measured"]
    return lines + (_table(header, rows, text_columns=4) if rows else [])


def _sampling(section: dict[str, Any]) -> list[str]:
    settings, facts = section.get("settings", {}), section.get("facts", {})
    lines = [
        f"{facts.get('model', '')}; prompt {settings.get('prompt_tokens')} tokens, "
        f"{settings.get('new_tokens')} new tokens a sample, temperature "
        f"{settings.get('temperature')}, median of {settings.get('repeats')} runs; "
        f"copy bandwidth {_number(facts.get('copy_bandwidth_gbps'))} GB/s measured "
        f"(datasheet {_number(facts.get('datasheet_bandwidth_gbps'))} GB/s)",
        "",
    ]
    rows = [
        [
            row.get("n"),
            _number(row.get("promptcheck_tokens_per_s")),
            _number(row.get("generate_tokens_per_s")),
            f"{row['ratio_vs_generate']:.2f}x" if "ratio_vs_generate" in row else "-",
            _number(row.get("roofline_tokens_per_s")),
            _percent(row.get("roofline_fraction")),
            _percent(row.get("generate_roofline_fraction")),
        ]
        for row in sorted(section.get("rows", []), key=lambda r: r.get("n", 0))
    ]
    header = ["N", "promptcheck tok/s", "generate tok/s", "vs generate", "roofline tok/s",
              "promptcheck / roofline", "generate / roofline"]  # fmt: skip
    return lines + _table(header, rows, text_columns=0)


def _serve(section: dict[str, Any]) -> list[str]:
    settings, facts = section.get("settings", {}), section.get("facts", {})
    lines = [
        f"{facts.get('server', '')}; {settings.get('max_tokens')} tokens a request, "
        f"{settings.get('seconds')} s a level",
        "",
    ]
    rows = [
        [
            row.get("clients"),
            row.get("requests"),
            _number(row.get("tokens_per_s")),
            f"{row['ratio_vs_one_client']:.2f}x" if "ratio_vs_one_client" in row else "-",
            _number(row.get("rows_per_batch")),
        ]
        for row in sorted(section.get("rows", []), key=lambda r: r.get("clients", 0))
    ]
    header = ["clients", "requests", "tokens/s", "x one client", "rows/batch"]
    return lines + _table(header, rows, text_columns=0)


def _train(section: dict[str, Any]) -> list[str]:
    facts = section.get("facts", {})
    lines = [
        f"bf16 matrix product measured at {_number(facts.get('matmul_tflops'))} TFLOP/s "
        f"(datasheet dense bf16 peak {_number(facts.get('datasheet_tflops'))}); model FLOPs "
        "per token: full 6N + 12LHT, LoRA 4N + 6A + 12LHT (N weights in matrix products, "
        "A adapter weights, L layers, H hidden, T context)",
        "",
    ]
    rows = [
        [
            row.get("shape"),
            row.get("method"),
            f"{row.get('batch')} x {row.get('seq_len')}",
            _number(row.get("tokens_per_s")),
            _number(row.get("achieved_tflops")),
            _percent(row.get("mfu")),
            _percent(row.get("mfu_measured_peak")),
            _number(row.get("peak_memory_gib")),
        ]
        for row in sorted(
            section.get("rows", []),
            key=lambda r: (r.get("matmul_parameters", 0), r.get("method") != "full"),
        )
    ]
    header = ["shape", "method", "batch x seq", "tokens/s", "TFLOP/s", "MFU (datasheet)",
              "MFU (measured matmul)", "peak GiB"]  # fmt: skip
    return lines + _table(header, rows, text_columns=3)


RENDERERS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "tests": _tests,
    "sampling": _sampling,
    "serve": _serve,
    "train": _train,
}
