"""What the built-in format checks share: strict parameter models with a short form, and reasons.

A suite writes ``regex: "^A"`` as often as ``regex: {pattern: "^A"}``, and a bare ``- json`` arrives
as ``{}`` (or ``None``). One ``mode="before"`` validator in the base model expands those forms, so
each check only names the field its short form fills.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from promptcheck.checks.base import CheckResult

#: The result every passing format check returns: shared, because results are frozen and a pass
#: needs no reason; allocating one per sample would cost more than most checks themselves.
PASSED = CheckResult.passed()


class CheckParams(BaseModel):
    """Base of the format checks' parameters: unknown keys are errors, and a short form is accepted.

    ``short_field`` names the field a non-mapping value fills (``"pattern"`` for ``regex``); a check
    without a short form leaves it ``None``, and then a non-mapping value is left for pydantic to
    reject with its usual message.
    """

    model_config = ConfigDict(extra="forbid")

    short_field: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _expand_short_form(cls, data: Any) -> Any:
        if data is None:
            return {}
        if isinstance(data, (Mapping, BaseModel)) or cls.short_field is None:
            return data
        return {cls.short_field: data}


def clip(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, so a reason stays one readable line."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(text: str, limit: int = 60) -> str:
    """``text`` clipped and quoted the way Python writes it, so whitespace and newlines show."""
    return repr(clip(text, limit))


def json_path(location: tuple[str | int, ...] | list[str | int]) -> str:
    """``("items", 0, "name")`` as ``$.items[0].name``: one way to name a place in parsed output."""
    parts = ["$"]
    for part in location:
        parts.append(f"[{part}]" if isinstance(part, int) else f".{part}")
    return "".join(parts)
