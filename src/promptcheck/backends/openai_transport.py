"""The HTTP transport under the ``openai`` client: aiohttp where it is installed, else httpx.

The client sends requests through httpx by default; with the ``aiohttp`` extra of ``openai``
installed it can send them through aiohttp instead (``openai.DefaultAioHttpClient``), which spends
less CPU per request. On a 2-core machine 2,000 requests at 64 in flight take 2.0 s through aiohttp
against 3.5 s through httpx (docs/hosted-apis.md, Performance), and a client whose CPU is the
bottleneck is what keeps a run from its ideal time. ``auto`` takes aiohttp when it is there.

aiohttp's errors reach the client translated to httpx's, and a dropped connection arrives as a
*timeout* (aiohttp's ``ServerDisconnectedError`` is mapped to httpx's ``ConnectTimeout``):
:func:`connection_error_behind_timeout` finds the real cause, so the sample's error says what
happened.
"""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Literal

from promptcheck.errors import BackendError

Transport = Literal["auto", "aiohttp", "httpx"]


def check_transport(transport: Transport) -> None:
    """Refuse ``aiohttp`` where it is not installed, before any request is made."""
    if transport == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise _unusable()


def http_client(openai: ModuleType, transport: Transport, timeout_s: float) -> object | None:
    """The ``http_client`` to give ``AsyncOpenAI``; None keeps the client's own httpx one."""
    if transport == "httpx":
        return None
    usable = hasattr(openai, "DefaultAioHttpClient")  # openai >= 1.8x
    if not (usable and importlib.util.find_spec("aiohttp") is not None):
        if transport == "aiohttp":
            raise _unusable()
        return None
    client: object = openai.DefaultAioHttpClient(timeout=timeout_s)
    return client


def connection_error_behind_timeout(exc: BaseException) -> BaseException | None:
    """The aiohttp connection error a timeout error stands for, if it stands for one."""
    cause = exc.__cause__ or exc.__context__
    seen = 0
    while cause is not None and seen < 8:
        if type(cause).__module__.startswith("aiohttp"):
            return None if isinstance(cause, TimeoutError) else cause
        cause = cause.__cause__ or cause.__context__
        seen += 1
    return None


def _unusable() -> BackendError:
    return BackendError(
        "http_client: aiohttp needs the aiohttp package "
        "(and an openai client recent enough to use it)",
        hint="pip install 'openai[aiohttp]' (or 'promptcheck[openai]'), "
        "or write `http_client: httpx`",
    )
