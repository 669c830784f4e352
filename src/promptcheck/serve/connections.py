"""A cap on the connections ``promptcheck serve`` holds open, so that idle or stalled clients
cannot take the sockets real clients need.

The cap sits between the listening socket and aiohttp: :class:`ConnectionLimit` is the protocol
factory given to ``loop.create_server``; each accepted connection gets a :class:`_Guarded`
protocol that admits it (and then hands every event to aiohttp's own protocol) or refuses it.
aiohttp's middleware marks a connection busy while one of its requests is answered. At the cap,
a new connection closes the connection idle longest (between requests, or still sending its
request head), as nginx reuses idle keep-alive connections when it runs out; only when every
connection is busy is the new one refused, with a 503 that asks it to retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from promptcheck.serve.limits import RETRY_AFTER_S
from promptcheck.serve.protocol import APIError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler


def _refusal() -> bytes:
    body = APIError(
        503, "the server has too many connections; retry shortly", code="too_many_connections"
    ).body()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_S}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


REFUSAL = _refusal()


class ConnectionLimit:
    """At most ``limit`` open connections (see the module docstring).

    ``factory`` makes the protocol of an admitted connection (aiohttp's ``runner.server``);
    it is set once the server is set up, before the first connection is accepted.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.factory: Callable[[], asyncio.Protocol] | None = None
        self._open: dict[_Guarded, None] = {}
        self._idle: dict[_Guarded, None] = {}  # the open connections not answering: oldest first
        self._by_transport: dict[asyncio.BaseTransport, _Guarded] = {}
        self.peak = 0
        self.evicted = 0
        self.refused = 0

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    @property
    def open(self) -> int:
        return len(self._open)

    def as_dict(self) -> dict[str, int]:
        """Counters for ``GET /health``."""
        return {
            "open": self.open,
            "limit": self.limit,
            "peak": self.peak,
            "evicted": self.evicted,
            "refused": self.refused,
        }

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Mark the request's connection busy (not to be closed for room) while it is answered."""
        guarded = self._by_transport.get(request.transport) if request.transport else None
        if guarded is None:
            return await handler(request)
        self._idle.pop(guarded, None)
        guarded.busy += 1
        try:
            return await handler(request)
        finally:
            guarded.busy -= 1
            if guarded.busy == 0 and guarded in self._open:
                self._idle[guarded] = None

    def _admit(self, guarded: _Guarded, transport: asyncio.BaseTransport) -> bool:
        if len(self._open) >= self.limit and not self._evict():
            self.refused += 1
            return False
        self._open[guarded] = None
        self._idle[guarded] = None
        self._by_transport[transport] = guarded
        self.peak = max(self.peak, len(self._open))
        return True

    def _evict(self) -> bool:
        """Close the connection idle longest; False when every connection is busy."""
        victim = next(iter(self._idle), None)
        if victim is None:
            return False
        self.evicted += 1
        transport = victim.transport
        self._forget(victim)
        if transport is not None:
            transport.close()
        return True

    def _forget(self, guarded: _Guarded) -> None:
        self._open.pop(guarded, None)
        self._idle.pop(guarded, None)
        if guarded.transport is not None:
            self._by_transport.pop(guarded.transport, None)


class _Guarded(asyncio.Protocol):
    """One accepted connection: admitted (events go to ``inner``, aiohttp's protocol) or
    refused (a 503, then closed)."""

    def __init__(self, limit: ConnectionLimit) -> None:
        self.limit = limit
        self.inner: asyncio.Protocol | None = None
        self.transport: asyncio.BaseTransport | None = None
        self.busy = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        if self.limit.factory is None or not self.limit._admit(self, transport):
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(REFUSAL)
            transport.close()
            return
        self.inner = self.limit.factory()
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.limit._forget(self)
        if self.inner is not None:
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.inner is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.inner is not None else None

    def pause_writing(self) -> None:
        if self.inner is not None:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.inner is not None:
            self.inner.resume_writing()
