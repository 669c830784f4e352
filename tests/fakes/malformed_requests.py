"""Hypothesis strategies for requests a careless or hostile client might send the server, and
a client that sends them and checks the one promise: never a 500, always an answer or a clean
close, nothing in the server's log but one-line notes, and the server still serving afterwards.

Bodies are mostly *near-valid*: a valid request with some fields replaced by arbitrary JSON, or
dropped, since a purely random body stops at the first check and never reaches the deep ones.
Framings (:func:`framed_requests`) send a valid body with its length announced, chunked at
random cuts, or framed wrongly in the ways HTTP parsers have been caught out by.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

FIELDS = (
    "model",
    "messages",
    "prompt",
    "n",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "stream",
    "stream_options",
    "logprobs",
    "echo",
    "best_of",
    "suffix",
    "response_format",
    "tools",
    "logit_bias",
    "presence_penalty",
    "user",
)

#: Surrogate code points: JSON's ``\\ud800`` escapes decode to them, and those that pair with
#: nothing (a lone surrogate) are text no tokenizer, log or store can encode.
_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])


def texts(max_size: int) -> st.SearchStrategy[str]:
    """Text, often with surrogates among the characters (lone, or a high and a low side by
    side, which JSON joins into one valid character)."""
    return st.text(max_size=max_size) | st.text(st.characters() | _surrogates, max_size=max_size)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 1, 2, 128, 129, 2**63, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts(12)
    | st.sampled_from(
        ["", "echo", "user", "system", "assistant", "text", "\x00", "🙂", "\ud800", "\udfff"]
    )
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(8), inner, max_size=4),
    max_leaves=12,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "developer", "tool", "x"]),
            "content": texts(30)
            | st.none()
            | st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": texts(10)}),
                max_size=3,
            )
            | json_values,
        }
    ),
    max_size=4,
)


def _near_valid(chat: bool, model: str) -> st.SearchStrategy[dict[str, Any]]:
    base: dict[str, Any] = {"model": model, "max_tokens": 4}
    base |= {"messages": [{"role": "user", "content": "hi"}]} if chat else {"prompt": "hi"}
    replaced: st.SearchStrategy[dict[str, Any]] = st.just({}) | st.dictionaries(
        st.sampled_from(FIELDS), json_values, max_size=3
    )
    plausible = st.fixed_dictionaries(
        {},
        optional={
            "messages": messages,
            "prompt": texts(30) | st.lists(texts(10), max_size=4),
            "n": st.integers(1, 4) | st.integers(-2, 140),
            "temperature": st.floats(0, 2) | st.floats(-1, 3),
            "top_p": st.floats(0.01, 1) | st.floats(-0.5, 1.5),
            "max_tokens": st.integers(1, 8) | st.integers(-2, 40),
            "stop": texts(5) | st.lists(texts(5), max_size=20),
            "model": st.just(model) | texts(8),
            "user": texts(8),
            "seed": st.integers(-(2**64), 2**64),
            "stream": st.booleans(),
            "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
        },
    )
    dropped: st.SearchStrategy[list[str]] = st.just([]) | st.lists(
        st.sampled_from(sorted(base)), max_size=2
    )

    def mutate(replace: dict[str, Any], tweak: dict[str, Any], drop: list[str]) -> dict[str, Any]:
        body = {**base, **tweak, **replace}
        for key in drop:
            body.pop(key, None)
        return body

    return st.builds(mutate, replaced, plausible, dropped)


def _encode(value: Any, literal: bool) -> bytes:
    """JSON with every character outside ASCII escaped (``\\ud800``), or written as UTF-8
    with surrogates as their three bytes (which ``json.loads`` decodes to surrogates too)."""
    if literal:
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    return json.dumps(value).encode()


def bodies(model: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """(path, body) pairs: near-valid requests of both kinds, any JSON, or arbitrary bytes."""
    paths = st.sampled_from(["/v1/chat/completions", "/v1/completions"])
    near = st.one_of(
        _near_valid(True, model).map(lambda b: ("/v1/chat/completions", b)),
        _near_valid(False, model).map(lambda b: ("/v1/completions", b)),
    )
    encoded = st.builds(
        lambda pair, literal: (pair[0], _encode(pair[1], literal)), near, st.booleans()
    )
    anything = st.tuples(paths, json_values.map(lambda v: json.dumps(v).encode()))
    garbage = st.tuples(paths, st.binary(max_size=64))
    return st.one_of(encoded, encoded, anything, garbage)


raw_requests = st.builds(
    lambda method, target, version, headers, body: (
        f"{method} {target} {version}\r\n".encode("latin-1", "replace")
        + b"".join(h + b"\r\n" for h in headers)
        + b"\r\n"
        + body
    ),
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "G T", "", "POST\x00"]) | st.text(max_size=6),
    st.sampled_from(["/v1/models", "/v1/completions", "/v1/chat/completions", "*", "//", ""])
    | st.text(max_size=20),
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "", "http/1.1"]),
    st.lists(
        st.sampled_from(
            [
                b"Content-Length: 5",
                b"Content-Length: -3",
                b"Content-Length: 99999999999999999999",
                b"Transfer-Encoding: chunked",
                b"Expect: 100-continue",
                b"Connection: close",
                b"Authorization: Bearer x",
                b": empty name",
                b"bad header",
            ]
        )
        | st.binary(max_size=30),
        max_size=4,
    ),
    st.binary(max_size=40),
)


@dataclass
class Prober:
    """Sends requests to a server at ``host:port`` and reports what came back."""

    host: str
    port: int
    api_key: str | None = None
    timeout_s: float = 30.0

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def raw(self, data: bytes) -> bytes:
        """Send bytes and read the answer until the server closes the connection.

        The connection is not half-closed (aiohttp, like most servers, drops a client that
        shuts its side), so the server must close it itself: after an error, or once the
        connection has been idle for the server's idle timeout. A server that never does
        fails the test with a socket timeout after ``timeout_s``.
        """
        with socket.create_connection((self.host, self.port), timeout=self.timeout_s) as sock:
            # Closed on the server's side mid-send: what it answered is still read.
            with suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            chunks = []
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except ConnectionResetError:
                pass  # closed with unread data on the server's side: a reset, after the answer
        return b"".join(chunks)

    def alive(self) -> bool:
        status, _ = self.get("/v1/models")
        return status == 200

    def get(self, path: str) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


def check_answer(status: int, body: bytes, sent: bytes | None = None) -> None:
    """A client's request is answered with 200 or an OpenAI-style 4xx error, never a 5xx.

    With the body ``sent``: a JSON object holding a lone surrogate anywhere (a key or a value)
    is answered 400 ``invalid_unicode``, naming where.
    """
    assert status < 500, (status, body[:300])
    if sent is not None and (where := lone_surrogate(sent)) is not None:
        error = json.loads(body)["error"]
        assert (status, error["code"]) == (400, "invalid_unicode"), (status, body[:300])
        assert error["message"].startswith(f"{where}: "), (where, error["message"])
        return
    if status >= 400:
        error = json.loads(body)["error"]
        assert isinstance(error["message"], str) and error["message"]
    elif body.startswith(b"data: "):
        assert body.endswith(b"data: [DONE]\n\n")
    else:
        assert json.loads(body)["choices"]


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(sent: bytes) -> str | None:
    """Where (``messages.0.content``) the first lone surrogate of a JSON object body is, by
    the server's escaping of the location; None when it holds none or is not an object."""
    try:
        value = json.loads(sent)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return _first_surrogate(value, ())


def _first_surrogate(value: Any, location: tuple[str, ...]) -> str | None:
    if isinstance(value, str):
        return _where(location) if _SURROGATE.search(value) else None
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key in value:
            if _SURROGATE.search(key):
                return _where((*location, key))
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [(str(index), item) for index, item in enumerate(value)]
    for key, item in pairs:
        if (found := _first_surrogate(item, (*location, key))) is not None:
            return found
    return None


def _where(location: tuple[str, ...]) -> str:
    return ".".join(location).encode("utf-8", "backslashreplace").decode()


STATUS_LINE = re.compile(rb"HTTP/\d\.\d (\d{3}) ")


def statuses(data: bytes) -> list[int]:
    """The statuses of the answers in raw bytes read from a connection."""
    return [int(m.group(1)) for m in STATUS_LINE.finditer(data) if _line_start(data, m.start())]


def _line_start(data: bytes, position: int) -> bool:
    return position == 0 or data[position - 2 : position] == b"\r\n"


def check_raw_answer(data: bytes) -> None:
    """Raw HTTP: status lines (never a 500: 501 and 505 are HTTP's answers to a transfer
    coding or a version not implemented) or a clean close with nothing written."""
    if not data:
        return
    assert STATUS_LINE.match(data), data[:100]
    assert 500 not in statuses(data), data[:300]


# -- framings: a body's length announced, chunked, or framed wrongly ------------------------

#: The body every framing carries: a valid request to the echo engine.
FRAMED_BODY = json.dumps({"model": "echo", "prompt": "framed", "max_tokens": 4}).encode()


@dataclass(frozen=True)
class Framed:
    """Raw bytes of one request, and whether the framing is valid HTTP/1.1 (then the body
    must arrive whole: the echo engine answers 200 with ``framed#...``)."""

    data: bytes
    valid: bool


def _head(key: str, lines: list[bytes]) -> bytes:
    head = [
        b"POST /v1/completions HTTP/1.1",
        b"Host: test",
        f"Authorization: Bearer {key}".encode(),
    ]
    return b"\r\n".join([*head, *lines, b"Connection: close"]) + b"\r\n\r\n"


_BAD_LENGTHS = [
    "",
    "-1",
    "+30",
    "0x1f",
    "1e2",
    "\u0661\u0662",  # Arabic-Indic digits: isdigit() is true, int() of bytes is not
    "\u00b2",  # superscript two
    "9" * 30,
    "12, 13",
    "1 2",
    "abc",
]
_BAD_SIZES = [
    b"g",
    b"-5",
    b"+5",
    b"0x5",
    b"",
    b"F" * 30,
    "\u0665".encode(),
    b"5 5",
    b"5\x00",
]


@st.composite
def framed_requests(draw: st.DrawFn, key: str) -> Framed:
    """A request whose body is framed validly (length, chunks at random cuts, extensions,
    upper-case hex, trailers) or not (bad lengths, bad chunk sizes, a missing CRLF, both
    headers, an unknown transfer coding, a body shorter or longer than announced)."""
    body = FRAMED_BODY
    kind = draw(
        st.sampled_from(
            [
                "length",
                "chunked",
                "bad-length",
                "bad-size",
                "short",
                "long",
                "both",
                "coding",
                "crlf",
            ]
        )
    )
    if kind in ("length", "short", "long", "bad-length"):
        length = {"short": len(body) + 7, "long": len(body) - 5}.get(kind, len(body))
        text = draw(st.sampled_from(_BAD_LENGTHS)) if kind == "bad-length" else str(length)
        line = b"Content-Length: " + text.encode()
        return Framed(_head(key, [line]) + body, valid=kind == "length")
    if kind in ("both", "coding"):
        lines = [b"Transfer-Encoding: chunked", f"Content-Length: {len(body)}".encode()]
        if kind == "coding":
            coding = draw(
                st.sampled_from(["gzip", "chunked, gzip", "identity", "chunked, chunked"])
            )
            lines = [f"Transfer-Encoding: {coding}".encode()]
        return Framed(_head(key, lines) + _chunks(draw, body), valid=False)
    chunked = _chunks(draw, body, bad_size=kind == "bad-size", no_crlf=kind == "crlf")
    return Framed(_head(key, [b"Transfer-Encoding: chunked"]) + chunked, valid=kind == "chunked")


def _chunks(
    draw: st.DrawFn, body: bytes, *, bad_size: bool = False, no_crlf: bool = False
) -> bytes:
    cuts = sorted(draw(st.lists(st.integers(1, len(body) - 1), max_size=5, unique=True)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    spoiled = draw(st.integers(0, len(pieces) - 1))
    out = b""
    for index, piece in enumerate(pieces):
        size = format(len(piece), draw(st.sampled_from(["x", "X", "03x"]))).encode()
        if bad_size and index == spoiled:
            size = draw(st.sampled_from(_BAD_SIZES))
        extension = draw(st.sampled_from([b"", b";a=1", b";name", b';a="q s";b=2']))
        end = b"" if no_crlf and index == spoiled else b"\r\n"
        out += size + extension + b"\r\n" + piece + end
    trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n"]))
    return out + b"0\r\n" + trailer + b"\r\n"


#: Header names whose value changes how a request is read or answered.
_FRAMING_NAMES = {
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "expect",
    "host",
    "transfer-encoding",
    "upgrade",
}
_benign_lines = st.builds(
    lambda name, value: name + b": " + value,
    st.from_regex(rb"[A-Za-z][A-Za-z0-9-]{0,19}", fullmatch=True).filter(
        lambda name: name.decode().lower() not in _FRAMING_NAMES
    ),
    st.from_regex(rb"[!-~]([ -~]{0,38}[!-~])?", fullmatch=True) | st.just(b""),
)
_hostile_lines = st.sampled_from(
    [
        b"Authorization: Bearer wrong",
        b"Authorization:",
        b"Authorization: Basic dXNlcjpwYXNz",
        b"Expect: 100-continue",
        b"Expect: teapot",
        b"Connection: upgrade",
        b"Upgrade: websocket",
        b"Upgrade: h2c",
        b"Content-Encoding: gzip",
        b"Content-Encoding: br",
        b"Content-Type: text/plain",
        b"Content-Type: multipart/form-data; boundary=x",
        b"Host: other",
        b"Transfer-Encoding: identity",
        b"X-Forwarded-For: 10.0.0.1",
        b"Name\x00: value",
        "X-Utf8: caf\u00e9".encode(),
        b"X-Latin1: caf\xe9",
        b"X-Obs-Fold: a\r\n b",
        b" leading-space: x",
        b"trailing-space : x",
        b"X-Long: " + b"v" * 9000,
    ]
) | st.binary(max_size=40).filter(lambda line: b"\r\n" not in line)


@dataclass(frozen=True)
class Headed:
    """Raw bytes of a valid request with extra header lines; ``benign`` when none of them may
    change how it is read (then it must be answered 200)."""

    data: bytes
    benign: bool


@st.composite
def headed_requests(draw: st.DrawFn, key: str) -> Headed:
    """A valid, authorized completion request carrying extra header lines: ordinary ones, or
    ones that have tripped servers (a second key, upgrades, encodings, NULs, folding, bytes
    outside ASCII, a line over the header size limit)."""
    benign = draw(st.booleans())
    lines = draw(st.lists(_benign_lines if benign else _benign_lines | _hostile_lines, max_size=6))
    head = _head(key, [*lines, f"Content-Length: {len(FRAMED_BODY)}".encode()])
    return Headed(head + FRAMED_BODY, benign)


def check_framed_answer(framed: Framed, data: bytes) -> None:
    """A valid framing is answered 200 with the whole body read; any other with an error
    status or a clean close; never a 500."""
    check_raw_answer(data)
    if framed.valid:
        assert statuses(data) == [200], data[:300]
        assert b'"text": "framed#' in data, data[-300:]


# -- the server's log ------------------------------------------------------------------------


@dataclass
class LogWatch:
    """Every log record of the process while watching (all levels, all threads)."""

    records: list[logging.LogRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def problems(self) -> list[str]:
        """Records with a traceback or at ERROR and above: a request must cause neither."""
        with self.lock:
            return [
                f"{r.name} {r.levelname}: {r.getMessage()}"
                for r in self.records
                if r.exc_info or r.exc_text or r.levelno >= logging.ERROR
            ]

    def clear(self) -> None:
        with self.lock:
            self.records.clear()


@contextmanager
def watching_logs() -> Iterator[LogWatch]:
    watch = LogWatch()

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with watch.lock:
                watch.records.append(record)

    handler = Collect(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield watch
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
