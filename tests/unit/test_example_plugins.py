"""The example project's contact checks (plugins/checks.py), used by suites/triage.yaml."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from promptcheck.checks import CheckContext

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "Message: Hi, this is Maria Lopez (maria.lopez@example.com)."
NOT_NORMAL = "is not lowercase and trimmed"


@pytest.fixture(scope="module")
def checks() -> Iterator[ModuleType]:
    sys.path.insert(0, str(ROOT))
    try:
        import plugins.checks

        yield plugins.checks
    finally:  # a `plugins` package left imported would shadow later test projects' own
        sys.path.remove(str(ROOT))
        for name in [n for n in sys.modules if n == "plugins" or n.startswith("plugins.")]:
            del sys.modules[name]


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            '{"name": "Maria Lopez", "email": "maria.lopez@example.com"}',
            (True, "email is lowercase and trimmed"),
        ),
        (
            '{"name": "Maria Lopez", "email": "Maria.Lopez@example.com"}',
            (False, f"email 'Maria.Lopez@example.com' {NOT_NORMAL}"),
        ),
        (
            '{"name": "Maria Lopez", "email": " maria@example.com"}',
            (False, f"email ' maria@example.com' {NOT_NORMAL}"),
        ),
        ('{"name": "Maria Lopez"}', (False, "no email field")),
        ('["maria@example.com"]', (False, "no email field")),
        ("name: Maria", (False, "output is not JSON")),
    ],
)
def test_email_is_normalized(checks: ModuleType, output: str, expected: tuple[bool, str]) -> None:
    assert checks.email_is_normalized(output, CheckContext(prompt=PROMPT)) == expected


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ('{"email": "maria.lopez@example.com"}', (True, "email taken from the message")),
        (
            '{"email": "maria@example.com"}',
            (False, "email 'maria@example.com' does not occur in the message"),
        ),
        ('{"email": 7}', (False, "no email field")),
        ("{", (False, "output is not JSON")),
    ],
)
def test_email_from_prompt(checks: ModuleType, output: str, expected: tuple[bool, str]) -> None:
    assert checks.email_from_prompt(output, CheckContext(prompt=PROMPT)) == expected
