"""A fake OpenAI-compatible server that answers by script and injects faults on purpose.

Faults: an HTTP status (429 with Retry-After, 500, 503 ...), a dropped connection (the socket is
closed with no answer), a slow answer (past the client's timeout), a garbage body, fewer choices
than ``n``. A plan picks the fault of every call from the request body and the number of earlier
calls with the same body, so a retried request meets the plan's next step whatever the order in
which concurrent requests arrive.

An answer is a text, or a whole assistant message (``{"content": None, "tool_calls": [...]}``)
for tool calls. As Azure OpenAI (``azure_api_version``), it serves only Azure's URL shape,
``/openai/deployments/{deployment}/chat/completions?api-version=...``; ``auth`` names headers a
call must carry (``{"api-key": KEY}``), or it is answered 401 as Azure and OpenAI do.

Its HTTP/1.1 (Content-Length bodies, keep-alive) is its own few lines, independent of
``promptcheck serve``'s, so the backend's tests do not lean on the server they also test. Run it
in a thread (:class:`FakeServerThread`) next to a client on another event loop, or as a process
(``python tests/fakes/openai_server.py --latency-ms 50``) for the benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class Fault:
    """What the server does with one call; ``Fault()`` answers normally."""

    status: int = 200
    retry_after: str | None = None
    drop: bool = False
    delay_s: float = 0.0
    garbage: bool = False
    choices: int | None = None  # answer this many choices whatever ``n`` asked for
    message: str | None = None  # the error's message (an HTTP status other than 200)
    code: str | None = None  # the error's code (``insufficient_quota``)
    answer: dict[str, Any] | None = None  # this JSON, verbatim, instead of a completion
    headers: dict[str, str] | None = None  # more response headers (x-should-retry)


OK = Fault()
Plan = Callable[[dict[str, Any], int], Fault]


@dataclass
class Call:
    """One request the server received, when, and what it did about it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float
    attempt: int
    fault: Fault
    query: dict[str, str] = field(default_factory=dict)


#: What the server answers: the text of choice ``index``, or the assistant message itself.
Answer = Callable[[dict[str, Any], int], str | dict[str, Any]]


def default_answer(body: dict[str, Any], index: int) -> str:
    return "GOOD"


AZURE_PATH = re.compile(r"^/openai/deployments/([^/]+)(/chat/completions|/completions)$")


@dataclass
class FakeOpenAI:
    """The server; ``plan(body, attempt)`` chooses each call's fault (attempt 0 is the first)."""

    plan: Plan = lambda body, attempt: OK
    answer: Answer = default_answer
    latency_s: float = 0.0
    honour_n: bool = True
    auth: dict[str, str] | None = None
    azure_api_version: str | None = None
    #: The model id answers name (default: the model asked for) and their system fingerprint
    #: (default: none); a test changes them between runs to play a provider's silent update.
    served_model: str | None = None
    system_fingerprint: str | None = None
    calls: list[Call] = field(default_factory=list)
    _seen: Counter[str] = field(default_factory=Counter)
    _server: asyncio.Server | None = None
    _connections: set[asyncio.Task[None]] = field(default_factory=set)
    port: int = 0
    in_flight: int = 0
    most_in_flight: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root(self) -> str:
        """The server's address without a path (Azure's ``endpoint``)."""
        return f"http://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        task.add_done_callback(self._connections.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if not await self._respond(method, target, headers, body, writer):
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        except asyncio.CancelledError:
            pass  # closing: re-raising trips Python 3.11's start_server callback
        finally:
            writer.close()

    async def _respond(
        self,
        method: str,
        target: str,
        headers: dict[str, str],
        raw: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Answer one call; False when the connection is to be dropped."""
        path, _, query_text = target.partition("?")
        query = dict(parse_qsl(query_text))
        if method == "GET" and path.endswith("/models"):
            data = {"object": "list", "data": [{"id": "fake", "object": "model"}]}
            await _write(writer, 200, json.dumps(data).encode())
            return True
        refusal = self._refusal(path, query, headers)
        if refusal is not None:
            status, message = refusal
            await _write(writer, status, json.dumps(self._error(status, message, None)).encode())
            return True
        body = json.loads(raw or b"{}")
        problem = self._invalid(body)
        if problem is not None:
            await _write(writer, 400, json.dumps(self._error(400, problem, None)).encode())
            return True
        key = json.dumps(body, sort_keys=True)
        attempt = self._seen[key]
        self._seen[key] += 1
        fault = self.plan(body, attempt)
        self.calls.append(Call(path, body, headers, time.monotonic(), attempt, fault, query))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.latency_s or fault.delay_s:
                await asyncio.sleep(self.latency_s + fault.delay_s)
        finally:
            self.in_flight -= 1
        if fault.drop:
            writer.transport.abort()
            return False
        if fault.answer is not None:
            await _write(writer, 200, json.dumps(fault.answer).encode())
            return True
        if fault.garbage:
            await _write(writer, 200, b"<html>not json</html>")
            return True
        if fault.status != 200:
            message = fault.message or f"injected {fault.status}"
            error = self._error(fault.status, message, fault.code)
            extra = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            extra.update(fault.headers or {})
            await _write(writer, fault.status, json.dumps(error).encode(), extra)
            return True
        await _write(writer, 200, json.dumps(self._completion(path, body, fault)).encode())
        return True

    def _invalid(self, body: dict[str, Any]) -> str | None:
        """Why a request body is refused with a 400 (never, here: compatible servers are lax)."""
        return None

    def _error(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        """An error's body, in OpenAI's shape."""
        return {"error": {"message": message, "type": "fake", "code": code}}

    def _refusal(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str] | None:
        """The status and message a call gets before its body is read: a wrong key, a URL that
        is not Azure's shape; None to serve it."""
        for name, value in (self.auth or {}).items():
            if headers.get(name.lower()) != value:
                return 401, f"missing or wrong {name} header"
        if self.azure_api_version is not None:
            if AZURE_PATH.match(path) is None:
                return 404, f"not an Azure deployment path: {path}"
            if query.get("api-version") != self.azure_api_version:
                return 404, f"api-version {query.get('api-version')!r} is not served"
        return None

    def _completion(self, path: str, body: dict[str, Any], fault: Fault) -> dict[str, Any]:
        n = int(body.get("n") or 1)
        count = fault.choices if fault.choices is not None else (n if self.honour_n else 1)
        chat = path.endswith("/chat/completions")
        choices: list[dict[str, Any]] = []
        for index in range(count):
            answer = self.answer(body, index)
            if chat:
                message = {"role": "assistant", "content": answer}
                if isinstance(answer, dict):
                    message = {"role": "assistant", "content": None, **answer}
                reason = "tool_calls" if message.get("tool_calls") else "stop"
                choices.append({"index": index, "message": message, "finish_reason": reason})
            else:
                choices.append({"index": index, "text": answer, "finish_reason": "stop"})
        prompt = json.dumps(body.get("messages") or body.get("prompt"))
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": count,
            "total_tokens": len(prompt.split()) + count,
        }
        completion = {
            "id": f"fake-{len(self.calls)}",
            "object": "chat.completion" if chat else "text_completion",
            "created": int(time.time()),
            "model": self.served_model or body.get("model", "fake"),
            "choices": choices,
            "usage": usage,
        }
        if self.system_fingerprint is not None:
            completion["system_fingerprint"] = self.system_fingerprint
        return completion


async def _write(
    writer: asyncio.StreamWriter, status: int, body: bytes, headers: dict[str, str] | None = None
) -> None:
    lines = [f"HTTP/1.1 {status} Fake", "content-type: application/json"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"content-length: {len(body)}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


class FakeServerThread:
    """Runs a :class:`FakeOpenAI` on its own event loop in a daemon thread."""

    def __init__(self, server: FakeOpenAI) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(10)
        return self.server

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.aclose(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@contextlib.contextmanager
def fake_server(**settings: Any) -> Iterator[FakeOpenAI]:
    with FakeServerThread(FakeOpenAI(**settings)) as server:
        yield server


def main() -> None:
    """``--latency-ms N --port P``: serve until killed; prints the URL once listening."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--ignore-n", action="store_true", help="answer one choice whatever n")
    args = parser.parse_args()

    async def run() -> None:
        server = FakeOpenAI(latency_s=args.latency_ms / 1000, honour_n=not args.ignore_n)
        await server.start(args.port)
        print(server.url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
