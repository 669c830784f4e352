"""Settings of a ``backend: anthropic`` model, checked when a suite or pyproject is read.

The knobs a hosted model shares with ``backend: openai`` (retries, pacing, prices, transport)
have the same names and meanings, so a suite moves between providers by changing its model
entry only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from promptcheck.backends.credentials import env_name, http_url, refuse_secret_fields
from promptcheck.backends.transport import Transport

#: Body fields the backend writes itself; ``extra`` may not set them.
_OWN_FIELDS = frozenset({"model", "messages", "system", "max_tokens", "stream"})


class AnthropicParams(BaseModel):
    """Settings of a ``backend: anthropic`` model (a suite's ``models:`` entry less ``backend``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(min_length=1, description="Model name (claude-sonnet-4-5, ...).")
    base_url: str | None = Field(
        default=None,
        description="API root without /v1 (a gateway or proxy); default: the client's "
        "(https://api.anthropic.com, or the ANTHROPIC_BASE_URL environment variable).",
    )
    api_key_env: str | None = Field(
        default="ANTHROPIC_API_KEY",
        description="Environment variable that holds the API key (read at start, never stored "
        'or reported); null (or "" in TOML) for a gateway that takes no key.',
    )
    send_sampling: bool = Field(
        default=True,
        description="Send the case's temperature (and top_p when below 1). Models that refuse "
        "sampling parameters answer every request with a 400 naming them: set false for those.",
    )
    structured_output: Literal["output_config", "tool"] = Field(
        default="output_config",
        description="How a case's response_format is asked for: `output_config` (the Messages "
        "API's structured outputs) or `tool` (a forced tool whose input schema is the format, "
        "for models without structured outputs; the tool's input is the answer's text).",
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
        description="Further attempts after a 429, a 5xx (529 overloaded included), a timeout "
        "or a dropped connection.",
    )
    backoff_s: float = Field(
        default=0.5, gt=0, le=60, description="Wait before the first retry; doubled each retry."
    )
    max_wait_s: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        description="Longest wait between attempts; a longer retry-after ends the retries.",
    )
    rpm: int | None = Field(default=None, ge=1, description="Requests per minute, at most.")
    tpm: int | None = Field(
        default=None,
        ge=1,
        description="Tokens per minute, at most, counted when a request is sent: the prompt "
        "(estimated) plus max_tokens.",
    )
    extra: dict[str, Any] = Field(
        default_factory=dict,
        description="More request fields, sent as given and overriding the case's: top_k, "
        "thinking, metadata, service_tier.",
    )
    http_client: Transport = Field(
        default="auto",
        description="HTTP transport under the client: `aiohttp` (anthropic's aiohttp extra, "
        "less CPU per request), `httpx` (the client's default), or `auto`: aiohttp where "
        "installed.",
    )
    price_per_1k_input: float | None = Field(
        default=None, ge=0, description="Price of 1,000 input tokens, for the run's cost."
    )
    price_per_1k_output: float | None = Field(
        default=None, ge=0, description="Price of 1,000 output tokens, for the run's cost."
    )

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
