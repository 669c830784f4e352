"""Keeping secrets out of everything promptcheck writes: the store, reports, logs and terminals.

Two sources of leaks are closed here, for every writer to use:

* a model spec can hold a literal key (``api_key: sk-...``) or credentials inside a URL
  (``base_url: https://user:pass@host/v1``, ``?api_key=...``): :func:`redact_secrets` replaces the
  values of secret-looking keys and the secret parts of every URL in it;
* an error text (an HTTP error body, a failed connection) can quote a key, a bearer token or such
  a URL, raw or escaped (an HTTP client refusing a header quotes ``b'key\\n'``): :func:`scrub_text`
  replaces them. Backends scrub their errors before cutting them short, so that no prefix of a key
  survives a cut.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

REDACTED = "<redacted>"
_SECRET_KEY = re.compile(r"api[_-]?key|secret|token|password|authorization", re.IGNORECASE)
#: A URL with credentials before the host: scheme://user:password@host. The user information
#: ends at the authority's last ``@`` (a password may hold a raw ``@``, as URL parsers read it).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]*@")
#: A query parameter whose name says it is a secret: ?api_key=..., &token=..., &sig=...
_SECRET_QUERY = re.compile(
    r"(?P<name>[?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|sig|signature)=)"
    r"[^&#\s]+",
    re.IGNORECASE,
)
#: Bearer tokens and keys in the shapes providers issue (OpenAI, Anthropic, Google, AWS, Azure's
#: 32 hexadecimal digits).
_TOKENS = re.compile(
    r"(?P<lead>Bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\bsk-(?:ant-)?[A-Za-z0-9_-]{16,}"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\b[0-9a-f]{32}\b",
    re.IGNORECASE,
)


def scrub_text(text: str, *secrets: str | None) -> str:
    """``text`` with the given secrets (raw, stripped or escaped as ``repr`` and JSON write
    them), URL credentials, secret query parameters and key-shaped tokens replaced by
    ``<redacted>``."""
    forms = {form for secret in secrets if secret for form in _written_forms(secret) if form}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, REDACTED)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    text = _SECRET_QUERY.sub(lambda m: f"{m.group('name')}{REDACTED}", text)
    return _TOKENS.sub(lambda m: f"{m.group('lead') or ''}{REDACTED}", text)


def _written_forms(secret: str) -> Iterator[str]:
    """The ways an error message may quote ``secret``: as is, without its surrounding
    whitespace, and escaped as Python's ``repr`` of the text or of its bytes and JSON do it."""
    yield secret
    yield secret.strip()
    yield repr(secret)[1:-1]
    yield repr(secret.encode("utf-8"))[2:-1]
    yield json.dumps(secret)[1:-1]


def redact_secrets(value: Any) -> Any:
    """A copy of ``value`` with the value of every secret-looking key replaced by ``<redacted>``.

    The store and reports show model specs, and a spec may hold a literal API key. A key ending
    in ``_env`` names an environment variable, which is what users should write, so it is kept.
    ``tokenizer`` and an integer under ``*tokens`` (``max_tokens: 200``) are not secrets.
    """
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _names_secret(str(key), item) else redact_secrets(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_secrets(item) for item in value]
    if isinstance(value, str) and "://" in value:  # a URL may carry credentials
        return scrub_text(value)
    return value


def _names_secret(key: str, value: Any) -> bool:
    if key.lower().endswith("_env"):
        return False
    name = re.sub("tokenizer", "", key, flags=re.IGNORECASE)
    if isinstance(value, int) and not isinstance(value, bool):
        name = re.sub("tokens", "", name, flags=re.IGNORECASE)
    return _SECRET_KEY.search(name) is not None
