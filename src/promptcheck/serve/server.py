"""Loading a checkpoint for serving, and running the server: in the foreground until a signal
(``promptcheck serve``), or on a background thread (tests, benchmarks, notebooks).

The model is loaded through the ``local`` backend, so a checkpoint is served exactly as a suite
samples it: same loader, same prompt formats, same sampler and seeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from promptcheck.backends.base import BackendContext
from promptcheck.serve.app import OpenAIApp
from promptcheck.serve.batching import BatchingEngine
from promptcheck.serve.completions import Engine
from promptcheck.serve.connections import ConnectionLimit
from promptcheck.serve.limits import MAX_HEADERS, MAX_LINE_BYTES, SHUTDOWN_GRACE_S, ServerLimits


@dataclass(frozen=True)
class ModelOptions:
    """How to load the served checkpoint (the ``local`` backend's settings of the same names)."""

    format: Literal["auto", "dolly", "chat", "raw"] = "auto"
    device: str = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    max_batch_size: int = 64
    #: torch's intra-op threads (process-wide); None keeps torch's default (one per core).
    #: Small models on a busy machine run far faster on one thread: every parallel operation
    #: waits for all its threads to be scheduled.
    threads: int | None = None


def load_engine(
    directory: Path, options: ModelOptions | None = None, *, model_id: str | None = None
) -> BatchingEngine:
    """Load ``directory`` and wrap it for serving; raises BackendError like the local backend."""
    from promptcheck.backends.local import LocalBackend, LocalParams, build_local
    from promptcheck.backends.prompting import PromptFormat

    options = options or ModelOptions()
    if options.threads is not None:
        import torch

        torch.set_num_threads(options.threads)
    params = LocalParams(
        path=str(directory),
        format=options.format,
        device=options.device,
        dtype=options.dtype,
        max_batch_size=options.max_batch_size,
    )
    chat = build_local(params, BackendContext(base_dir=Path.cwd()))
    assert isinstance(chat, LocalBackend)
    # /v1/completions takes text as it is, but still ends where the checkpoint's format ends
    # (Dolly's `### End` token), as a client rendering Dolly's format expects.
    raw_format = PromptFormat(chat.checkpoint.tokenizer, "raw", chat.prompt_format.stop_token_ids)
    raw = LocalBackend(params, chat.checkpoint, raw_format, chat.sampler)
    return BatchingEngine(chat, raw, model_id=model_id or Path(directory).resolve().name)


class OpenAIServer:
    """The API over one engine, served by aiohttp on the running event loop.

    aiohttp's runner is given the limits: the keep-alive timeout (which also bounds how long a
    client may take to send a request head: aiohttp closes a connection waiting for one when it
    runs out), handler cancellation (a departed client's handler is cancelled, and with it its
    sampling), no lingering over unread bodies. Connections reach it through a
    :class:`ConnectionLimit`.
    """

    def __init__(
        self,
        engine: Engine[Any],
        *,
        api_key: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        self.engine = engine
        self.limits = limits or ServerLimits()
        self.app = OpenAIApp(engine, api_key=api_key, limits=self.limits)
        self.connections = ConnectionLimit(self.limits.max_connections)
        self.app.health["connections"] = self.connections.as_dict
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen; returns the API's base URL (``http://host:port/v1``)."""
        application = self.app.application(middlewares=[self.connections.middleware])
        self._runner = web.AppRunner(
            application,
            handler_cancellation=True,
            keepalive_timeout=self.limits.idle_timeout_s,
            lingering_time=0,
            auto_decompress=False,  # a compressed body could inflate far past max_body_bytes
            shutdown_timeout=SHUTDOWN_GRACE_S,
            max_line_size=MAX_LINE_BYTES,
            max_field_size=MAX_LINE_BYTES,
            max_headers=MAX_HEADERS,
            access_log=None,
            logger=_QuietClientErrors(logging.getLogger("promptcheck.serve.http"), {}),
        )
        await self._runner.setup()
        self.connections.factory = self._runner.server
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self.connections, host, port)
        bound_host, bound_port = self._listener.sockets[0].getsockname()[:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}/v1"
        return self.url

    async def aclose(self) -> None:
        """Stop listening, give requests being answered a moment, then end every connection."""
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._listener is not None:
            await self._listener.wait_closed()


class _QuietClientErrors(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server log, where a request a client got wrong (malformed HTTP, answered with
    a 4xx) or a client that left is one line at INFO, without a traceback: those are the
    client's doing, and anyone who can connect could fill the log with them."""

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        problem = kwargs.get("exc_info")
        if isinstance(problem, HttpProcessingError | ConnectionError):
            kwargs.pop("exc_info")
            text = str(msg) % args if args else str(msg)
            super().log(min(level, logging.INFO), "%s: %s", text, _one_line(problem), **kwargs)
            return
        super().log(level, msg, *args, **kwargs)


def _one_line(exc: BaseException) -> str:
    """What went wrong, without what the client sent: aiohttp quotes the offending line below
    its first, and that line may be an ``Authorization`` header."""
    text = str(getattr(exc, "message", "") or exc or type(exc).__name__)
    return text.strip().split("\n", 1)[0][:200]


async def serve_until_stopped(
    server: OpenAIServer,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop`` is set); ``ready`` gets the URL once listening."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    url = await server.start(host, port)
    ready(url)
    try:
        await stop.wait()
    finally:
        await server.aclose()


class BackgroundServer:
    """A server on its own event loop in a daemon thread: ``with BackgroundServer(e) as url:``.

    The engine must be built for this server alone (its scheduler binds to the thread's loop).
    """

    def __init__(
        self,
        engine: Engine[Any],
        *,
        api_key: str | None = None,
        limits: ServerLimits | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.server = OpenAIServer(engine, api_key=api_key, limits=limits)
        self.host = host
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="promptcheck-serve", daemon=True
        )

    def __enter__(self) -> str:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            self.server.start(self.host, self.port), self._loop
        )
        return started.result(timeout=30)

    def __exit__(self, *exc: object) -> None:
        closing = asyncio.run_coroutine_threadsafe(self.server.aclose(), self._loop)
        closing.result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()
