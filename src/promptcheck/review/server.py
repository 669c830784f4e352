"""Running the review app: bind, say where, serve until stopped.

Loopback is the default bind, where only this machine's users can connect, and the app then
answers only requests addressed to loopback names (no DNS rebinding). Any other bind exposes the
store's prompts and outputs to the network, so it needs raters with tokens (a raters file or
``--rater``): a token is required for everything there is. The app speaks plain HTTP; put a TLS
proxy in front of it for anything beyond a trusted network.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
from collections.abc import Callable

from aiohttp import web

from promptcheck.review.app import Settings, build_app
from promptcheck.review.workspace import ReviewWorkspace


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def loopback_names(port: int) -> frozenset[str]:
    """The Host values a loopback-only server accepts."""
    return frozenset(f"{name}:{port}" for name in ("127.0.0.1", "localhost", "[::1]"))


async def serve(
    workspace: ReviewWorkspace,
    sock: socket.socket,
    host: str,
    ready: Callable[[str], None],
    stop: asyncio.Event | None = None,
) -> None:
    """Serve on ``sock`` until ``stop`` is set (by default: until SIGTERM, or Ctrl-C, which
    interrupts the caller); ``ready`` gets the base URL."""
    if stop is None:
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # no signals on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    port = int(sock.getsockname()[1])
    allowed = loopback_names(port) if is_loopback(host) else frozenset()
    runner = web.AppRunner(build_app(workspace, Settings(allowed)), access_log=None)
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        ready(base_url(host, port))
        await stop.wait()
    finally:
        await runner.cleanup()
