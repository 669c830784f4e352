"""A fake Anthropic Messages API that answers by script and injects faults on purpose.

The faults are the OpenAI fake's (:mod:`fakes.openai_server`, whose HTTP/1.1 and fault plans
this reuses): an HTTP status (429 with retry-after, 500, 529 ``overloaded_error``), a dropped
connection, an answer slower than the client's timeout, a garbage body, a verbatim answer. What
differs is the API: ``POST /v1/messages`` with the key (in ``x-api-key``, or as a bearer token as
anthropic 2.x sends it) and an ``anthropic-version`` header (401 and 400 otherwise), errors shaped
``{"type": "error", "error": {"type", "message"}}``, and answers made of content blocks.

An answer is a text, or a list of content blocks (``{"type": "tool_use", "name", "input"}``)
for tool calls. Run it in a thread (:func:`fake_anthropic_server`) or as a process
(``python tests/fakes/anthropic_server.py --latency-ms 50``) for the benchmarks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the fakes package

from fakes.openai_server import OK, FakeOpenAI, FakeServerThread, Fault

__all__ = ["OK", "FakeAnthropic", "Fault", "fake_anthropic_server"]

#: Error types of the Messages API by status.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

#: What the server answers: the text of a sample, or its content blocks.
Blocks = Callable[[dict[str, Any], int], str | list[dict[str, Any]]]


def default_blocks(body: dict[str, Any], index: int) -> str:
    return "GOOD"


@dataclass
class FakeAnthropic(FakeOpenAI):
    """The server; ``plan(body, attempt)`` chooses each call's fault, ``answer`` its content.

    ``key`` is the API key calls must carry (None: any key, or none).
    """

    answer: Blocks = default_blocks  # type: ignore[assignment]
    key: str | None = None

    @property
    def url(self) -> str:
        """The API root, as the client's ``base_url`` takes it (without /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def _error(self, status: int, message: str, code: str | None) -> dict[str, Any]:
        kind = code or ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}

    def _refusal(
        self, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[int, str] | None:
        if path != "/v1/messages":
            return 404, f"no such endpoint: {path}"
        sent = {headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer ")}
        if self.key is not None and self.key not in sent:
            return 401, "invalid x-api-key"
        if "anthropic-version" not in headers:
            return 400, "anthropic-version: header is required"
        return None

    def _invalid(self, body: dict[str, Any]) -> str | None:
        for name in ("model", "max_tokens", "messages"):
            if name not in body:
                return f"{name}: Field required"
        if any(m.get("role") not in ("user", "assistant") for m in body["messages"]):
            return "messages: roles are user and assistant (the system prompt is `system`)"
        if "n" in body or "seed" in body:
            return "n, seed: Extra inputs are not permitted"
        return None

    def _completion(self, path: str, body: dict[str, Any], fault: Fault) -> dict[str, Any]:
        answer = self.answer(body, 0)
        blocks = [{"type": "text", "text": answer}] if isinstance(answer, str) else answer
        calls = [block for block in blocks if block.get("type") == "tool_use"]
        for number, call in enumerate(calls):
            call.setdefault("id", f"toolu_fake_{len(self.calls)}_{number}")
        words = len(json.dumps([body.get("system"), body["messages"]]).split())
        return {
            "id": f"msg_fake_{len(self.calls)}",
            "type": "message",
            "role": "assistant",
            "model": self.served_model or body.get("model", "fake"),
            "content": blocks,
            "stop_reason": "tool_use" if calls else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": words, "output_tokens": len(blocks)},
        }


@contextlib.contextmanager
def fake_anthropic_server(**settings: Any) -> Iterator[FakeAnthropic]:
    server = FakeAnthropic(**settings)
    with FakeServerThread(server):
        yield server


def main() -> None:
    """``--latency-ms N --port P``: serve until killed; prints the URL once listening."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def run() -> None:
        server = FakeAnthropic(latency_s=args.latency_ms / 1000)
        await server.start(args.port)
        print(server.url, flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
