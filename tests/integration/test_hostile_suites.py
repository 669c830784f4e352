"""Suites written to attack the machine that runs them: each is one clean collection error.

The corpus (``tests/data/hostile_suites``) tries what an outside pull request could: make a check
run a shell command or evaluate the model's output, import the standard library, render a prompt
that loops for minutes or builds gigabytes, read a FIFO, a directory, ``/etc/passwd`` through
``../``, an absolute path or a symbolic link, follow a symbolic link loop, point a schema's
``$ref`` at the network, at ``file://`` or at itself, reach ``eval`` through a module a project
module imports, send the machine's keys to another server, smuggle unencodable text in a data
file, make a saved dataset name files outside its folder, or hand over a kilobyte of Parquet that
decodes to hundreds of megabytes, build containers whose text is gigabytes (shared parts, ``%``
widths, ``str.format`` fields), multiply numbers past any size, make a judge's rubric loop, or
draw lone surrogates from a strategy. Each file's first line says the error it must give (line,
key, message) and, for the optional readers, the modules it needs (``needs="datasets"``), and
``seen_at="run"`` for an attack that only importing the suite's code would show (``promptcheck
validate`` imports none).

Everything runs in a child process under a memory limit and a time limit, so that a regression
fails this test instead of hanging CI or eating the machine.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import limits

CORPUS = Path(__file__).parents[1] / "data" / "hostile_suites"


def _header(path: Path) -> dict[str, str]:
    header = path.read_text().split("\n", 1)[0]
    return dict(part.split("=", 1) for part in shlex.split(header[len("# expect:") :]))


def _runnable(path: Path) -> bool:
    """Whether the optional modules the suite's reader needs are installed."""
    needs = _header(path).get("needs", "").split()
    return all(importlib.util.find_spec(module) is not None for module in needs)


FILES = [path for path in sorted(CORPUS.glob("*.yaml")) if _runnable(path)]
#: The attacks ``validate`` can see without importing anything: not those that walk a project
#: module's attributes (``seen_at="run"``), which only importing it could follow.
VALIDATED = [path for path in FILES if _header(path).get("seen_at") != "run"]
#: Generous for a collection of fifty suites, and far below what an unbounded attack takes.
TIME_LIMIT_S = 120
#: pyarrow (the Parquet bomb's reader) alone reserves some 300 MiB of address space when imported.
MEMORY_LIMIT = 2048 * 2**20

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


@dataclass(frozen=True)
class Expected:
    line: int
    key: str
    message: str

    @classmethod
    def of(cls, path: Path) -> Expected:
        fields = _header(path)
        return cls(int(fields["line"]), fields["key"], fields["message"])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The corpus as a project's suites, with the files git cannot hold made here."""
    root = tmp_path / "project"
    shutil.copytree(CORPUS, root / "suites")
    for path in (root / "suites").glob("*.yaml"):
        if not _runnable(path):
            path.unlink()
    data = root / "suites" / "data"
    os.mkfifo(data / "fifo.json")
    os.mkfifo(data / "fifo.jsonl")
    os.mkfifo(root / "suites" / "fifo_suite.yaml")  # a FIFO among the suites: never read
    (data / "users.csv").symlink_to("/etc/passwd")
    # symbolic link loops: two links, a link to itself, a folder that is a loop
    (data / "loop_a.csv").symlink_to("loop_b.csv")
    (data / "loop_b.csv").symlink_to("loop_a.csv")
    (data / "loop_a.txt").symlink_to("loop_a.txt")
    (data / "loop_self.json").symlink_to("loop_self.json")
    (data / "loop_dir").symlink_to("loop_dir")
    (root / "suites" / "loop_suite.yaml").symlink_to("loop_suite.yaml")  # validate names it
    (tmp_path / "outside.jsonl").write_text('{"text": "outside the project"}\n')
    (tmp_path / "schema.json").write_text('{"type": "object"}\n')
    (root / "pyproject.toml").write_text(
        '[tool.promptcheck]\nmodel = "quiet"\n\n[tool.promptcheck.models.quiet]\n'
        'backend = "scripted"\nrules = [{match = ".", outputs = ["{}"]}]\n'
    )
    return root


def run_limited(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m ARGS`` in ``cwd`` with its address space and its time bounded."""
    return limits.run_limited(
        ["-m", *args], cwd=cwd, seconds=TIME_LIMIT_S, memory_bytes=MEMORY_LIMIT
    )


def test_every_hostile_suite_is_one_clean_collection_error(project: Path) -> None:
    result = run_limited(["pytest", "--promptcheck", "suites", "-p", "no:cacheprovider"], project)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]  # collection errors, and nothing ran
    for path in FILES:
        expected = Expected.of(path)
        where = f"suites/{path.name}:{expected.line}: {expected.key}: "
        assert where in output, f"{path.name}: no error at {where!r}\n{output[-3000:]}"
        line = next(text for text in output.splitlines() if where in text)
        assert expected.message in line, f"{path.name}: {line!r}"
    assert f"{len(FILES)} errors" in output
    assert "Traceback" not in output
    assert "MemoryError" not in output
    assert not (project / "PWNED").exists()


def test_validate_reports_them_without_running_anything(project: Path) -> None:
    plugins = project / "plugins"
    plugins.mkdir()
    (plugins / "__init__.py").write_text("")
    (plugins / "marker.py").write_text(
        "from pathlib import Path\nPath('IMPORTED').touch()\n\n"
        "def check(output):\n    return True\n"
    )
    (project / "suites" / "named_code.yaml").write_text(
        "suite: named\ncases:\n  - id: a\n    prompt: hi\n"
        "    expect: [{python: plugins.marker:check}]\n"
    )
    result = run_limited(["promptcheck.cli", "validate", "suites"], project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    for path in VALIDATED:
        expected = Expected.of(path)
        assert f"suites/{path.name}:{expected.line}: {expected.key}: " in output, path.name
    for path in set(FILES) - set(VALIDATED):
        assert f"ok: suites/{path.name}" in output, path.name
    assert "ok: suites/named_code.yaml" in output
    loop = "error: suites/loop_suite.yaml: cannot read suite: the file suites/loop_suite.yaml is"
    assert f"{loop} a symbolic link loop" in output
    valid = 1 + len(FILES) - len(VALIDATED)
    assert f"{valid} valid, {len(VALIDATED) + 1} invalid" in output
    assert not (project / "IMPORTED").exists(), "validate imported code a suite names"
    assert not (project / "PWNED").exists()
    assert "Traceback" not in output


def test_configuration_can_trust_a_module_a_suite_may_then_name(project: Path) -> None:
    for path in (project / "suites").glob("*.yaml"):
        if path.name != "python_os_system.yaml":
            path.unlink()
    (project / "pyproject.toml").write_text(
        (project / "pyproject.toml")
        .read_text()
        .replace("[tool.promptcheck]\n", '[tool.promptcheck]\ntrusted_modules = ["os"]\n')
    )
    result = run_limited(["promptcheck.cli", "validate", "suites/python_os_system.yaml"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 valid, 0 invalid" in result.stdout
