"""Fixtures for the local backend's tests: tiny checkpoints built once per session.

torch and transformers are imported inside the fixtures, so that collecting the other backend
tests in this directory stays cheap.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

# tests/checkpoints.py holds the checkpoint builders shared with tests/e2e.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


@pytest.fixture(scope="session")
def dolly_tokenizer() -> Any:
    from checkpoints import neox_tokenizer

    return neox_tokenizer()


@pytest.fixture(scope="session")
def dolly_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dolly-v2 layout checkpoint with random weights (float32, legacy config.json)."""
    from checkpoints import build_dolly_checkpoint

    return build_dolly_checkpoint(tmp_path_factory.mktemp("dolly-random"))


@pytest.fixture(scope="session")
def scripted_chain(dolly_tokenizer: Any) -> list[int]:
    """``### Response:\\n``, the ids of ``SCRIPTED_RESPONSE``, ``### End``, then a token that
    must never be emitted (generation has to stop at ``### End``)."""
    from checkpoints import SCRIPTED_RESPONSE

    response_ids = dolly_tokenizer(SCRIPTED_RESPONSE)["input_ids"]
    after_end = dolly_tokenizer(" never")["input_ids"]
    chain = [50279, *response_ids, 50277, *after_end]
    assert len(set(chain)) == len(chain)  # a bigram script needs distinct tokens
    return chain


@pytest.fixture(scope="session")
def scripted_dir(tmp_path_factory: pytest.TempPathFactory, scripted_chain: list[int]) -> Path:
    """A dolly-v2 layout checkpoint that answers ``SCRIPTED_RESPONSE`` then ``### End``."""
    from checkpoints import build_dolly_checkpoint

    return build_dolly_checkpoint(tmp_path_factory.mktemp("dolly-scripted"), chain=scripted_chain)


@pytest.fixture(scope="session")
def dolly_backend(dolly_dir: Path) -> Any:
    from promptcheck.backends.base import BackendContext
    from promptcheck.backends.local import LocalParams, build_local

    return build_local(LocalParams(path=str(dolly_dir)), BackendContext(base_dir=Path.cwd()))


@pytest.fixture(scope="session")
def scripted_backend(scripted_dir: Path) -> Any:
    from promptcheck.backends.base import BackendContext
    from promptcheck.backends.local import LocalParams, build_local

    return build_local(
        LocalParams(path=scripted_dir.name),
        BackendContext(base_dir=scripted_dir.parent),
    )
