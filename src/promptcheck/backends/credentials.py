"""Keys of hosted models: read from the environment, never configured, never quoted back.

A model's settings name the environment variable that holds its key (``api_key_env``), never the
key, so no settings file, store, cache key or report holds one. The settings of every hosted
backend validate those names and their ``extra`` request fields here, alike.
"""

from __future__ import annotations

import os
import re
import unicodedata
from typing import Any

from promptcheck.errors import BackendError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SECRET_FIELD = re.compile(
    r"api[_-]?key|authorization|secret|password|(?:auth|access|bearer)[_-]?token", re.IGNORECASE
)


def http_url(value: str | None) -> str | None:
    """A ``base_url`` as configured: an http:// or https:// URL with a host (or none)."""
    if value is not None and (
        not re.fullmatch(r"https?://[^/\s]+(?:/\S*)?", value) or not value.isprintable()
    ):
        raise ValueError("base_url must be an http:// or https:// URL, with no spaces or controls")
    return value


def env_name(value: str | None) -> str | None:
    """An environment variable's name as configured ("" meaning none); a value that is not a
    name is refused without being quoted back (a key pasted there must not reach a report)."""
    if value == "":
        return None  # TOML has no null
    if value is not None and not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "this names an environment variable (letters, digits, _), not the secret itself; "
            "export the secret and write its variable's name here"
        )
    return value


def refuse_secret_fields(value: dict[str, Any], own: frozenset[str]) -> dict[str, Any]:
    """``extra`` request fields, refusing secrets and the fields the backend writes itself."""
    for key in value:
        if _SECRET_FIELD.search(key):
            raise ValueError(f"extra.{key}: secrets do not belong in a suite; use api_key_env")
        if key in own:
            raise ValueError(f"extra.{key} is set by the backend and cannot be overridden")
    return value


def secret_from_env(variable: str, setting: str) -> str:
    """The value of ``variable``, which the model's ``setting`` names, without surrounding
    whitespace; a BackendError before any request when it is not set or holds a control character.

    A key read from a secret file often keeps its trailing newline. Sent as is, the HTTP client
    refuses the header and quotes its escaped value (``b'...\\n'``) in the error, a form of the
    key that matching the raw key would miss; so the whitespace goes here, and a key with a line
    break or tab inside is refused by the variable's name, never by its value.
    """
    value = (os.environ.get(variable) or "").strip()
    if not value:
        keyless = ", or write `api_key_env: null` for an endpoint that takes no key"
        raise BackendError(
            f"environment variable {variable} (the model's {setting}) is not set",
            hint=f"export {variable}=... before the run"
            + (keyless if setting == "api_key_env" else ""),
        )
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise BackendError(
            f"environment variable {variable} (the model's {setting}) holds a control character "
            "(a line break or tab) inside its value",
            hint=f"export {variable} with the key alone, on one line",
        )
    return value
