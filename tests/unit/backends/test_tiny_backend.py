"""The built-in tiny Dolly runs where its manifest's figures were measured: CPU, float32."""

from __future__ import annotations

from pathlib import Path

import pytest

from promptcheck.backends.base import BackendContext
from promptcheck.backends.tiny import TinyDollyParams, build_tiny

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_the_shipped_weights_run_on_the_cpu_in_float32_by_default(tmp_path: Path) -> None:
    """A GPU's automatic bfloat16 would draw other samples than the manifest records."""
    backend = build_tiny(TinyDollyParams(), BackendContext(base_dir=tmp_path))
    assert (backend.device, backend.dtype) == ("cpu", "float32")  # type: ignore[attr-defined]
    assert "/dolly/float32/cpu/" in backend.fingerprint  # type: ignore[attr-defined]


def test_the_device_can_still_be_chosen() -> None:
    assert TinyDollyParams(device="cuda").device == "cuda"
    assert TinyDollyParams().device == "cpu"
