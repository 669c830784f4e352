"""The API key of ``promptcheck serve``: what a key may be, and whether a request carries it.

A server runs with a key or, explicitly, without one (``--no-auth``, loopback only; see
:mod:`promptcheck.serve.commands`). An empty key is refused rather than taken to mean "no key":
``--api-key ""`` or an empty environment variable is a mistake, not a decision.
"""

from __future__ import annotations

import hmac
import ipaddress

from promptcheck.errors import ConfigError

KEY_HINT = (
    "use printable ASCII without spaces, e.g. "
    "`python -c 'import secrets; print(secrets.token_urlsafe())'`"
)


def check_api_key(key: str) -> None:
    """Raise ConfigError unless ``key`` can be sent as ``Authorization: Bearer KEY``."""
    if not key:
        raise ConfigError(
            "the API key is empty",
            hint="give a key (--api-key-env VAR), or --no-auth to serve without one on loopback",
        )
    if not all("!" <= char <= "~" for char in key):
        raise ConfigError("the API key has spaces or characters outside ASCII", hint=KEY_HINT)


def authorized(header: str | None, key: bytes) -> bool:
    """Whether an ``Authorization`` header value is ``Bearer KEY`` (compared in constant time)."""
    scheme, _, token = (header or "").partition(" ")
    sent = token.strip().encode("utf-8", "replace")  # a header aiohttp could not decode
    return scheme.lower() == "bearer" and hmac.compare_digest(sent, key)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` serves this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
