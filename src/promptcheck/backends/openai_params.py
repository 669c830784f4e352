"""Settings of a ``backend: openai`` model, checked when a suite or pyproject is read.

A separate module from the backend so that the settings (and the suite schema built from them)
are readable on their own; validation refuses secrets and a key pasted where its variable's name
belongs, without quoting them back.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from promptcheck.backends.credentials import env_name, http_url, refuse_secret_fields
from promptcheck.backends.transport import Transport

#: Body fields the backend writes itself; ``extra`` may not set them.
_OWN_FIELDS = frozenset({"model", "messages", "prompt", "n", "stream", "stream_options"})
#: The key's variable of an Azure deployment whose ``api_key_env`` is left out.
AZURE_KEY_ENV = "AZURE_OPENAI_API_KEY"


class AzureSettings(BaseModel):
    """An Azure OpenAI deployment: where it is, which API version, and how to authenticate."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: str = Field(
        description="The resource's endpoint, https://NAME.openai.azure.com (no path)."
    )
    deployment: str | None = Field(
        default=None,
        min_length=1,
        description="The deployment's name; default: the model's `model`.",
    )
    api_version: str = Field(
        min_length=1, description="The API version sent as ?api-version= (2024-10-21)."
    )
    ad_token_env: str | None = Field(
        default=None,
        description="Environment variable holding a Microsoft Entra ID token, sent as a bearer "
        "token instead of a key (read at start: get a fresh one before the run).",
    )

    @field_validator("endpoint")
    @classmethod
    def _https_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s]+/?", value) or not value.isprintable():
            raise ValueError("endpoint is the resource's URL, https://NAME.openai.azure.com")
        return value

    @field_validator("ad_token_env")
    @classmethod
    def _token_env_name(cls, value: str | None) -> str | None:
        return env_name(value)


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
    azure: AzureSettings | None = Field(
        default=None,
        description="An Azure OpenAI deployment (endpoint, deployment, api_version, and "
        "ad_token_env for Entra ID); its key's variable defaults to AZURE_OPENAI_API_KEY.",
    )

    @property
    def key_variable(self) -> str | None:
        """The variable the key is read from: ``api_key_env``, whose default is Azure's own
        for an Azure deployment."""
        if self.azure is not None and "api_key_env" not in self.model_fields_set:
            return AZURE_KEY_ENV
        return self.api_key_env

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        return env_name(value)

    @field_validator("extra")
    @classmethod
    def _extra_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        return refuse_secret_fields(value, _OWN_FIELDS)

    @model_validator(mode="after")
    def _one_endpoint(self) -> OpenAIParams:
        if self.azure is not None:
            if self.base_url is not None:
                raise ValueError("give base_url or azure, not both (azure.endpoint is the URL)")
            if self.azure.ad_token_env is not None and "api_key_env" in self.model_fields_set:
                raise ValueError(
                    "give api_key_env or azure.ad_token_env, not both: Azure takes a key or a token"
                )
        return self
