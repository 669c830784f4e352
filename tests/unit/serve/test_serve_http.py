"""The server's HTTP/1.1 layer over raw sockets: keep-alive, bodies, streaming, and every way a
request can be malformed answered with a 4xx, never a dead server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from promptcheck.serve.http import HttpServer, Request, Response
from promptcheck.serve.protocol import error_body


async def echo(request: Request) -> Response:
    if request.path == "/boom":
        raise RuntimeError("a bug")
    if request.path == "/stream":

        async def chunks() -> AsyncIterator[bytes]:
            for part in (b"data: 1\n\n", b"", b"data: [DONE]\n\n"):
                yield part

        return Response(200, content_type="text/event-stream", stream=chunks())
    return Response(200, f"{request.method} {request.path} {request.body!r}".encode())


Exchange = Callable[[bytes], Awaitable[bytes]]


def serving(test: Callable[[int], Awaitable[None]], **settings: float) -> None:
    async def main() -> None:
        server = HttpServer(echo, error_body, max_body_bytes=1000, **settings)
        _, port = await server.start("127.0.0.1", 0)
        try:
            await asyncio.wait_for(test(port), 10)
        finally:
            await server.aclose()

    asyncio.run(main())


async def exchange(port: int, raw: bytes) -> bytes:
    """Send raw bytes, read until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def test_keep_alive_answers_several_requests_on_one_connection() -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for body in (b"one", b"two!"):
            writer.write(b"POST /x HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            assert await reader.readexactly(length) == b"POST /x %r" % body
            assert b"connection: keep-alive" in head
        writer.close()

    serving(test)


def test_chunked_bodies_and_expect_continue() -> None:
    async def test(port: int) -> None:
        raw = (
            b"POST /c?q=1 HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
            b"Connection: close\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nTrailer: x\r\n\r\n"
        )
        data = await exchange(port, raw)
        assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
        assert data.endswith(b"POST /c b'abcde'")

    serving(test)


def test_a_streamed_answer_is_chunked_and_terminated() -> None:
    async def test(port: int) -> None:
        data = await exchange(port, b"GET /stream HTTP/1.0\r\n\r\n")
        head, body = data.split(b"\r\n\r\n", 1)
        assert b"transfer-encoding: chunked" in head and b"connection: close" in head
        assert body == b"9\r\ndata: 1\n\n\r\ne\r\ndata: [DONE]\n\n\r\n0\r\n\r\n"

    serving(test)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
        (b"G(T / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / FTP/1.0\r\n\r\n", 400),
        (b"GET nopath HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n folded: header\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY", 400),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffff\r\n", 413),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
        (b"GET /incomplete HTTP/1.1\r\nHost: x\r\n", 400),
    ],
)
def test_malformed_requests_get_a_4xx_and_the_connection_closed(raw: bytes, status: int) -> None:
    async def test(port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(raw)
        await writer.drain()
        writer.write_eof()
        data = await reader.read()
        writer.close()
        assert status_of(data) == status
        assert b'"error"' in data and b"connection: close" in data
        assert status_of(await exchange(port, b"GET /after HTTP/1.0\r\n\r\n")) == 200

    serving(test)


def test_a_handler_bug_is_a_500_and_the_server_goes_on() -> None:
    async def test(port: int) -> None:
        assert status_of(await exchange(port, b"GET /boom HTTP/1.0\r\n\r\n")) == 500
        assert status_of(await exchange(port, b"GET /fine HTTP/1.0\r\n\r\n")) == 200

    serving(test)


def test_clients_that_vanish_or_stall_cost_nothing() -> None:
    async def test(port: int) -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
        writer.close()  # gone mid-body
        _, stalled = await asyncio.open_connection("127.0.0.1", port)
        stalled.write(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")  # never finished
        assert status_of(await exchange(port, b"GET / HTTP/1.0\r\n\r\n")) == 200
        await asyncio.sleep(0.3)  # past the read timeout: the server has dropped it
        stalled.close()

    serving(test, read_timeout_s=0.1, idle_timeout_s=0.2)
