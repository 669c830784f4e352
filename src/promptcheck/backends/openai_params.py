"""Settings of a ``backend: openai`` model, checked when a suite or pyproject is read.

A separate module from the backend so that the settings (and the suite schema built from them)
are readable on their own; validation refuses secrets and a key pasted where its variable's name
belongs, without quoting them back.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptcheck.backends.openai_transport import Transport

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Body fields the backend writes itself; ``extra`` may not set them.
_OWN_FIELDS = frozenset({"model", "messages", "prompt", "n", "stream", "stream_options"})
_SECRET_FIELD = re.compile(r"api[_-]?key|authorization|secret|password", re.IGNORECASE)


class OpenAIParams(BaseModel):
    """Settings of a ``backend: openai`` model (a suite's ``models:`` entry, minus ``backend``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        min_length=1,
        description="Model name as the endpoint knows it (gpt-4o-mini, vLLM's served model name).",
    )
    base_url: str | None = Field(
        default=None,
        description="Endpoint root, usually ending in /v1 (http://127.0.0.1:8000/v1); default: "
        "the client's (OpenAI, or the OPENAI_BASE_URL environment variable).",
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="Environment variable that holds the API key (read at start, never stored "
        'or reported); null (or "" in TOML) for endpoints that take no key.',
    )
    mode: Literal["chat", "completions"] = Field(
        default="chat", description="`chat` (/chat/completions) or `completions` (/completions)."
    )
    template: Literal["raw", "dolly"] = Field(
        default="raw",
        description="completions mode: `dolly` renders Dolly's instruction format here and stops "
        "at `### End` (a Dolly checkpoint behind vLLM); `raw` sends the prompt as it is.",
    )
    n_per_request: int = Field(
        default=16,
        ge=1,
        le=128,
        description="Most samples asked for in one request with `n`; 1 sends one request per "
        "sample, each with its own seed. An endpoint that returns fewer choices than asked is "
        "noticed, and then asked for one sample per request.",
    )
    send_seed: bool = Field(
        default=True,
        description="Send each request's seed (`seed`), so endpoints that honour it reproduce "
        "samples; with n > 1 the request carries its first sample's seed.",
    )
    concurrency: int | None = Field(
        default=None,
        ge=1,
        le=4096,
        description="Most requests in flight for this model, whatever the runner's "
        "--promptcheck-concurrency (which bounds each case's requests); default: no own cap.",
    )
    timeout_s: float = Field(default=60.0, gt=0, le=3600, description="Time limit of a request.")
    max_retries: int = Field(
        default=5,
        ge=0,
        le=50,
        description="Further attempts after a 429, a 5xx, a timeout or a dropped connection.",
    )
    backoff_s: float = Field(
        default=0.5, gt=0, le=60, description="Wait before the first retry; doubled each retry."
    )
    max_wait_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest wait between attempts; a longer Retry-After ends the retries.",
    )
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute, at most.")
    tpm: int | None = Field(
        default=None,
        ge=1,
        description="Tokens per minute, at most, counted as OpenAI does when a request is sent: "
        "the prompt (estimated) plus max_tokens for every sample asked for.",
    )
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="Name the token limit is sent under (reasoning models want "
        "max_completion_tokens).",
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="More request fields, sent as given and overriding the case's: "
        "response_format (json_schema), seed (one fixed seed), top_p, stop, logprobs, or an "
        "endpoint's own (vLLM's top_k, stop_token_ids).",
    )
    http_client: Transport = Field(
        default="auto",
        description="HTTP transport under the client: `aiohttp` (openai's aiohttp extra, less CPU "
        "per request), `httpx` (the client's default), or `auto`: aiohttp where installed.",
    )
    price_per_1k_input: float | None = Field(
        default=None, ge=0, description="Price of 1,000 prompt tokens, for the run's cost."
    )
    price_per_1k_output: float | None = Field(
        default=None, ge=0, description="Price of 1,000 completion tokens, for the run's cost."
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"https?://[^/\s]+", value):
            raise ValueError("base_url must be an http:// or https:// URL")
        return value

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # The value is never quoted back: a key pasted here by mistake must not reach a report.
        if value == "":
            return None  # TOML has no null
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "api_key_env names an environment variable (letters, digits, _), not the key "
                "itself; export the key and write its variable's name here"
            )
        return value

    @field_validator("extra")
    @classmethod
    def _extra_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if _SECRET_FIELD.search(key):
                raise ValueError(f"extra.{key}: secrets do not belong in a suite; use api_key_env")
            if key in _OWN_FIELDS:
                raise ValueError(f"extra.{key} is set by the backend and cannot be overridden")
        return value
