"""The migration gate end to end on real models: the tiny Dolly upgraded to its no-JSON variant.

``no-json`` is trained on the same recipe as ``full`` without the JSON tasks, so a sound gate must
flag the two JSON cases of ``suites/`` as regressed and no other case. The run is the command the
README gives a user (``pytest --promptcheck suites/ --promptcheck-model tiny-dolly-no-json
--promptcheck-baseline tiny-dolly``) in a subprocess, on a copy of the example project that
configures no model: both are the built-in models, the weights shipped with the package. The
Markdown comment, the HTML report and the JUnit XML it writes are read back, and the conformance
the run measured on each model is the manifest's (``weights/manifest.json``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from promptcheck.backends.tiny import MANIFEST_FILE, weights_dir

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
JSON_CASES = {"triage.yaml::ticket-json", "triage.yaml::contact-json"}
#: The subprocess samples 1,200 outputs (well under a minute on two cores): a limit for hangs.
RUN_LIMIT_S = 1800


def example_project(directory: Path) -> Path:
    """The example suites and plugins, with no model configured: the built-ins are used."""
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    (directory / "pyproject.toml").write_text('[tool.promptcheck]\nplugins = ["plugins.checks"]\n')
    return directory


def conforming_per_case(junit: Path) -> dict[str, dict[str, int]]:
    """Each case's conforming count on the candidate and on the baseline, from the JUnit XML,
    by case id (the example suites' ids are unique)."""
    counts = {}
    for testcase in ElementTree.parse(junit).iter("testcase"):
        found = {p.get("name"): p.get("value") for p in testcase.iter("property")}
        counts[str(found["promptcheck_case"])] = {
            "candidate": int(found["promptcheck_conforming"] or 0),
            "baseline": int(found["promptcheck_baseline_conforming"] or 0),
        }
    return counts


def test_upgrade_to_no_json_regresses_the_json_cases_and_nothing_else(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    from measure_conformance import TOLERANCE_SAMPLES

    project = example_project(tmp_path / "project")
    markdown, html, junit = tmp_path / "report.md", tmp_path / "report.html", tmp_path / "j.xml"

    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--promptcheck", "suites/", "-p", "no:cacheprovider",
         "--promptcheck-model", "tiny-dolly-no-json", "--promptcheck-baseline", "tiny-dolly",
         "--promptcheck-no-progress", f"--promptcheck-md={markdown}",
         f"--promptcheck-html={html}", f"--junitxml={junit}"],
        cwd=project, capture_output=True, text=True, timeout=RUN_LIMIT_S, check=False,
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

    manifest = json.loads((weights_dir() / MANIFEST_FILE).read_text())["variants"]
    measured = conforming_per_case(junit)
    for side, variant in (("baseline", "full"), ("candidate", "no-json")):
        shipped = {
            case.split("::")[1]: figure["k"]
            for case, figure in manifest[variant]["conformance"].items()
        }
        assert set(measured) == set(shipped), measured
        for case, counts in measured.items():
            assert abs(counts[side] - shipped[case]) <= TOLERANCE_SAMPLES, (case, variant, counts)
