"""Tool calls as text: one canonical rendering that every report shows and the cache keeps.

A generation that calls tools carries the calls as records (:attr:`Generation.tool_calls`) for
the checks, and as text (its ``text``) for everything else: the store, the terminal, JUnit,
Markdown and HTML reports, and judges, with no special case anywhere. The rendering is one line
per call, ``name({"arguments": "as JSON"})``; when the model also wrote text, the text comes
first and a ``[N tool calls]`` line separates it from the calls::

    I'll look that up.
    [1 tool call]
    get_weather({"city": "Paris"})

Arguments that are not valid JSON are shown as written, quoted: ``f(<not JSON> "{\\"city\\": ")``.

The generation cache keeps only the text (and the finish reason), so a cached generation's calls
are read back from it: :func:`calls_of` parses the rendering when the finish reason says the
model called tools (``tool_calls``, which every backend reports for such an answer). Reading is
exact: ``N`` in the separator says where the text ends, whatever the text contains, and a line
of the rendering never contains a newline (JSON escapes them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from promptcheck.backends.base import Generation, ToolCall

#: The finish reason of a generation that called tools, whatever the provider named it.
TOOL_CALLS_FINISH = "tool_calls"

_BARE_NAME = re.compile(r"[A-Za-z0-9_.:-]+")
_NOT_JSON = "<not JSON> "


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def call_from_raw(name: str, raw: str) -> ToolCall:
    """A call whose arguments arrived as JSON text (OpenAI's ``arguments``)."""
    try:
        return ToolCall(name, _DECODER.decode(raw), raw)
    except json.JSONDecodeError as exc:
        error = f"invalid JSON at line {exc.lineno} col {exc.colno}: {exc.msg}"
    except (ValueError, RecursionError) as exc:
        error = f"invalid JSON: {exc}" if isinstance(exc, ValueError) else "nested too deeply"
    return ToolCall(name, None, raw, error)


def call_from_value(name: str, value: Any) -> ToolCall:
    """A call whose arguments arrived parsed (Anthropic's ``input``)."""
    try:
        raw = json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return ToolCall(name, None, repr(value), f"arguments are not JSON: {exc}")
    return ToolCall(name, value, raw)


def render_call(call: ToolCall) -> str:
    """One call on one line: ``name(arguments)``, arguments as compact JSON."""
    name = call.name if _BARE_NAME.fullmatch(call.name) else json.dumps(call.name)
    if call.arguments_error is None:
        try:
            arguments = json.dumps(call.arguments, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):  # a value JSON cannot write (1e999 parsed as inf)
            arguments = _NOT_JSON + json.dumps(call.raw_arguments, ensure_ascii=False)
    else:
        arguments = _NOT_JSON + json.dumps(call.raw_arguments, ensure_ascii=False)
    return f"{name}({arguments})"


def _separator(count: int) -> str:
    return f"[{count} tool call{'s' if count != 1 else ''}]"


def render_output(text: str, calls: Sequence[ToolCall]) -> str:
    """The output as checks and reports see it: the text, then the calls (see the module)."""
    if not calls:
        return text
    rendered = "\n".join(render_call(call) for call in calls)
    return f"{text}\n{_separator(len(calls))}\n{rendered}" if text else rendered


def generation_with_calls(
    text: str, calls: Sequence[ToolCall], finish_reason: str | None, **fields: Any
) -> Generation:
    """A generation whose text renders ``calls`` after ``text``; with calls, its finish reason
    is ``tool_calls`` (what lets a cached copy be read back)."""
    if not calls:
        return Generation(text=text, finish_reason=finish_reason, **fields)
    return Generation(
        text=render_output(text, calls),
        finish_reason=TOOL_CALLS_FINISH,
        tool_calls=tuple(calls),
        **fields,
    )


def calls_of(generation: Generation) -> tuple[ToolCall, ...]:
    """The calls of a generation: its records, or, for one read from the cache, its rendering."""
    if generation.tool_calls or generation.finish_reason != TOOL_CALLS_FINISH:
        return generation.tool_calls
    read = read_output(generation.text or "")
    return read[1] if read is not None else ()


def read_output(output: str) -> tuple[str, tuple[ToolCall, ...]] | None:
    """``(text, calls)`` of a rendering made by :func:`render_output`; None if it is not one."""
    lines = output.split("\n")
    for count in range(1, len(lines)):
        if lines[-count - 1] == _separator(count):
            calls = [_read_call(line) for line in lines[-count:]]
            if any(call is None for call in calls):
                return None
            return "\n".join(lines[: -count - 1]), tuple(c for c in calls if c is not None)
    every = [_read_call(line) for line in lines]
    if any(call is None for call in every):
        return None
    return "", tuple(c for c in every if c is not None)


def _read_call(line: str) -> ToolCall | None:
    if line.startswith('"'):
        try:
            name, end = _DECODER.raw_decode(line)
        except ValueError:
            return None
        if not isinstance(name, str):
            return None
    else:
        found = _BARE_NAME.match(line)
        if found is None:
            return None
        name, end = found.group(), found.end()
    rest = line[end:]
    if not (rest.startswith("(") and rest.endswith(")")):
        return None
    inner = rest[1:-1]
    if inner.startswith(_NOT_JSON):
        try:
            raw = _DECODER.decode(inner[len(_NOT_JSON) :])
        except ValueError:
            return None
        return call_from_raw(name, raw) if isinstance(raw, str) else None
    call = call_from_raw(name, inner)
    return call if call.arguments_error is None else None
