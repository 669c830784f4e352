"""Where a suite's models may send prompts and keys: only where the project's configuration says.

A suite may define its own models, but a model that names an endpoint (``base_url``, an Azure
``endpoint``) or the environment variable a key is read from (``api_key_env``, ``ad_token_env``)
decides where the machine's secrets and the project's files (rendered into prompts) are sent. An
outside pull request could point ``api_key_env: AWS_SECRET_ACCESS_KEY`` at its own server, so those
settings are configuration: a suite may use them only for an endpoint that ``[tool.promptcheck]
trusted_endpoints`` lists; otherwise the model belongs in ``[tool.promptcheck.models]``.

Which settings count is decided by name and by content, so that plugin backends are covered
without declaring anything: ``base_url``, ``api_base``, ``endpoint``, ``url``, ``host``,
``hostname``, ``server``, ``proxy``, ``headers``, ``azure``, any ``*_env``, ``*_url``, ``*_host``,
``*_var``, ``*_variable``, ``*_endpoint``, ``*_headers`` key, and any setting with a URL written
anywhere inside it. An origin listed as trusted is trusted with whatever variable a suite names.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from promptcheck.errors import ConfigError
from promptcheck.redaction import scrub_text

_CONNECTION_NAMES = frozenset(
    {"base_url", "api_base", "endpoint", "url", "host", "hostname", "server", "proxy", "headers"}
    | {"azure"}  # its endpoint and ad_token_env
)
_CONNECTION_SUFFIXES = ("_env", "_url", "_host", "_var", "_variable", "_endpoint", "_headers")
#: Where the hosted backends send requests when a model names no URL: the clients' defaults,
#: which the environment variable of each may change (the machine's configuration).
DEFAULT_ENDPOINTS = {
    "openai": ("OPENAI_BASE_URL", "https://api.openai.com"),
    "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
}


def connection_keys(settings: Mapping[str, Any]) -> list[str]:
    """The keys of a model's settings that say where requests go or which secret they carry:
    by name, or because a URL is written somewhere inside the value (a plugin backend's
    ``connection: {address: "https://..."}``)."""
    return [
        key
        for key, value in settings.items()
        if key in _CONNECTION_NAMES or key.endswith(_CONNECTION_SUFFIXES) or _holds_url(value)
    ]


def _holds_url(value: Any) -> bool:
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str) and "://" in current:
            return True
        if isinstance(current, Mapping):
            stack.extend(current.values())
        elif isinstance(current, list | tuple):
            stack.extend(current)
    return False


def endpoint_of(backend: str, settings: Mapping[str, Any]) -> str | None:
    """The URL a model's requests go to, as its settings give it (None: not known here)."""
    for key in ("base_url", "api_base", "endpoint", "url"):
        if isinstance(settings.get(key), str):
            return str(settings[key])
    azure = settings.get("azure")
    if isinstance(azure, Mapping) and isinstance(azure.get("endpoint"), str):
        return str(azure["endpoint"])
    variable, default = DEFAULT_ENDPOINTS.get(backend, ("", ""))
    return (os.environ.get(variable) or default) if variable else None


def endpoint_trusted(url: str, trusted: Sequence[str]) -> bool:
    """Whether ``url`` is at an origin ``trusted`` lists: same scheme and host, and the same port
    when the entry gives one (``http://127.0.0.1`` trusts every port of the loopback address)."""
    if any(character.isspace() or not character.isprintable() for character in url):
        return False  # urlsplit drops tabs and newlines: "http://a\n@b" would read as b
    try:
        target = urlsplit(url)
        port = target.port
    except ValueError:
        return False
    host = (target.hostname or "").lower()
    for entry in trusted:
        allowed = urlsplit(entry)
        if allowed.scheme != target.scheme or (allowed.hostname or "").lower() != host:
            continue
        if allowed.port is None or allowed.port == (port or _default_port(target.scheme)):
            return True
    return False


def _default_port(scheme: str) -> int | None:
    return {"http": 80, "https": 443}.get(scheme)


def check_suite_model(
    backend: str, settings: Mapping[str, Any], trusted: Sequence[str]
) -> tuple[str, ConfigError] | None:
    """The first connection setting of a suite's model that configuration does not allow, and
    the error to report at it; None when the model names no connection setting or a trusted
    endpoint."""
    keys = connection_keys(settings)
    if not keys:
        return None
    url = endpoint_of(backend, settings)
    if url is not None and endpoint_trusted(url, trusted):
        return None
    where = f"the endpoint {scrub_text(url)}" if url else "an endpoint promptcheck cannot tell"
    return keys[0], ConfigError(
        f"a suite may not set {keys[0]!r}: it decides where prompts and keys are sent, and "
        f"{where} is not in [tool.promptcheck] trusted_endpoints",
        hint="define the model in [tool.promptcheck.models] in pyproject.toml, or add its "
        "endpoint's origin to [tool.promptcheck] trusted_endpoints (see docs/security.md)",
    )
