"""The migration gate end to end on real models: the tiny Dolly upgraded to its no-JSON variant.

``no-json`` is trained on the same recipe as ``full`` without the JSON tasks, so a sound gate must
flag the two JSON cases of ``suites/`` as regressed and no other case. The run is the command a
user types (``pytest --promptcheck suites/ --promptcheck-model ... --promptcheck-baseline ...``) in
a subprocess, on a copy of the project whose models point at the cached builds; the Markdown
comment and the HTML report it writes are read back.

Both models are built once (minutes on two cores) into ``.promptcheck/models`` (where the
``tiny-dolly`` backend builds them) and reused after, so the test is marked slow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("PROMPTCHECK_TINY_DIR", ROOT / ".promptcheck" / "models"))
JSON_CASES = {"triage.yaml::ticket-json", "triage.yaml::contact-json"}


def project_with_tiny_dollys(directory: Path, full: Path, no_json: Path) -> Path:
    """The example project (suites and plugins) with the two builds as configured models."""
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    (directory / "pyproject.toml").write_text(
        "\n".join(
            [
                "[tool.promptcheck]",
                'model = "tiny-dolly"',
                'plugins = ["plugins.checks"]',
                "[tool.promptcheck.models.tiny-dolly]",
                'backend = "tiny-dolly"',
                f'path = "{full}"',
                "[tool.promptcheck.models.tiny-dolly-no-json]",
                'backend = "tiny-dolly"',
                'variant = "no-json"',
                f'path = "{no_json}"',
                "",
            ]
        )
    )
    return directory


def test_upgrade_to_no_json_regresses_the_json_cases_and_nothing_else(tmp_path: Path) -> None:
    from promptcheck.train.tiny import build_tiny_dolly

    full = build_tiny_dolly(MODELS / "tiny-dolly-full", "full", progress=False)
    no_json = build_tiny_dolly(MODELS / "tiny-dolly-no-json", "no-json", progress=False)
    project = project_with_tiny_dollys(tmp_path / "project", full, no_json)
    markdown, html, junit = tmp_path / "report.md", tmp_path / "report.html", tmp_path / "j.xml"

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--promptcheck", "suites/", "-p", "no:cacheprovider",
         "--promptcheck-model", "tiny-dolly-no-json", "--promptcheck-baseline", "tiny-dolly",
         "--promptcheck-no-progress", f"--promptcheck-md={markdown}",
         f"--promptcheck-html={html}", f"--junitxml={junit}"],
        cwd=project, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip

    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output  # some items failed: the regressed cases
    failed = {
        line.split()[1].split("[")[0].removeprefix("suites/")
        for line in completed.stdout.splitlines()
        if line.startswith("FAILED ")
    }
    assert failed == JSON_CASES, output
    regressed_rows = [line for line in markdown.read_text().splitlines() if "**regressed**" in line]
    assert len(regressed_rows) == len(JSON_CASES), markdown.read_text()
    assert all(any(case in row for case in JSON_CASES) for row in regressed_rows)
    page = html.read_text()
    assert "tiny-dolly-no-json" in page and "ticket-json" in page
