"""What ``promptcheck serve`` accepts from clients, and for how long it waits on them: the one
home of the server's limits and their defaults (``promptcheck serve --help`` and
docs/security-serve.md describe them).

Every limit bounds what one client can make the server hold: a socket, bytes of a request,
time on the event loop, characters to tokenize. A client over a limit gets a 4xx (or, for a
connection over the cap while every other one is busy, a 503) and the server goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from promptcheck.errors import ConfigError

#: Longest request line and header line, and most header lines, a request may have (aiohttp's
#: defaults, stated here so that they are a decision: OpenAI clients send a few short headers).
MAX_LINE_BYTES = 8190
MAX_HEADERS = 128
#: Requests still being answered when the server stops get this long to finish.
SHUTDOWN_GRACE_S = 5.0
#: ``Retry-After`` of the 503 that refuses a connection over the cap.
RETRY_AFTER_S = 1


@dataclass(frozen=True)
class ServerLimits:
    """The limits of one server (``promptcheck serve --max-connections`` and so on)."""

    #: Open connections at most. At the cap, a new connection closes the one idle longest (a
    #: keep-alive connection between requests, or one still sending its request head), as
    #: nginx reuses idle connections; when every connection is busy answering, the new one
    #: gets a 503. Clients share it: it should exceed the sum of their concurrency.
    max_connections: int = 256
    #: Seconds a connection may stay idle between requests; the time a client has, from
    #: connecting or from its last answer, to send a complete request head; and the time it
    #: may take to accept each piece of its answer (a client that stops reading is dropped).
    idle_timeout_s: float = 30.0
    #: Seconds a client has to send a request's body once its head has arrived (408 after).
    body_timeout_s: float = 30.0
    #: Largest request body in bytes (413 over it, refused from ``Content-Length`` before any
    #: of the body is read).
    max_body_bytes: int = 8 * 2**20
    #: Most characters of prompt text a request may carry (its prompts, or its messages'
    #: contents, together): 400 ``context_length_exceeded`` over it, before any tokenizing.
    max_prompt_chars: int = 1_000_000

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            if not value > 0:  # also refuses NaN
                option = "--" + limit.name.removesuffix("_s").replace("_", "-")
                raise ConfigError(
                    f"{limit.name} must be positive, got {value}",
                    hint=f"give {option} a positive value",
                )
