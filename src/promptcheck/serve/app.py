"""The HTTP side of ``promptcheck serve``'s OpenAI-compatible API, on aiohttp's web server:
routes, the API key, bodies read within limits, errors in OpenAI's shape, streamed answers.

Order matters for a server anyone can reach. The key is checked from the request head before
any of the body is read (for ``Expect: 100-continue`` too, before the client is told to send
it); a body announced over the size limit is refused from its ``Content-Length``; a body must
arrive within a time limit. Only then is it parsed, and its prompts tokenized off the event
loop (:meth:`~promptcheck.serve.batching.BatchingEngine.prepare`). A handler whose client
leaves is cancelled (aiohttp's ``handler_cancellation``), which cancels its sampling.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from promptcheck.serve.auth import authorized, check_api_key
from promptcheck.serve.completions import Completions, Engine, Reply, model_not_found
from promptcheck.serve.limits import ServerLimits
from promptcheck.serve.protocol import APIError, parse_json

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger("promptcheck.serve")

COMPLETIONS = "/v1/completions"
CHAT = "/v1/chat/completions"


class OpenAIApp:
    """The API over one engine, as an aiohttp application (:meth:`application`).

    ``api_key`` None serves without a key (the command allows it on loopback only); an empty
    key is refused, never taken for "no key".
    """

    def __init__(
        self,
        engine: Engine[Any],
        *,
        api_key: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        if api_key is not None:
            check_api_key(api_key)
        self.engine = engine
        self.limits = limits or ServerLimits()
        self.completions = Completions(engine, max_prompt_chars=self.limits.max_prompt_chars)
        self._api_key = api_key.encode() if api_key is not None else None
        self.created = int(time.time())
        #: Extra counters for ``GET /health`` (the server adds its connections').
        self.health: dict[str, Callable[[], dict[str, int]]] = {}

    def application(self, middlewares: Sequence[Middleware] = ()) -> web.Application:
        """The routes; ``middlewares`` run inside the error handling, before the key check."""
        app = web.Application(
            client_max_size=self.limits.max_body_bytes,
            middlewares=[self._errors, *middlewares, self._authenticate],
        )
        app.router.add_get("/health", self._health)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/v1/models/{name:.+}", self._model)
        app.router.add_post(COMPLETIONS, self._completions, expect_handler=self._expect)
        app.router.add_post(CHAT, self._chat, expect_handler=self._expect)
        app.on_response_prepare.append(_server_header)
        return app

    # -- handlers ------------------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.StreamResponse:
        stats: dict[str, object] = {}
        as_dict = getattr(getattr(self.engine, "stats", None), "as_dict", None)
        if callable(as_dict):
            stats["stats"] = as_dict()
        for name, counters in self.health.items():
            stats[name] = counters()
        return _json(200, {"status": "ok", "model": self.engine.model_id, **stats})

    async def _models(self, request: web.Request) -> web.StreamResponse:
        return _json(200, {"object": "list", "data": [self._model_card()]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name != self.engine.model_id:
            raise model_not_found(name)
        return _json(200, self._model_card())

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        reply = await self.completions.completions(await self._body(request))
        return await _send(request, reply, self.limits.idle_timeout_s)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        reply = await self.completions.chat(await self._body(request))
        return await _send(request, reply, self.limits.idle_timeout_s)

    def _model_card(self) -> dict[str, object]:
        return {
            "id": self.engine.model_id,
            "object": "model",
            "created": self.created,
            "owned_by": "promptcheck",
        }

    # -- what is checked before a body is read -------------------------------------------------

    @web.middleware
    async def _authenticate(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/health" and request.match_info.http_exception is None:
            self._check_key(request)
        return await handler(request)

    async def _expect(self, request: web.Request) -> web.StreamResponse | None:
        """``Expect: 100-continue``: the key and the announced size are checked before the
        client is told to send its body (aiohttp calls this before any middleware)."""
        try:
            self._check_key(request)
            self._check_length(request)
            if request.headers.get("Expect", "").lower() != "100-continue":
                raise APIError(417, "only `Expect: 100-continue` is understood")
        except APIError as error:
            return _error(error)
        if request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the answer proper has not begun
        return None

    def _check_key(self, request: web.Request) -> None:
        if self._api_key is not None and not authorized(
            request.headers.get("Authorization"), self._api_key
        ):
            # The key a client sent is never echoed back or logged.
            raise APIError(401, "invalid or missing API key", code="invalid_api_key")

    def _check_length(self, request: web.Request) -> None:
        length = request.content_length
        if length is not None and length > self.limits.max_body_bytes:
            raise _too_large(self.limits.max_body_bytes)

    async def _body(self, request: web.Request) -> dict[str, Any]:
        """The JSON body, read within the size and time limits."""
        self._check_length(request)
        try:
            async with asyncio.timeout(self.limits.body_timeout_s):
                raw = await request.read()
        except TimeoutError:
            raise APIError(
                408,
                f"the body did not arrive within {self.limits.body_timeout_s:g} s",
                code="request_timeout",
            ) from None
        except web.HTTPRequestEntityTooLarge:
            raise _too_large(self.limits.max_body_bytes) from None
        except web.RequestPayloadError as exc:  # malformed chunked encoding, a short body
            raise APIError(400, f"the body could not be read: {exc}") from None
        return parse_json(raw)

    # -- errors ----------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every error answered in OpenAI's shape; a bug is a logged 500, never a dead server."""
        try:
            return await handler(request)
        except APIError as error:
            return _error(error)
        except web.HTTPException as exc:  # the router's 404 and 405
            return _error(_routing_error(exc, request))
        except ConnectionError:
            raise  # the client left: aiohttp lets the connection go quietly
        except Exception:
            log.exception("handler failed on %s %s", request.method, request.path)
            return _error(APIError(500, "internal server error"))


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """Name the server without its versions (aiohttp's default names Python's and its own)."""
    response.headers["Server"] = "promptcheck"


def _routing_error(exc: web.HTTPException, request: web.Request) -> APIError:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods - {"HEAD"}))
        message = f"{request.path} takes {allowed}, not {request.method}"
        return APIError(405, message, code="method_not_allowed")
    if exc.status == 404:
        return APIError(404, f"unknown URL: {request.method} {request.path}", code="unknown_url")
    return APIError(exc.status, exc.reason)


def _too_large(limit: int) -> APIError:
    return APIError(413, f"the body is over {limit} bytes", code="request_too_large")


def _error(error: APIError) -> web.Response:
    response = web.Response(status=error.status, body=error.body(), content_type="application/json")
    if error.status in (408, 413):  # the rest of the body is not worth reading
        response.force_close()
    return response


def _json(status: int, data: object) -> web.Response:
    return web.Response(
        status=status, body=json.dumps(data).encode(), content_type="application/json"
    )


async def _send(request: web.Request, reply: Reply, timeout_s: float) -> web.StreamResponse:
    """Write a reply: whole, or its events as they come (chunked server-sent events).

    Every write must be taken by the client within ``timeout_s``: one that stops reading is
    dropped (its connection aborted, its rows ended) rather than left holding the connection
    and its answer in memory.
    """
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    if reply.events is None:
        response.content_length = len(reply.body)
        pieces: AsyncIterator[bytes] = _once(reply.body)
    else:
        response.headers.update({"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        pieces = reply.events
    try:
        async with asyncio.timeout(timeout_s):
            await response.prepare(request)
        async for piece in pieces:
            async with asyncio.timeout(timeout_s):
                await response.write(piece)
        async with asyncio.timeout(timeout_s):
            await response.write_eof()
    except TimeoutError:
        log.info(
            "a client stopped reading its answer for %g s; its connection is dropped", timeout_s
        )
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass  # the client left mid-answer: closing the events below ends its rows
    finally:
        if reply.events is not None:
            await reply.events.aclose()
    return response


async def _once(body: bytes) -> AsyncIterator[bytes]:
    yield body
