"""The server's HTTP layer (aiohttp, with promptcheck's limits) over raw sockets: keep-alive,
bodies, streaming, malformed requests answered with a 4xx and no traceback in the log, the key
checked before any body is read, bodies bounded in size and time, idle and stalled connections
closed, the connection cap, and the work of clients that leave cancelled."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from fakes.echo_engine import API_KEY, EchoEngine, Served
from fakes.malformed_requests import LogWatch, statuses, watching_logs

from promptcheck.errors import ConfigError
from promptcheck.serve import OpenAIServer
from promptcheck.serve.limits import ServerLimits
from promptcheck.serve.server import BackgroundServer

LIMIT_S = 10.0  # every socket read here gives up after this: a regression fails, never hangs
AUTH = f"Authorization: Bearer {API_KEY}\r\n".encode()
BODY = json.dumps({"model": "echo", "prompt": "hi there", "max_tokens": 4}).encode()


@contextmanager
def serving(**limits: float) -> Iterator[tuple[Served, LogWatch]]:
    settings = {"idle_timeout_s": 2.0, "body_timeout_s": 0.5, "max_body_bytes": 1000, **limits}
    engine = EchoEngine()
    with (
        watching_logs() as watch,
        BackgroundServer(
            engine,
            api_key=API_KEY,
            limits=ServerLimits(**settings),  # type: ignore[arg-type]
        ) as url,
    ):
        yield Served(url, engine), watch


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Served, LogWatch]]:
    with serving() as both:
        yield both


def connect(served: Served) -> socket.socket:
    return socket.create_connection(served.origin, timeout=LIMIT_S)


def read_until_closed(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (a timeout fails the test)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks)


def exchange(served: Served, raw: bytes) -> bytes:
    with connect(served) as sock:
        sock.sendall(raw)
        return read_until_closed(sock)


def post(path: str, body: bytes, *headers: bytes) -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: t\r\n" % path.encode() + b"".join(headers)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


def request_json(served: Served, method: str, path: str, body: bytes | None = None) -> int:
    connection = http.client.HTTPConnection(*served.origin, timeout=LIMIT_S)
    try:
        connection.request(method, path, body=body, headers={"Authorization": f"Bearer {API_KEY}"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def health(served: Served) -> dict[str, dict[str, int]]:
    connection = http.client.HTTPConnection(*served.origin, timeout=LIMIT_S)
    try:
        connection.request("GET", "/health")
        data: dict[str, dict[str, int]] = json.loads(connection.getresponse().read())
        return data
    finally:
        connection.close()


def test_keep_alive_answers_several_requests_on_one_connection(
    server: tuple[Served, LogWatch],
) -> None:
    served, _ = server
    with connect(served) as sock:
        stream = sock.makefile("rb")
        for prompt in ("one", "two"):
            body = json.dumps({"model": "echo", "prompt": prompt}).encode()
            sock.sendall(post("/v1/completions", body, AUTH))
            assert stream.readline().startswith(b"HTTP/1.1 200")
            headers = {}
            while (line := stream.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                headers[name.lower()] = value.strip()
            answer = json.loads(stream.read(int(headers["content-length"])))
            assert answer["choices"][0]["text"].startswith(f"{prompt}#")
            assert headers.get("connection") != "close"
            assert headers["server"] == "promptcheck"  # no versions named


def test_chunked_bodies_and_expect_continue(server: tuple[Served, LogWatch]) -> None:
    served, watch = server
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in (BODY[:5], BODY[5:]))
    raw = (
        b"POST /v1/completions HTTP/1.1\r\nHost: t\r\n" + AUTH + b"Transfer-Encoding: chunked\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n" + chunks + b"0\r\nTrailer: x\r\n\r\n"
    )
    data = exchange(served, raw)
    assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert b'"text": "hi there#' in data
    assert watch.problems() == []


def test_a_streamed_answer_is_chunked_and_terminated(server: tuple[Served, LogWatch]) -> None:
    served, _ = server
    body = json.dumps({"model": "echo", "prompt": "p q", "stream": True}).encode()
    data = exchange(served, post("/v1/completions", body, AUTH, b"Connection: close\r\n"))
    head, chunked = data.split(b"\r\n\r\n", 1)
    assert b"Transfer-Encoding: chunked" in head and b"text/event-stream" in head
    assert chunked.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")


MALFORMED = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1 extra\r\n\r\n",
    b"G(T / HTTP/1.1\r\n\r\n",
    b"GET / FTP/1.0\r\n\r\n",
    b"GET nopath HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon\r\n\r\n",
    b"GET / HTTP/1.1\r\n folded: header\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n",
]
#: Lengths and chunk sizes that a hand-written parser got wrong (an exception and a traceback):
#: digits that are digits to str.isdigit() but not to int(), signs, hex prefixes, overflows.
BAD_FRAMES = [
    b"Content-Length: x\r\n\r\n",
    b"Content-Length: -1\r\n\r\n",
    b"Content-Length: +3\r\n\r\nabc",
    "Content-Length: \u00b2\r\n\r\nab".encode(),
    "Content-Length: \u0661\u0662\r\n\r\n".encode(),
    b"Content-Length: 99999999999999999999999999\r\n\r\n",
    b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"Transfer-Encoding: gzip\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n0\r\n\r\n",
    "Transfer-Encoding: chunked\r\n\r\n\u0663\r\nabc\r\n0\r\n\r\n".encode(),
    b"Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFFFFF\r\nabc\r\n",
    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
]


@pytest.mark.parametrize(
    "raw",
    MALFORMED
    + [b"POST /v1/completions HTTP/1.1\r\nHost: t\r\n" + AUTH + frame for frame in BAD_FRAMES],
)
def test_malformed_requests_get_a_4xx_no_traceback_and_the_connection_closed(
    server: tuple[Served, LogWatch], raw: bytes
) -> None:
    served, watch = server
    watch.clear()
    data = exchange(served, raw)  # returns only once the server has closed the connection
    [status] = statuses(data)
    assert 400 <= status < 500, data[:200]
    assert watch.problems() == []
    assert request_json(served, "GET", "/v1/models") == 200


def test_a_handler_bug_is_a_logged_500_and_the_server_goes_on(
    server: tuple[Served, LogWatch],
) -> None:
    served, watch = server
    watch.clear()
    body = json.dumps({"model": "echo", "prompt": "engine bug"}).encode()
    assert request_json(served, "POST", "/v1/completions", body) == 500
    assert watch.problems() == ["promptcheck.serve ERROR: handler failed on POST /v1/completions"]
    assert request_json(served, "GET", "/v1/models") == 200


@pytest.mark.parametrize("expect", [b"", b"Expect: 100-continue\r\n"])
@pytest.mark.parametrize("key", [b"", b"Authorization: Bearer wrong\r\n", b"Authorization: x\r\n"])
def test_the_key_is_checked_before_any_body_is_read(
    server: tuple[Served, LogWatch], key: bytes, expect: bytes
) -> None:
    """A megabyte announced, none of it sent: the 401 arrives anyway, and the connection is
    closed rather than left to take the body (nor is a client without the key told to send
    it with ``100 Continue``)."""
    served, _ = server
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\n" + key + expect
    data = exchange(served, head + b"Content-Length: 1000000\r\n\r\n")
    assert statuses(data) == [401], data[:200]
    assert json.loads(data.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "invalid_api_key"
    assert b"wrong" not in data


def test_an_announced_body_over_the_limit_is_refused_unread(
    server: tuple[Served, LogWatch],
) -> None:
    served, _ = server
    data = exchange(
        served,
        b"POST /v1/completions HTTP/1.1\r\nHost: t\r\n" + AUTH + b"Content-Length: 5000\r\n\r\n",
    )
    assert statuses(data) == [413]
    chunks = b"".join(b"%x\r\n%s\r\n" % (400, b" " * 400) for _ in range(4)) + b"0\r\n\r\n"
    head = (
        b"POST /v1/completions HTTP/1.1\r\nHost: t\r\n"
        + AUTH
        + b"Transfer-Encoding: chunked\r\n\r\n"
    )
    assert statuses(exchange(served, head + chunks)) == [413]  # no length announced: counted


def test_a_body_that_does_not_arrive_in_time_is_a_408(server: tuple[Served, LogWatch]) -> None:
    served, watch = server
    watch.clear()
    data = exchange(served, post("/v1/completions", BODY, AUTH)[:-10])  # 10 bytes short
    assert statuses(data) == [408]
    assert watch.problems() == []


def test_idle_and_stalled_connections_are_closed() -> None:
    """A connection that sends nothing, one that never finishes its request head, and one
    idle after its answer are all closed after the idle timeout, quietly."""
    with serving(idle_timeout_s=0.3) as (served, watch):
        with connect(served) as silent, connect(served) as stalled, connect(served) as idle:
            stalled.sendall(b"GET /v1/models HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            idle.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
            assert read_until_closed(silent) == b""
            assert read_until_closed(stalled) == b""
            assert statuses(read_until_closed(idle)) == [200]
        assert watch.problems() == []


def test_a_client_that_stops_reading_its_answer_is_dropped() -> None:
    """A client that asks for 16 MB and reads none of it: once the socket buffers are full, the
    server waits the idle timeout for it, then drops the connection instead of holding it."""
    size = 16 * 2**20
    with serving(idle_timeout_s=0.5) as (served, watch):
        body = json.dumps({"model": "echo", "prompt": f"big-{size}"}).encode()
        with connect(served) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(post("/v1/completions", body, AUTH))
            for _ in range(int(LIMIT_S / 0.05)):  # until the server says it gave up (bounded)
                if any("stopped reading" in r.getMessage() for r in watch.records):
                    break
                time.sleep(0.05)
            assert any("stopped reading" in r.getMessage() for r in watch.records)
            counters = health(served)["connections"]
            assert counters["open"] <= 1  # only the health request's own: the reader's is gone
            assert sock.recv(5) == b"HTTP/"  # it had begun to be answered
        assert watch.problems() == []


def test_at_the_cap_the_longest_idle_connection_makes_room_for_a_client() -> None:
    with serving(max_connections=4) as (served, watch):
        idle = [connect(served) for _ in range(4)]
        try:
            for sock in idle[1:]:
                sock.sendall(b"GET /v1/mod")  # stalled heads count as idle too
            assert request_json(served, "GET", "/v1/models") == 200
            assert read_until_closed(idle[0]) == b""  # the oldest made room
            counters = health(served)["connections"]
            assert counters["open"] <= 4 and counters["peak"] == 4
            assert counters["evicted"] >= 1 and counters["refused"] == 0
        finally:
            for sock in idle:
                sock.close()
        assert watch.problems() == []


def test_when_every_connection_is_busy_a_new_one_gets_a_503() -> None:
    """Two requests in flight fill a cap of two; a third connection is refused with a 503,
    and the two clients, hanging up, have their generations cancelled (they do not stream)."""
    with serving(max_connections=2) as (served, _):
        body = json.dumps({"model": "echo", "prompt": "hang"}).encode()
        busy = [connect(served) for _ in range(2)]
        for sock in busy:
            sock.sendall(post("/v1/completions", body, AUTH))
        for _ in busy:  # both are being answered
            assert served.engine.hanging.acquire(timeout=LIMIT_S)
        with connect(served) as third:
            refused = read_until_closed(third)
        assert statuses(refused) == [503] and b"Retry-After: 1" in refused
        assert json.loads(refused.split(b"\r\n\r\n")[1])["error"]["code"] == "too_many_connections"
        for sock in busy:
            sock.close()
        for _ in busy:
            assert served.engine.cancelled.acquire(timeout=LIMIT_S)
        assert served.engine.departed == 2
        assert request_json(served, "GET", "/v1/models") == 200


def test_an_empty_or_unsendable_key_is_refused() -> None:
    for key in ("", " ", "has space", "caf\u00e9", "tab\t"):
        with pytest.raises(ConfigError):
            OpenAIServer(EchoEngine(), api_key=key)
