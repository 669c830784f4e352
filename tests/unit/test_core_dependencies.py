"""A bare ``pip install promptcheck`` has every package its core imports.

An undeclared dependency hides on a developer's machine, where an extra (transformers needs
``regex``) installs it anyway. Here a child process is allowed to import only the distributions
``promptcheck``'s own requirements (without extras) reach, and runs the core paths: the CLI's
``validate`` and a ``pytest --promptcheck`` run on a scripted model with the built-in checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

SUITE = """\
suite: core
models:
  canned: {backend: scripted, rules: [{match: ".", outputs: ['{"a": 1}']}]}
defaults: {model: canned, samples: 5}
cases:
  - id: json
    prompt: "Answer in JSON about {{ topic }}."
    vars: {topic: [cats]}
    expect:
      - json_schema: {type: object, required: [a]}
      - regex: '^\\{'
      - {max_chars: 100}
"""

#: Installs an import hook that refuses third-party packages outside ``allowed``, then runs
#: ``argv`` as the named entry point.
CHILD = textwrap.dedent(
    """\
    import importlib.abc, sys

    allowed, blocked, entry, argv = {allowed!r}, {blocked!r}, {entry!r}, {argv!r}

    class Bare(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            top = name.split(".")[0]
            if top in blocked and top not in allowed:
                raise ImportError(f"{{top}} is not installed by a bare pip install promptcheck")
            return None

    sys.meta_path.insert(0, Bare())
    if entry == "pytest":
        import pytest
        sys.exit(pytest.main(argv))
    from promptcheck.cli import main
    sys.exit(main(argv))
    """
)


def core_distributions() -> set[str]:
    """The distributions promptcheck's requirements reach, extras left out."""
    seen: set[str] = set()
    todo = ["promptcheck"]
    while todo:
        for line in requires(todo.pop()) or []:
            requirement = Requirement(line)
            if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(requirement.name)
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def modules() -> tuple[set[str], set[str]]:
    """Top-level modules of the core distributions, and of every other installed one."""
    core = core_distributions()
    allowed, blocked = set(), set()
    for module, distributions in packages_distributions().items():
        names = {canonicalize_name(name) for name in distributions}
        (allowed if names & core else blocked).add(module)
    return allowed | {"promptcheck", "_pytest", "py"}, blocked - {"promptcheck"}


def run(entry: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    allowed, blocked = modules()
    code = CHILD.format(allowed=sorted(allowed), blocked=sorted(blocked), entry=entry, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        # other pytest plugins installed here (xdist, anyio ...) are not promptcheck's to bring
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_declared_requirements_reach_what_the_tests_block() -> None:
    allowed, blocked = modules()
    assert {"regex", "referencing", "jsonschema", "yaml", "jinja2", "pydantic"} <= allowed
    assert {"torch", "transformers", "openai"} & blocked  # the extras are installed here


def test_validate_and_a_run_need_only_the_declared_requirements(tmp_path: Path) -> None:
    (tmp_path / "suites").mkdir()
    (tmp_path / "suites" / "core.yaml").write_text(SUITE)
    validated = run("cli", ["validate", "suites"], tmp_path)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    argv = ["-p", "promptcheck.plugin", "--promptcheck", "suites", "-p", "no:cacheprovider", "-q"]
    ran = run("pytest", argv, tmp_path)
    output = ran.stdout + ran.stderr
    assert ran.returncode == 0, output[-3000:]
    assert "1 passed" in output
    assert "is not installed by a bare pip install" not in output
