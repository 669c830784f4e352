"""What a session's models cost: requests, retries, tokens and money, per model and per run.

Backends count their own usage (the ``openai`` backend tallies requests, retries and the tokens
the endpoint reported, and prices them when ``price_per_1k_input`` / ``price_per_1k_output``
are configured); this module reads it without knowing the backend. A backend reports usage
through an optional ``usage`` attribute with an ``as_dict()`` method (or a plain mapping);
only the known counters below are read, and only as numbers, so nothing else a backend keeps
(a key, a URL with credentials) can reach the terminal, the store or a report.

Two calls for the session to make when it finishes, before its backends are closed:
:func:`record_session_usage` stores each run's usage with the run (``promptcheck show RUN`` and
the JSON reports show it) and :func:`usage_lines` words it for the terminal summary.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

#: The counters read from a backend's usage, in the order they are shown.
COUNTERS = ("requests", "retries", "failed_requests", "prompt_tokens", "completion_tokens")
#: Money spent, in the unit of the configured prices; None when they are not configured.
COST = "cost"

Usage = dict[str, float | int | None]


def backend_usage(backend: object) -> Usage | None:
    """The usage a backend reports, reduced to known numeric counters; None if it reports none.

    A counter the backend does not keep is left out (a local model has no retries), so that a
    line never claims a zero it did not count.
    """
    usage = getattr(backend, "usage", None)
    if usage is None:
        return None
    as_dict = getattr(usage, "as_dict", None)
    raw = as_dict() if callable(as_dict) else usage
    if not isinstance(raw, Mapping):
        return None
    found: Usage = {}
    for name in COUNTERS:
        value = raw.get(name)
        if _is_number(value):
            found[name] = int(value)
    if COST in raw:
        cost = raw[COST]
        found[COST] = float(cost) if _is_number(cost) else None
    return found or None


def combine(usages: Iterable[Mapping[str, Any]]) -> Usage:
    """The sum of several usages (the workers of one run, the backends of one model).

    A counter is summed over the usages that have it; a cost is known only if every usage
    that mentions cost knows it.
    """
    total: Usage = {}
    for usage in usages:
        for name in COUNTERS:
            value = usage.get(name)
            if _is_number(value):
                total[name] = int(total.get(name) or 0) + int(value)
        if COST in usage:
            cost = usage[COST]
            known = total.get(COST, 0.0)
            total[COST] = (
                float(known) + float(cost) if _is_number(cost) and known is not None else None
            )
    return total


def usage_by_model(backends: Mapping[Any, object]) -> dict[str, Usage]:
    """Usage per model name, for backends keyed by model name or by ``(name, base_dir)`` (as the
    runner's backend pool keys them); backends that report no usage are left out."""
    found: dict[str, list[Usage]] = {}
    for key, backend in backends.items():
        usage = backend_usage(backend)
        if usage is not None:
            found.setdefault(_model_name(key), []).append(usage)
    return {name: combine(usages) for name, usages in sorted(found.items())}


def usage_lines(backends: Mapping[Any, object]) -> list[str]:
    """One line per model that reported usage, for the terminal summary, e.g.
    ``model gpt: 2,000 requests, 3 retries, 120,345 tokens, $0.42``."""
    return [f"model {name}: {describe(usage)}" for name, usage in usage_by_model(backends).items()]


def describe(usage: Mapping[str, Any]) -> str:
    """A usage in words: requests, retries and failures, tokens, and the cost when known."""
    parts: list[str] = []
    if _is_number(usage.get("requests")):
        parts.append(_count(usage["requests"], "request"))
    if _is_number(usage.get("retries")):
        parts.append(_count(usage["retries"], "retry", "retries"))
    if usage.get("failed_requests"):
        parts.append(f"{usage['failed_requests']:,} failed")
    tokens = [
        value
        for value in (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        if _is_number(value)
    ]
    if tokens:
        parts.append(_count(sum(int(value) for value in tokens), "token"))
    cost = usage.get(COST)
    if _is_number(cost):
        parts.append(format_cost(float(cost)))
    return ", ".join(parts) or "no usage reported"


def format_cost(cost: float) -> str:
    """Dollars to the cent, or to four places below a cent (a small run still shows a cost)."""
    return f"${cost:,.2f}" if cost >= 0.01 or cost == 0 else f"${cost:.4f}"


def _model_name(key: Any) -> str:
    return str(key[0]) if isinstance(key, tuple) and key else str(key)


def _count(value: float, singular: str, plural: str | None = None) -> str:
    return f"{int(value):,} {singular if value == 1 else plural or singular + 's'}"


def _is_number(value: object) -> TypeGuard[int | float]:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
