"""The shipped tiny Dolly can be rebuilt from its recipe: a fresh build of ``full`` conforms on the
example suites as the manifest says the shipped one does, within a stated tolerance.

Builds differ in their last bits between machines (the weights of two CPUs are not byte-equal), so
rates are compared, not weights: every case within ``TOLERANCE`` of the shipped figure (at the
suites' 100 samples a case's rate has a standard error of about 0.02 near 0.95).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from promptcheck.backends.tiny import MANIFEST_FILE, weights_dir

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.06


def test_a_rebuild_of_full_conforms_as_the_shipped_weights_do(tmp_path: Path) -> None:
    from promptcheck.train.tiny import build_tiny_dolly

    sys.path.insert(0, str(ROOT / "tests" / "scripts"))
    from measure_conformance import measure

    built = build_tiny_dolly(tmp_path / "tiny-dolly-full", "full", progress=False)
    rows = {row["case"]: row for row in measure({"rebuilt": built}, None)}
    shipped = json.loads((weights_dir() / MANIFEST_FILE).read_text())["variants"]["full"]
    assert set(rows) == set(shipped["conformance"])
    for case, figure in shipped["conformance"].items():
        row = rows[case]
        assert row["n"] == figure["n"], case
        assert abs(row["k"] / row["n"] - figure["k"] / figure["n"]) <= TOLERANCE, (case, row)
