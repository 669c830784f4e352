"""Checks score one complete output: format checks here, judges in their own modules."""

from promptcheck.checks.base import (
    CHECKS,
    BuildContext,
    Check,
    CheckContext,
    CheckResult,
    CheckType,
    Status,
    register_check,
)

__all__ = [
    "CHECKS",
    "BuildContext",
    "Check",
    "CheckContext",
    "CheckResult",
    "CheckType",
    "Status",
    "register_check",
]
