"""How long a value's text would be, found without building the text.

A template can make a small object whose text is enormous: a list holding one long string a
thousand times, lists that hold themselves twice over forty times (2**40 leaves in a few hundred
bytes), a ``%``-format asking for a width of a billion. Printing such a value, joining it or
formatting it would allocate the whole text before any length could be checked, and comparing or
hashing it would run in C for hours, where no deadline can stop it. The functions here walk a
value as ``str`` would (a shared part once per appearance, a cycle once) and stop as soon as the
count passes the limit, so measuring costs at most the limit, never the text.

The counts are estimates of ``str``/``repr`` lengths within a small constant factor (an escaped
character is counted once, a float as 32 characters): enough to refuse a value whose text is
thousands of times too long before it exists; the exact length is checked once it does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any

from jinja2.utils import Namespace

#: The estimate for objects of other types (a macro, a loop, a date): their text is short.
OTHER_OBJECT_CHARS = 100
#: The estimate for a float or a complex number (``1.0000000000000002e-300`` is 23).
NUMBER_CHARS = 32
#: One %-conversion: ``%(key)`` flags, width (``*`` or digits), precision, length modifier, type.
_PERCENT = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-+ #0]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    r"[hlL]?(?P<type>.)",
    re.DOTALL,
)
_DIGITS = re.compile(r"\d+")
_END = object()


def text_size(value: Any, limit: int) -> int:
    """About ``len(str(value))`` (``repr`` for the parts of a container), or ``limit + 1`` as
    soon as it is known to pass ``limit``.

    A part met again is counted again (``str`` writes it again) from what its first visit
    found, so a structure that shares itself costs a step per distinct part, not per leaf."""
    size = 0
    known: dict[int, int] = {}  # the text size of each container measured whole, by id
    on_path: set[int] = set()
    stack: list[tuple[int, int, Iterator[Any]]] = []  # id, size before it, its parts
    pending: Any = value
    while True:
        if pending is not _END:
            key = id(pending)
            if key in known:
                size += known[key]
            elif key in on_path:  # a cycle: str writes [...] and stops
                size += 5
            else:
                own, parts = _shape(pending)
                if parts is not None:
                    on_path.add(key)
                    stack.append((key, size, parts))
                size += own
            if size > limit:
                return limit + 1
            pending = _END
        if not stack:
            return size
        key, before, parts = stack[-1]
        pending = next(parts, _END)
        if pending is _END:
            on_path.discard(key)
            known[key] = size - before
            stack.pop()


def _shape(value: Any) -> tuple[int, Iterator[Any] | None]:
    """The characters ``value`` adds itself, and the parts whose text it also holds."""
    if isinstance(value, str):
        return len(value) + 2, None
    if isinstance(value, (bytes, bytearray)):
        return 4 * len(value) + 3, None  # \xNN
    if value is None or isinstance(value, bool):
        return 5, None
    if isinstance(value, int):
        return value.bit_length() * 30103 // 100000 + 2, None  # digits and a sign
    if isinstance(value, (float, complex)):
        return NUMBER_CHARS, None
    if isinstance(value, Namespace):
        attributes: dict[str, Any] = object.__getattribute__(value, "_Namespace__attrs")
        return 12 + 4 * len(attributes), chain.from_iterable(attributes.items())
    if isinstance(value, Mapping):
        return 2 + 4 * len(value), chain.from_iterable(value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return 2 + 2 * len(value), iter(value)
    return OTHER_OBJECT_CHARS, None


def percent_size(template: str, values: Any, limit: int) -> int:
    """About ``len(template % values)``, or ``limit + 1`` as soon as it is known to pass
    ``limit``; counted up to the first conversion Python would refuse (it raises there)."""
    positional = list(values) if isinstance(values, tuple) else [values]
    size = len(template)
    for match in _PERCENT.finditer(template):
        if match["type"] == "%":
            continue
        widths = 0
        for part in (match["width"], match["precision"]):
            if part == "*":
                if not positional or not isinstance(positional[0], int):
                    return size  # Python refuses it: "* wants int"
                widths += abs(positional.pop(0))
            elif part:
                widths += _number(part, limit)
        if match["key"] is not None:
            if not isinstance(values, Mapping) or match["key"] not in values:
                return size
            value = values[match["key"]]
        elif positional:
            value = positional.pop(0)
        else:
            return size  # "not enough arguments for format string"
        size += widths + text_size(value, limit)
        if size > limit:
            return limit + 1
    return size


def spec_size(format_spec: str, limit: int) -> int:
    """The most characters a ``str.format`` spec (``>10``, ``.3f``, ``0>{width}`` once
    resolved) can add to a field: its widths and precisions, added up."""
    return sum(_number(digits, limit) for digits in _DIGITS.findall(format_spec))


def _number(digits: str, limit: int) -> int:
    """The number ``digits`` spell, or ``limit + 1`` for one too long to be worth reading."""
    return limit + 1 if len(digits) > len(str(limit)) else int(digits)
