"""Prompt templates: sandboxed Jinja2 in which an undefined variable is an error, not ''.

Templates come from suite files, which may be written by anyone on a team (or a pull request from
outside), so they are rendered in Jinja's immutable sandbox (no attribute access to internals,
no mutation of the variables) and every render is bounded in time and memory:

* every string a template builds is measured before it is built: ``*``, ``+`` and ``~``, the
  filters and string methods that can grow a text (``center``, ``indent``, ``replace``,
  ``format`` ...) are refused once their result would pass :data:`MAX_RENDERED_CHARS`;
* a render has :data:`MAX_RENDER_SECONDS`: a line tracer on the template's own frames (and on
  nothing else) checks the clock, so nested loops that never call anything still stop.

An overrun is a ConfigError naming the limit, reported against the case like any template error.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from types import FrameType
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptcheck.config import MAX_RENDER_SECONDS, MAX_RENDERED_CHARS
from promptcheck.errors import ConfigError

#: The file name Jinja gives the code it compiles templates into: the frames the tracer watches.
_TEMPLATE_CODE = "<template>"
#: String methods whose result can be far longer than the string they are called on.
_GROWING_METHODS = frozenset(
    {"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "format", "format_map"}
)
#: Filters whose result can be far longer than their input.
_GROWING_FILTERS = frozenset({"center", "indent", "replace", "join", "format", "wordwrap"})
#: Widths and precisions in %-formats (``%10s``, ``%.3f``) and str.format fields (``{:>10}``).
_PERCENT_SPEC = re.compile(r"%[-+ #0]*(\d*)(?:\.(\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:[^{}0-9]*(\d*)(?:\.(\d+))?[^{}]*\}")


class RenderLimitError(SecurityError):
    """A template went past a bound on its time or on the size of what it builds."""


def _check_length(length: int, what: str) -> None:
    if length > MAX_RENDERED_CHARS:
        raise RenderLimitError(f"{what} exceeds {MAX_RENDERED_CHARS} characters")


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple, dict)) else 0


def _widths(text: str) -> int:
    """The sum of the widths and precisions a format string asks for (digit runs that long are
    refused before they are added up)."""
    total = 0
    for pattern in (_PERCENT_SPEC, _BRACE_SPEC):
        for match in pattern.finditer(text):
            for digits in match.groups():
                if digits:
                    total += MAX_RENDERED_CHARS + 1 if len(digits) > 9 else int(digits)
    return total


def _texts(values: Iterable[Any]) -> int:
    return sum(len(str(value)) for value in values)


def _growth(name: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """An upper bound on the length of ``text.name(*args, **kwargs)`` (a string method, or the
    filter of that name applied to ``text``) for the operations that can grow a text."""
    numbers = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
    if name in ("center", "ljust", "rjust", "zfill", "wordwrap"):
        return len(text) + max(numbers, default=0)
    if name == "indent":
        return len(text) + max(numbers, default=4) * (text.count("\n") + 1)
    if name == "expandtabs":
        return len(text) * max(numbers, default=8)
    if name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * max(len(new) - len(old), 0)
    if name in ("format", "format_map"):
        return len(text) + _texts((*args, *kwargs.values())) + _widths(text)
    return len(text)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~`` routed through :meth:`_Environment.bounded_concat`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every way of growing a text measured first."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _power_too_big(left, right):
            raise RenderLimitError(f"{left!r} ** {right!r} is too large a number")
        if operator == "*":
            sized, count = (left, right) if isinstance(right, int) else (right, left)
            if isinstance(count, int) and isinstance(sized, (str, list, tuple)):
                _check_length(len(sized) * count, "repeating a value that many times")
        if operator == "+":
            _check_length(_sized(left) + _sized(right), "joining these values")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        # the sandbox hands str.format over as a wrapper; the string is the wrapped method's
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str) and name in _GROWING_METHODS:
            if name == "join":
                parts = list(args[0]) if args else []
                _check_length(_texts(parts) + len(owner) * len(parts), "join()")
                args = (parts, *args[1:])
            else:
                _check_length(_growth(name, owner, args, kwargs), f"{name}()")
        result = super().call(__context, __obj, *args, **kwargs)
        _check_length(_sized(result), f"the result of {name or 'a call'}")
        return result

    def bounded_concat(self, values: Iterable[Any]) -> str:
        parts = [str(value) for value in values]
        _check_length(sum(map(len, parts)), "joining these values with ~")
        return "".join(parts)


def _power_too_big(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 1:
        return False
    return base.bit_length() * exponent > 8 * MAX_RENDERED_CHARS


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its growth measured before it runs and its result after."""
    passes = getattr(function, "jinja_pass_arg", None)  # Jinja passes a context or environment

    def bounded(*args: Any, **kwargs: Any) -> Any:
        lead, value, rest = (args[:1], args[1], args[2:]) if passes else ((), args[0], args[1:])
        if name == "join":
            value = list(value)  # measured, then joined: a generator cannot be read twice
            separator = str(rest[0]) if rest else str(kwargs.get("d", ""))
            _check_length(_texts(value) + len(separator) * len(value), "the join filter")
        elif name in _GROWING_FILTERS and isinstance(value, str):
            _check_length(_growth(name, value, rest, kwargs), f"the {name} filter")
        result = function(*lead, value, *rest, **kwargs)
        _check_length(_sized(result), f"the result of the {name} filter")
        return result

    if passes is not None:
        bounded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return bounded


_ENVIRONMENT = _Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
# A prompt must be the same on every run (samples are cached and seeded by it): no randomness.
del _ENVIRONMENT.globals["lipsum"]
del _ENVIRONMENT.filters["random"]
_ENVIRONMENT.filters = {
    name: _bounded_filter(name, function) for name, function in _ENVIRONMENT.filters.items()
}


class _Deadline:
    """A line tracer for template frames only: past the deadline, the next line raises."""

    def __init__(self, seconds: float) -> None:
        self.expires = time.monotonic() + seconds
        self.seconds = seconds
        self.previous: Any = None

    def __enter__(self) -> _Deadline:
        self.previous = sys.gettrace()
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(self.previous)

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == _TEMPLATE_CODE:
            return self._local
        return self.previous(frame, event, arg) if self.previous is not None else None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > self.expires:
            raise RenderLimitError(f"rendering took longer than {self.seconds:g} s")
        return self._local


class Template:
    """A compiled prompt template and the variables it uses."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            ast = _ENVIRONMENT.parse(source)
            self._template = _ENVIRONMENT.from_string(ast)  # compiled from the parsed tree
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"template syntax error on line {exc.lineno} of the template: {exc.message}",
                hint="variables are written {{ name }}; a literal '{{' is written {{ '{{' }}",
            ) from None
        except Exception as exc:  # RecursionError on absurd nesting, and the like
            raise ConfigError(
                f"the template cannot be compiled: {type(exc).__name__}: {exc}"
            ) from None
        self.variables: frozenset[str] = frozenset(meta.find_undeclared_variables(ast))

    def render(self, variables: Mapping[str, Any]) -> str:
        try:
            parts: list[str] = []
            length = 0
            with _Deadline(MAX_RENDER_SECONDS):
                for part in self._template.generate(variables):
                    length += len(part)
                    if length > MAX_RENDERED_CHARS:
                        raise ConfigError(
                            f"the rendered prompt is longer than {MAX_RENDERED_CHARS} characters"
                        )
                    parts.append(part)
            return "".join(parts)
        except ConfigError:
            raise
        except RenderLimitError as exc:
            raise ConfigError(
                f"template error: {exc}",
                hint="prompts are rendered with bounded time and size (docs/security.md)",
            ) from None
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template error: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template error: {exc}") from None
        except Exception as exc:  # a filter applied to an unsuitable value, say
            raise ConfigError(f"template error: {type(exc).__name__}: {exc}") from None
