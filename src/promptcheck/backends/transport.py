"""The HTTP transport under a provider's client: aiohttp where it is installed, else httpx.

The ``openai`` and ``anthropic`` clients are built alike: they send requests through httpx by
default, and with their ``aiohttp`` extra installed they can send them through aiohttp instead
(``DefaultAioHttpClient`` of the client's module), which spends less CPU per request. On a
2-core machine 2,000 requests at 64 in flight take 2.0 s through aiohttp against 3.5 s through
httpx (docs/hosted-apis.md, Performance), and a client whose CPU is the
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


def check_transport(transport: Transport, extra: str = "openai") -> None:
    """Refuse ``aiohttp`` where it is not installed, before any request is made; ``extra`` is
    the promptcheck extra that installs it (the backend's name)."""
    if transport == "aiohttp" and importlib.util.find_spec("aiohttp") is None:
        raise _unusable(extra)


def http_client(client_module: ModuleType, transport: Transport, timeout_s: float) -> object | None:
    """The ``http_client`` to give the client (``AsyncOpenAI``, ``AsyncAnthropic``); None keeps
    the client's own httpx one."""
    if transport == "httpx":
        return None
    usable = hasattr(client_module, "DefaultAioHttpClient")  # openai >= 1.8x, anthropic >= 0.5x
    if not (usable and importlib.util.find_spec("aiohttp") is not None):
        if transport == "aiohttp":
            raise _unusable(client_module.__name__)
        return None
    client: object = client_module.DefaultAioHttpClient(timeout=timeout_s)
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


def _unusable(extra: str) -> BackendError:
    return BackendError(
        "http_client: aiohttp needs the aiohttp package "
        f"(and an {extra} client recent enough to use it)",
        hint=f"pip install '{extra}[aiohttp]' (or 'promptcheck[{extra}]'), "
        "or write `http_client: httpx`",
    )
