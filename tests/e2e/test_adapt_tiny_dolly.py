"""``promptcheck adapt`` on its known truth, with real models: the data-first tiny Dolly.

``data-first`` (train/phrasings.py) learned the JSON tasks only with the data before the
instruction (or in Dolly's ``Input:`` section); given the suites' instruction-first prompts it
answers in ``key: value`` lines. Against the shipped ``tiny-dolly`` it regresses on the two JSON
cases of ``suites/`` and on nothing else, and rewrites that put the data first restore them
(held-out rates over 400 samples, benchmarks/adapt_known_truth.py; docs/adapt.md):

* ``ticket-json`` can be fixed to its threshold (``after-data`` conforms on about 99% of
  held-out samples, the baseline's original prompt on 96%): it must be adapted, its held-out
  rate at or above 0.95;
* ``contact-json`` can only be brought back to the baseline's level: the baseline's own prompt
  conforms on 93-95% of its held-out messages, ``after-data`` on about 94%, ``instruction-
  repeated`` on 92-93%, ``input-section`` on 84% although it conforms on every search sample.
  Its goal is therefore "no worse than the baseline by 0.05", which a held-out test of 1,000
  samples at level 0.025 shows for a rewrite within about a point of the baseline: close to the
  edge, and builds differ in their last bits between machines. Whatever it decides must be
  sound: a data-first rewrite goes to the held-out test, and a confirmed one clears 0.90 there;
* the four other cases must be left alone, and no suite file written.

No optimizer model takes part: the tiny Dolly was not trained to rewrite instructions, so the
deterministic operators carry this test (test_adapt_scripted.py covers a scripted optimizer).

The variant is built once (minutes on two cores) into ``.promptcheck/models`` and reused.
"""

from __future__ import annotations

import json
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
JSON_CASES = {"suites/triage.yaml::ticket-json", "suites/triage.yaml::contact-json"}
#: Samples per case for the diagnosis on both models and the race's maximum; the held-out tests
#: draw 1,000 (the baseline's prompt, then each contender in turn, curtailed once certain).
SAMPLES = "50"
CONFIRM = "1000"


def project(directory: Path, variant: Path) -> Path:
    shutil.copytree(ROOT / "suites", directory / "suites")
    shutil.copytree(ROOT / "plugins", directory / "plugins")
    (directory / "pyproject.toml").write_text(
        "\n".join(
            [
                "[tool.promptcheck]",
                'plugins = ["plugins.checks"]',
                "[tool.promptcheck.models.data-first]",
                'backend = "tiny-dolly"',
                f'path = "{variant}"',
                "",
            ]
        )
    )
    return directory


def test_adapt_restores_the_json_cases_and_touches_nothing_else(tmp_path: Path) -> None:
    from promptcheck.train.tiny import build_tiny_dolly

    variant = build_tiny_dolly(MODELS / "tiny-dolly-data-first", "data-first", progress=False)
    root = project(tmp_path / "project", variant)
    suites = {path.name: path.read_text() for path in (root / "suites").glob("*.yaml")}
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, "-m", "promptcheck.cli", "adapt", "suites", "--model", "data-first",
         "--baseline", "tiny-dolly", "--samples", SAMPLES, "--confirm-samples", CONFIRM, "--json"],
        cwd=root, capture_output=True, text=True, timeout=1800, check=False,
        env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert completed.returncode in (0, 1), completed.stdout + completed.stderr
    report = json.loads(completed.stdout)
    cases = {c["case_id"]: c for c in report["cases"]}
    assert {f"suites/triage.yaml::{name}" for name in cases} == JSON_CASES, report["statuses"]
    assert all("regressed" in case["why"] for case in cases.values())
    ticket = cases["ticket-json"]
    assert ticket["adapted"], ticket
    assert ticket["confirmation"]["k"] / ticket["confirmation"]["n"] >= ticket["threshold"]
    contact = cases["contact-json"]
    held = contact["confirmation"]
    assert held is not None, contact  # a data-first rewrite went to the held-out test
    assert contact["race"]["winner"] in ("after-data", "input-section", "instruction-repeated")
    if contact["adapted"]:
        assert held["fixed"] and held["k"] / held["n"] > contact["threshold"] - contact["tolerance"]
    others = [s for s in report["statuses"] if s["case_id"] not in cases]
    assert len(others) == 4 and {s["status"] for s in others} == {"conforms"}
    [patch] = report["patches"]
    assert patch["suite_path"] == "suites/triage.yaml"
    assert set(patch["cases"]) == {name for name, case in cases.items() if case["adapted"]}
    assert {p.name: p.read_text() for p in (root / "suites").glob("*.yaml")} == suites
