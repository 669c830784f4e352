"""``promptcheck adapt`` end to end on the example suites, with scripted models of known truth.

The fast twin of test_adapt_tiny_dolly.py: the command a user types, in a subprocess, on a copy
of ``suites/`` and ``plugins/``. The candidate answers the JSON cases in JSON only when the data
comes before the instruction (``Ticket: ...``, ``Message: ...``), as the ``data-first`` tiny
Dolly was trained to, and conforms on every other case, so exactly the two JSON cases must be
adapted (by ``after-data``) and no other prompt may change; a second run must cost nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TICKET = '{"category": "billing", "priority": "P2"}'
CONTACT = '{"name": "Maria Lopez", "email": "maria.lopez@example.com"}'
FORMATS: list[dict[str, Any]] = [
    {"match": "List exactly 3", "outputs": ["- a\n- b\n- c"]},
    {"match": "List exactly 5", "outputs": ["- a\n- b\n- c\n- d\n- e"]},
    {"match": "^Summarize", "outputs": ["A short summary."]},
    {"match": "three options", "outputs": ["A) x\nB) y\nC) z"]},
    {"match": "even number", "outputs": ["YES"]},
]
MODELS: dict[str, list[dict[str, Any]]] = {
    "old": [
        *FORMATS,
        {"match": "support ticket", "outputs": [TICKET]},
        {"match": "sender", "outputs": [CONTACT]},
    ],
    "new": [
        *FORMATS,
        {"match": "^Ticket: ", "outputs": [TICKET]},
        {"match": "^Message: ", "outputs": [CONTACT]},
        {"match": ".", "outputs": ["category: billing\npriority: P2"]},
    ],
}
JSON_CASES = {"suites/triage.yaml::ticket-json", "suites/triage.yaml::contact-json"}


def project(directory: Path) -> Path:
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    lines = ["[tool.promptcheck]", 'plugins = ["plugins.checks"]']
    for name, rules in MODELS.items():
        lines += ["", f"[tool.promptcheck.models.{name}]", 'backend = "scripted"']
        for rule in rules:  # JSON strings and lists of them are TOML values too
            lines += [
                f"[[tool.promptcheck.models.{name}.rules]]",
                f"match = {json.dumps(rule['match'])}",
                f"outputs = {json.dumps(rule['outputs'])}",
            ]
    (directory / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return directory


def adapt(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a child process running this checkout's promptcheck."""
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "promptcheck.cli",
            "adapt",
            "suites",
            "--model",
            "new",
            "--baseline",
            "old",
            "--samples",
            "30",
            *args,
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": path},
    )


def test_exactly_the_json_cases_are_adapted_and_a_rerun_is_free(tmp_path: Path) -> None:
    root = project(tmp_path / "project")
    before = {p.name: p.read_text() for p in (root / "suites").glob("*.yaml")}
    first = adapt(root, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    adapted = {f"{c['suite_path']}::{c['case_id']}" for c in report["cases"] if c["adapted"]}
    assert adapted == JSON_CASES
    assert {c["race"]["winner"] for c in report["cases"]} == {"after-data"}
    for case in report["cases"]:
        assert case["confirmation"]["fixed"]
        assert case["confirmation"]["k"] / case["confirmation"]["n"] >= case["threshold"]
    others = [
        s for s in report["statuses"] if f"{s['suite_path']}::{s['case_id']}" not in JSON_CASES
    ]
    assert len(others) == 4 and all(s["status"] == "conforms" for s in others)
    [patch] = report["patches"]
    copy = Path(patch["written"])
    assert copy == root / ".promptcheck" / "adapted" / "suites" / "triage.yaml"
    patched = copy.read_text()
    assert "Ticket: {{ ticket }}\n\n      Classify this support ticket." in patched
    assert "Message: {{ message }}\n\n      Extract the sender" in patched
    assert {p.name: p.read_text() for p in (root / "suites").glob("*.yaml")} == before
    again = adapt(root, "--json", "--diff")
    assert again.returncode == 0, again.stderr
    spend = json.loads(again.stderr)["spend"]
    assert spend["cached"] == spend["diagnosis"] + spend["search"] + spend["confirmation"]
    diff = again.stdout
    assert diff.startswith("--- a/suites/triage.yaml\n")
    assert "lists.yaml" not in diff and "options.yaml" not in diff
    changed = [line[1:].strip() for line in diff.splitlines()[2:] if line[:1] in "+-"]
    assert all(
        not line or line.startswith(("Ticket:", "Classify", "Message:", "Extract"))
        for line in changed
    )
