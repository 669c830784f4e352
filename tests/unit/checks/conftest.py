"""Fixtures of the check tests: build a check from its suite form, as the suite loader does."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from promptcheck.checks import CHECKS, BuildContext, Check, CheckContext
from promptcheck.importing import CodePolicy

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _fixture_modules_importable() -> Iterator[None]:
    """Fixture modules are named by import path (``pc_fixture_models:Ticket``), like plugins."""
    sys.path.insert(0, str(FIXTURES))
    yield
    sys.path.remove(str(FIXTURES))


def build_check(
    name: str, raw: Any = None, base_dir: Path = FIXTURES, trusted: tuple[str, ...] = ()
) -> Check:
    """Validate ``raw`` (the value under the ``expect`` key) with the check's params, then build.

    The fixture folder plays the project root: its modules are the project's own code; other
    modules must be ``trusted``, as ``[tool.promptcheck] trusted_modules`` would.
    """
    check_type = CHECKS.get(name)
    context = BuildContext(base_dir, CodePolicy(root=base_dir, trusted=trusted))
    return check_type.build(check_type.params.model_validate(raw), context)


@pytest.fixture
def make_check() -> Callable[..., Check]:
    """``make_check(name, raw=None, base_dir=FIXTURES)``: a check built from its suite form."""
    return build_check


@pytest.fixture
def context() -> CheckContext:
    return CheckContext(prompt="Give three options for a weekend in Denver.", case_id="denver")
