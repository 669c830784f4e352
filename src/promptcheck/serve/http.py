"""A small HTTP/1.1 server on asyncio streams: just what an OpenAI-compatible API needs.

Written here rather than taken from a framework to keep ``promptcheck serve`` free of extra
dependencies. It reads one request at a time per connection (keep-alive, Content-Length or
chunked bodies, ``Expect: 100-continue``), hands it to an async handler, and writes the answer,
whole or streamed in chunks (server-sent events). Everything a client can get wrong (a garbled
request line, oversized headers or body, a body that never arrives) is answered with a 4xx and
the connection closed; a handler that raises is a bug, answered with a 500, and the server goes
on serving the other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import urlsplit

log = logging.getLogger("promptcheck.serve")

MAX_HEAD_BYTES = 64 * 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")


@dataclass(frozen=True)
class Request:
    """One parsed request: ``headers`` have lower-case names; ``path`` has no query string."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


@dataclass
class Response:
    """A whole body, or ``stream``: chunks written as they come (chunked transfer encoding)."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    stream: AsyncIterator[bytes] | None = None


class HttpProblem(Exception):
    """A request that cannot be read: answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Handler = Callable[[Request], Awaitable[Response]]
ErrorBody = Callable[[int, str], bytes]


class HttpServer:
    """Serves ``handler`` on one host and port; ``error_body`` words the 4xx it sends itself."""

    def __init__(
        self,
        handler: Handler,
        error_body: ErrorBody,
        *,
        max_body_bytes: int = 16 * 2**20,
        idle_timeout_s: float = 75.0,
        read_timeout_s: float = 30.0,
    ) -> None:
        self.handler = handler
        self.error_body = error_body
        self.max_body_bytes = max_body_bytes
        self.idle_timeout_s = idle_timeout_s
        self.read_timeout_s = read_timeout_s
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen; returns the address bound (``port`` 0 picks a free port)."""
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_HEAD_BYTES
        )
        address = self._server.sockets[0].getsockname()
        return str(address[0]), int(address[1])

    async def aclose(self) -> None:
        """Stop listening and end every connection (a request being answered is abandoned)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
            task.add_done_callback(self._connections.discard)
        try:
            while await self._exchange(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or stalled: nothing to answer
        except asyncio.CancelledError:
            pass  # server closing; re-raising trips Python 3.11's start_server callback
        except Exception:  # a bug in this module: keep it to this connection
            log.exception("connection failed")
        finally:
            writer.close()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request and answer it; False when the connection is to be closed."""
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.idle_timeout_s)
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                await self._problem(writer, HttpProblem(400, "incomplete request"))
            return False
        except asyncio.LimitOverrunError:
            await self._problem(writer, HttpProblem(431, "request head too large"))
            return False
        try:
            method, path, version, headers = _parse_head(head)
            body = await asyncio.wait_for(self._body(reader, writer, headers), self.read_timeout_s)
        except asyncio.LimitOverrunError:
            await self._problem(writer, HttpProblem(400, "chunk header too long"))
            return False
        except HttpProblem as problem:
            await self._problem(writer, problem)
            return False
        keep_alive = _keep_alive(version, headers)
        try:
            response = await self.handler(Request(method, path, headers, body))
        except Exception:
            log.exception("handler failed on %s %s", method, path)
            response = Response(500, self.error_body(500, "internal server error"))
        await self._write(writer, response, keep_alive)
        return keep_alive

    async def _body(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, headers: Mapping[str, str]
    ) -> bytes:
        encoding = headers.get("transfer-encoding", "").lower()
        length_text = headers.get("content-length")
        if encoding and length_text is not None:
            raise HttpProblem(400, "both Transfer-Encoding and Content-Length")
        if encoding and encoding != "chunked":
            raise HttpProblem(501, f"transfer encoding {encoding!r} is not supported")
        length = 0
        if length_text is not None:
            if not length_text.isdigit() or len(length_text) > 18:
                raise HttpProblem(400, "invalid Content-Length")
            length = int(length_text)
            if length > self.max_body_bytes:
                raise HttpProblem(413, f"body over {self.max_body_bytes} bytes")
        if headers.get("expect", "").lower() == "100-continue" and (length or encoding):
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            await writer.drain()
        if encoding:
            return await self._chunked(reader)
        return await reader.readexactly(length) if length else b""

    async def _chunked(self, reader: asyncio.StreamReader) -> bytes:
        body = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or len(size_text) > 16:
                raise HttpProblem(400, "invalid chunk size")
            try:
                size = int(size_text, 16)
            except ValueError:
                raise HttpProblem(400, "invalid chunk size") from None
            if len(body) + size > self.max_body_bytes:
                raise HttpProblem(413, f"body over {self.max_body_bytes} bytes")
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, ignored
                    pass
                return bytes(body)
            body += await reader.readexactly(size)
            if await reader.readexactly(2) != b"\r\n":
                raise HttpProblem(400, "chunk not followed by CRLF")

    async def _problem(self, writer: asyncio.StreamWriter, problem: HttpProblem) -> None:
        with contextlib.suppress(ConnectionError):
            response = Response(problem.status, self.error_body(problem.status, problem.message))
            await self._write(writer, response, keep_alive=False)

    async def _write(
        self, writer: asyncio.StreamWriter, response: Response, keep_alive: bool
    ) -> None:
        reason = _reason(response.status)
        lines = [f"HTTP/1.1 {response.status} {reason}", f"content-type: {response.content_type}"]
        lines += [f"{name}: {value}" for name, value in response.headers.items()]
        if response.stream is None:
            lines.append(f"content-length: {len(response.body)}")
        else:
            lines.append("transfer-encoding: chunked")
        lines.append("connection: keep-alive" if keep_alive else "connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if response.stream is None:
            writer.write(head + response.body)
            await writer.drain()
            return
        writer.write(head)
        try:
            async for chunk in response.stream:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()
        finally:
            # A client that went away leaves the stream unfinished: close it now, so that
            # what feeds it (rows still sampling) stops, rather than when it is collected.
            aclose = getattr(response.stream, "aclose", None)
            if aclose is not None:
                await aclose()
        writer.write(b"0\r\n\r\n")
        await writer.drain()


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    """Method, path, version and headers of a request head; raises HttpProblem(400)."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # latin-1 decodes every byte; kept for clarity of intent
        raise HttpProblem(400, "undecodable request head") from None
    lines = text[:-4].split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise HttpProblem(400, "malformed request line")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HttpProblem(400, "malformed method")
    if version not in _VERSIONS:
        raise HttpProblem(505 if version.startswith("HTTP/") else 400, "unsupported HTTP version")
    try:
        path = urlsplit(target).path
    except ValueError:
        raise HttpProblem(400, "malformed request target") from None
    if not path.startswith("/"):
        raise HttpProblem(400, "malformed request target")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            raise HttpProblem(400, "malformed header line")
        key = name.lower()
        value = value.strip(" \t")
        if key in headers:
            if key in ("content-length", "transfer-encoding", "host"):
                raise HttpProblem(400, f"repeated {name} header")
            headers[key] = f"{headers[key]}, {value}"
        else:
            headers[key] = value
    return method, path, version, headers


def _keep_alive(version: str, headers: Mapping[str, str]) -> bool:
    tokens = {t.strip().lower() for t in headers.get("connection", "").split(",")}
    if version == "HTTP/1.0":
        return "keep-alive" in tokens
    return "close" not in tokens


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
