"""The packaged GitHub Action (``action.yml``): its inputs and outputs, its composite steps, and
every promptcheck option it passes is one promptcheck has."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text())


def step(name: str) -> dict[str, Any]:
    return next(s for s in ACTION["runs"]["steps"] if s.get("name") == name)


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
    expected = {"pass", "fail", "undecided", "error", "regressed", "improved", "unchanged",
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


def test_the_default_extras_are_extras_of_the_package() -> None:
    extras = ACTION["inputs"]["extras"]["default"].split(",")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "openai" in extras  # the documented workflows run hosted models
    assert set(extras) <= set(declared["optional-dependencies"])


def installs(extras: str, install: str = "") -> list[str]:
    """The pip commands the install step runs with these inputs (``python`` only echoed)."""
    script = step("Install promptcheck")["run"]
    environment = {
        "PATH": os.environ["PATH"],
        "INSTALL": install,
        "EXTRAS": extras,
        "TORCH_INDEX": "https://torch.example/cpu",
        "ACTION_PATH": "/actions/promptcheck",
    }
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", 'python() { echo "$*"; }\n' + script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return ran.stdout.splitlines()


def test_the_install_step_puts_torch_first_only_for_the_local_extra() -> None:
    assert installs("local, openai") == [
        "-m pip install --quiet torch --index-url https://torch.example/cpu",
        "-m pip install --quiet /actions/promptcheck[local,openai]",
    ]
    assert installs("openai") == ["-m pip install --quiet /actions/promptcheck[openai]"]
    assert installs("") == ["-m pip install --quiet /actions/promptcheck"]
    assert installs("", install="promptcheck==1.0") == ["-m pip install --quiet promptcheck==1.0"]


def test_auto_saves_the_store_on_the_default_branch_and_on_schedules() -> None:
    condition = " ".join(step("Save the run store")["if"].split())
    assert "inputs.save-store == 'true'" in condition
    auto = condition.split("inputs.save-store == 'auto' &&", 1)[1]
    # a schedule's payload has no repository.default_branch: it must not depend on it alone
    assert "github.event_name == 'schedule' ||" in auto
    assert "github.ref_name == github.event.repository.default_branch" in auto


def gate_command(suites: str, args: str, model: str = "", baseline: str = "") -> list[str]:
    """The pytest command line the gate step runs with these inputs (``python -m`` echoed)."""
    script = step("Run the suites")["run"]
    fake_python = (
        'python() { if [ "$1" = -c ]; then command "$REAL_PYTHON" "$@"; '
        'else printf "%s\\n" "$@"; fi; }\n'
    )
    environment = {
        "PATH": os.environ["PATH"],
        "REAL_PYTHON": sys.executable,
        "RUNNER_TEMP": "/runner/tmp",
        "SUITES": suites,
        "MODEL": model,
        "BASELINE": baseline,
        "FAIL_ON": "",
        "ARGS": args,
    }
    ran = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", fake_python + script],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return ran.stdout.splitlines()


def test_the_gate_splits_suites_and_args_as_a_shell_would() -> None:
    command = gate_command(
        'suites/a.yaml "suites/with space.yaml"',
        '-k "triage and not slow" --promptcheck-samples 200',
        baseline="baseline",
    )
    assert command[:4] == ["-m", "pytest", "suites/a.yaml", "suites/with space.yaml"]
    assert command[-4:] == ["-k", "triage and not slow", "--promptcheck-samples", "200"]
    at = command.index("--promptcheck-baseline")
    assert command[at + 1] == "baseline"
    assert "--promptcheck-model" not in command
    assert gate_command("suites/", "")[2:4] == ["suites/", "--promptcheck"]


def test_a_comment_that_cannot_be_posted_does_not_fail_the_job() -> None:
    assert step("Comment on the pull request")["continue-on-error"] is True
