"""The path a new user takes: the wheel installed into a clean virtual environment, far from this
repository, then ``promptcheck init`` and ``pytest --promptcheck`` in an empty directory.

The wheel must carry everything a first run needs (the tiny Dolly's weights, the report and
scaffold templates, the suite schema): nothing here can reach back into the source tree.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Installing the wheel's dependencies (torch among them) from the local cache takes a minute;
#: from the registries, a few.
INSTALL_LIMIT_S = 900


def run(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with nothing but the wheel and what it depends on."""
    pytest.importorskip("build", reason="the dev extra's 'build' makes the wheel")
    work = tmp_path_factory.mktemp("wheel")
    built = run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(work), "."],
        ROOT,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [wheel] = work.glob("promptcheck-*.whl")
    venv = work / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], work)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    install = run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-c",
            str(ROOT / "constraints.txt"),
            f"{wheel}[local]",
        ],
        work,
        timeout=INSTALL_LIMIT_S,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    return venv


def test_init_then_pytest_passes_on_the_shipped_tiny_dolly(installed: Path, tmp_path: Path) -> None:
    project = tmp_path / "fresh project"
    project.mkdir()
    init = run([str(installed / "bin" / "promptcheck"), "init"], project)
    assert init.returncode == 0, init.stderr
    result = run(
        [str(installed / "bin" / "pytest"), "--promptcheck", "suites/", "-p", "no:cacheprovider"],
        project,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "2 passed" in output
    assert "example on tiny-dolly" in output
    assert "short-list  20/20       100.0%" in output and "yes-no      20/20" in output
    assert "2 pass, 0 fail, 0 undecided" in output
    assert str(ROOT) not in output  # nothing came from the source tree


def test_the_wheel_carries_what_a_first_run_reads(installed: Path) -> None:
    probe = run(
        [
            str(installed / "bin" / "python"),
            "-c",
            "import promptcheck, json;"
            "from promptcheck.backends.tiny import weights_dir, shipped_checkpoint;"
            "from promptcheck.suite.schema import shipped_schema;"
            "print(promptcheck.__file__);"
            "print(sorted(json.loads((weights_dir() / 'manifest.json').read_text())['variants']));"
            "print((shipped_checkpoint('critic') / 'model.safetensors').stat().st_size > 0);"
            "print('$defs' in shipped_schema())",
        ],
        installed,
    )
    assert probe.returncode == 0, probe.stderr
    location, variants, weights, schema = probe.stdout.split("\n")[:4]
    assert str(installed) in location and str(ROOT) not in location
    assert variants == "['critic', 'full', 'no-json']"
    assert weights == "True" and schema == "True"
