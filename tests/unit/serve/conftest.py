"""A server over a fake engine: the API layer tested without a model (fast, no torch)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/: the fakes package

from fakes.echo_engine import API_KEY, EchoEngine, Served

from promptcheck.serve.server import BackgroundServer


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    engine = EchoEngine()
    with BackgroundServer(engine, api_key=API_KEY) as url:
        yield Served(url, engine)


@pytest.fixture(scope="module")
def open_server() -> Iterator[Served]:
    """The same, taking no API key."""
    engine = EchoEngine()
    with BackgroundServer(engine) as url:
        yield Served(url, engine)
