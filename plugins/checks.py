"""Example custom checks: a registered check type and a plain function for the ``python`` check.

``item_count`` is registered under its own ``expect`` key when this module is imported, which the
project's ``[tool.promptcheck] plugins = ["plugins.checks"]`` does before suites are validated.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from promptcheck.checks import BuildContext, CheckContext, CheckResult, register_check

_ITEM = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s+\S", re.MULTILINE)


class ItemCountParams(BaseModel):
    """``item_count: {equals_var: k}``: the number of list items must equal the variable k."""

    model_config = ConfigDict(extra="forbid")

    equals_var: str


class ItemCount:
    """Counts list items and compares them with a variable of the case."""

    name = "item_count"

    def __init__(self, variable: str) -> None:
        self.variable = variable

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        try:
            wanted = int(context.variables[self.variable])
        except (KeyError, TypeError, ValueError):
            return CheckResult.unscored(f"variable {self.variable!r} is missing or not a number")
        found = len(_ITEM.findall(output))
        if found == wanted:
            return CheckResult.passed(f"{found} items")
        return CheckResult.failed(f"{found} items, expected {wanted}")


@register_check("item_count", ItemCountParams)
def build_item_count(params: ItemCountParams, context: BuildContext) -> ItemCount:
    """The output is a list with exactly as many items as a variable of the case says."""
    return ItemCount(params.equals_var)


def _email(output: str) -> tuple[str | None, str]:
    """The ``email`` field of a JSON object output, or None and why there is none."""
    try:
        data: Any = json.loads(output)
    except ValueError:
        return None, "output is not JSON"
    email = data.get("email") if isinstance(data, dict) else None
    if not isinstance(email, str):
        return None, "no email field"
    return email, ""


def email_from_prompt(output: str, context: CheckContext) -> tuple[bool, str]:
    """The extracted email must occur in the prompt: a model must not invent one."""
    email, missing = _email(output)
    if email is None:
        return False, missing
    if email in context.prompt:
        return True, "email taken from the message"
    return False, f"email {email!r} does not occur in the message"


def email_is_normalized(output: str, context: CheckContext) -> tuple[bool, str]:
    """The CRM deduplicates contacts on the email, so it must arrive lowercase and trimmed."""
    email, missing = _email(output)
    if email is None:
        return False, missing
    if email != email.strip().lower():
        return False, f"email {email!r} is not lowercase and trimmed"
    return True, "email is lowercase and trimmed"
