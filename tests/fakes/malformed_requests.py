"""Hypothesis strategies for requests a careless or hostile client might send the server, and
a client that sends them and checks the one promise: never a 500, always an answer or a clean
close, and the server still serving afterwards.

Bodies are mostly *near-valid*: a valid request with some fields replaced by arbitrary JSON, or
dropped, since a purely random body stops at the first check and never reaches the deep ones.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
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

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([0, -1, 1, 2, 128, 129, 2**63, -(2**63) - 1, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "echo", "user", "system", "assistant", "text", "\x00", "🙂"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
messages = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.sampled_from(["system", "user", "assistant", "developer", "tool", "x"]),
            "content": st.text(max_size=30)
            | st.none()
            | st.lists(
                st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=10)}),
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
            "prompt": st.text(max_size=30) | st.lists(st.text(max_size=10), max_size=4),
            "n": st.integers(1, 4) | st.integers(-2, 140),
            "temperature": st.floats(0, 2) | st.floats(-1, 3),
            "top_p": st.floats(0.01, 1) | st.floats(-0.5, 1.5),
            "max_tokens": st.integers(1, 8) | st.integers(-2, 40),
            "stop": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=20),
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


def bodies(model: str) -> st.SearchStrategy[tuple[str, bytes]]:
    """(path, body) pairs: near-valid requests of both kinds, any JSON, or arbitrary bytes."""
    paths = st.sampled_from(["/v1/chat/completions", "/v1/completions"])
    near = st.one_of(
        _near_valid(True, model).map(lambda b: ("/v1/chat/completions", b)),
        _near_valid(False, model).map(lambda b: ("/v1/completions", b)),
    )
    encoded = near.map(lambda pair: (pair[0], json.dumps(pair[1]).encode()))
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
        """Send bytes, half-close, read the answer until the server closes."""
        with socket.create_connection((self.host, self.port), timeout=self.timeout_s) as sock:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
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


def check_answer(status: int, body: bytes) -> None:
    """A client's request is answered with 200 or an OpenAI-style 4xx error, never a 5xx."""
    assert status < 500, (status, body[:300])
    if status >= 400:
        error = json.loads(body)["error"]
        assert isinstance(error["message"], str) and error["message"]
    elif body.startswith(b"data: "):
        assert body.endswith(b"data: [DONE]\n\n")
    else:
        assert json.loads(body)["choices"]


def check_raw_answer(data: bytes) -> None:
    """Raw HTTP: a status line (never 500) or a clean close with nothing written."""
    if not data:
        return
    assert data.startswith(b"HTTP/1.1 "), data[:100]
    statuses = [
        int(line.split(b" ")[1]) for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")
    ]
    assert 500 not in statuses, data[:300]
