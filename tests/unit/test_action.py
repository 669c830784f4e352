"""The packaged GitHub Action (``action.yml``): its inputs and outputs, its composite steps, and
every promptcheck option it passes is one promptcheck has."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())


def promptcheck_options() -> set[str]:
    """The options pytest lists for the promptcheck plugin (``pytest --help``)."""
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=ROOT,
    ).stdout
    return set(re.findall(r"--promptcheck[a-z-]*", listed))


def test_it_is_a_composite_action_with_the_documented_inputs_and_outputs() -> None:
    assert ACTION["runs"]["using"] == "composite"
    assert {"suites", "model", "baseline", "fail-on", "comment", "save-store"} <= set(
        ACTION["inputs"]
    )
    assert all("description" in spec for spec in ACTION["inputs"].values())
    expected = {"pass", "fail", "undecided", "regressed", "improved", "unchanged",
                "inconclusive", "failed-items", "markdown", "html"}  # fmt: skip
    assert set(ACTION["outputs"]) == expected
    for name, spec in ACTION["outputs"].items():
        assert spec["value"] == f"${{{{ steps.gate.outputs.{name.replace('-', '_')} }}}}"


def test_its_steps_restore_run_save_and_publish() -> None:
    steps = ACTION["runs"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    gate = next(index for index, step in enumerate(steps) if step.get("id") == "gate")
    assert uses.index("actions/cache/restore") < gate < uses.index("actions/cache/save")
    assert "actions/upload-artifact" in uses and "marocchino/sticky-pull-request-comment" in uses
    assert "--promptcheck-github" in steps[gate]["run"]
    for step in steps:
        if "run" in step:
            assert step["shell"] == "bash"


def test_it_names_only_options_promptcheck_has() -> None:
    scripts = " ".join(step.get("run", "") for step in ACTION["runs"]["steps"])
    named = set(re.findall(r"--promptcheck[a-z-]*", scripts))
    assert named and named <= promptcheck_options(), named - promptcheck_options()
