"""Prompt templates: sandboxed Jinja2 in which an undefined variable is an error, not ''.

Templates come from suite files, which may be written by anyone on a team (or a pull request from
outside), so they are rendered in Jinja's immutable sandbox (no attribute access to internals,
no mutation of the variables) and every render is bounded in time and memory:

* every text a template builds is measured before it is built: ``*``, ``+``, ``~`` and ``%``,
  the filters and string methods that can grow a text (``center``, ``indent``, ``replace``,
  ``format`` field by field ...), printing a value and joining a block's parts are refused once
  their result would pass :data:`MAX_RENDERED_CHARS`;
* so is every container a template builds (a list, tuple or dict written in it, ``*`` and ``+``
  of lists, ``dict()``, ``namespace()``): its text, counted by :func:`textsize.text_size` with a
  shared part once per appearance, must fit the same bound, so that no value hides 2**40 leaves
  in a few bytes for printing, comparing or hashing to unfold in C, where no deadline reaches;
* a number ``*`` or ``**`` would make is refused past :data:`MAX_TEMPLATE_INT_BITS`, and the few
  methods whose growth cannot be measured first (``encode``, ``translate``, ``to_bytes`` ...)
  are not available;
* a render has :data:`MAX_RENDER_SECONDS`, and the renders of one suite share a
  :class:`RenderBudget`: a line tracer on the template's own frames (and on nothing else) checks
  the clock, so nested loops that never call anything still stop.

An overrun is a ConfigError naming the limit, reported against the case like any template error.
"""

from __future__ import annotations

import sys
import time
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import update_wrapper
from itertools import chain
from types import FrameType
from typing import Any

import jinja2
from jinja2 import meta, nodes, pass_environment
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
)
from markupsafe import Markup

from promptcheck.config import (
    MAX_RENDER_SECONDS,
    MAX_RENDERED_CHARS,
    MAX_RENDERED_ITEMS,
    MAX_TEMPLATE_INT_BITS,
)
from promptcheck.errors import ConfigError
from promptcheck.files import invalid_text
from promptcheck.textsize import percent_size, spec_size, text_size

#: The file name Jinja gives the code it compiles templates into: the frames the tracer watches.
_TEMPLATE_CODE = "<template>"
#: String methods whose result can be far longer than the string they are called on
#: (``format`` and ``format_map`` are measured field by field, by :class:`_BoundedFormatter`).
_GROWING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join"})
#: Methods whose result's size cannot be told before it is built, and that no prompt needs.
_REFUSED_METHODS = frozenset({"encode", "to_bytes", "translate", "maketrans", "fromkeys"})
#: Filters whose result can be far longer than their input.
_GROWING_FILTERS = frozenset({"center", "indent", "replace", "wordwrap"})
#: Filters that rearrange or count values without writing them as text: their arguments are not
#: measured (the others write theirs with ``str``, ``repr`` or JSON, so theirs are).
_STRUCTURAL_FILTERS = frozenset(
    {
        "abs", "attr", "batch", "count", "d", "default", "dictsort", "filesizeformat", "first",
        "float", "groupby", "int", "items", "last", "length", "list", "map", "max", "min",
        "reject", "rejectattr", "reverse", "round", "select", "selectattr", "slice", "sort",
        "sum", "unique",
    }
)  # fmt: skip


class RenderLimitError(SecurityError):
    """A template went past a bound on its time or on the size of what it builds."""


class _DeadlineError(RenderLimitError):
    """A render ran out of time (its own, or what its suite's budget had left)."""


class RenderBudget:
    """The time the renders of one suite may take together (:data:`MAX_SUITE_RENDER_SECONDS`
    at collection): one per suite load, passed down, so nothing is shared between suites."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0
        self.renders = 0

    @property
    def left(self) -> float:
        return self.seconds - self.spent

    def exhausted(self) -> ConfigError:
        return ConfigError(
            f"rendering this suite's prompts took more than {self.seconds:g} s in all "
            f"({self.renders} renders), the most one suite may take",
            hint="render fewer combinations (fewer values, or 'limit' / 'sample' on data "
            "files) or simpler templates (docs/security.md)",
        )


def _check_length(length: int, what: str) -> None:
    if length > MAX_RENDERED_CHARS:
        raise RenderLimitError(f"{what} exceeds {MAX_RENDERED_CHARS} characters")


def _check_result(value: Any, what: str) -> None:
    """What a filter or call returned: a text within the length bound, a container within
    :data:`MAX_RENDERED_ITEMS` items, counted as ``==``, ``sort`` or ``in`` would walk them (a
    part shared twice counts twice). A list doubled by reference forty times (``map`` with a
    ``default``) holds a few hundred objects and 2**40 items: it is refused as it grows, before
    C code that no deadline reaches walks it. A long text passed in stays one item, so a suite's
    records can still be sorted whole."""
    if isinstance(value, (str, bytes)):
        _check_length(len(value), what)
    elif (
        isinstance(value, (list, tuple, dict, set, frozenset))
        and _items(value, MAX_RENDERED_ITEMS) > MAX_RENDERED_ITEMS
    ):
        raise RenderLimitError(f"{what} holds more than {MAX_RENDERED_ITEMS} items")


def _items(value: Any, limit: int) -> int:
    """How many items walking ``value`` visits (shared parts each time), stopping past
    ``limit``."""
    count = 0
    stack = [value]
    while stack and count <= limit:
        current = stack.pop()
        count += 1
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, (list, tuple, set, frozenset)):
            stack.extend(current)
    return count


def _part_size(value: Any) -> int:
    """The length of ``str(value)``: exact for a text, estimated (and capped) for the rest."""
    if isinstance(value, (str, bytes)):
        return len(value)
    return text_size(value, MAX_RENDERED_CHARS)


def _parts_size(values: Iterable[Any]) -> int:
    total = 0
    for value in values:
        total += _part_size(value)
        if total > MAX_RENDERED_CHARS:
            break
    return total


def _growth(name: str, text: str | bytes, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """An upper bound on the length of ``text.name(*args, **kwargs)`` (a string method, or the
    filter of that name applied to ``text``) for the operations that can grow a text."""
    numbers = [a for a in (*args, *kwargs.values()) if isinstance(a, int)]
    if name in ("center", "ljust", "rjust", "zfill", "wordwrap"):
        return len(text) + max(numbers, default=0)
    if name == "indent":
        lines = text.count("\n") if isinstance(text, str) else text.count(b"\n")
        return len(text) + max(numbers, default=4) * (lines + 1)
    if name == "expandtabs":
        return len(text) * max(numbers, default=8)
    if name == "replace" and len(args) >= 2:
        if isinstance(text, bytes):
            old_bytes, new_bytes = args[0], args[1]
            if not (isinstance(old_bytes, bytes) and isinstance(new_bytes, bytes)):
                return len(text)  # bytes.replace raises TypeError
            count = text.count(old_bytes) if old_bytes else len(text) + 1
            return len(text) + count * max(len(new_bytes) - len(old_bytes), 0)
        if _parts_size(args[:2]) > MAX_RENDERED_CHARS:
            return MAX_RENDERED_CHARS + 1
        old, new = str(args[0]), str(args[1])  # as the filter writes them
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * max(len(new) - len(old), 0)
    return len(text)


class _BoundedFormatter(SandboxedFormatter):
    """``str.format`` with each field counted (the text of its value and the widths its spec
    asks for, nested fields resolved) before the field is written."""

    size = 0

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        self.size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:  # !r, !s, !a write the value before its spec is applied
            _check_length(self.size + _part_size(value), "format()")
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        self.size += _part_size(value) + spec_size(format_spec, MAX_RENDERED_CHARS)
        _check_length(self.size, "format()")
        return super().format_field(value, format_spec)


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    """The same for ``Markup.format`` (a value marked ``|safe``)."""


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator with ``~`` routed through :meth:`_Environment.bounded_concat`,
    and the lists, tuples and dicts a template writes through :meth:`_Environment.built`."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.built(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.built(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment's targets: {% for a, b in ... %}
            super().visit_Tuple(node, frame)
            return
        self.write("environment.built(")
        super().visit_Tuple(node, frame)
        self.write(")")


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with every way of growing a text or a container measured first."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _power_too_big(left, right):
            raise RenderLimitError(f"{left!r} ** {right!r} is too large a number")
        if operator == "*":
            _check_product(left, right)
        if operator == "+" and isinstance(left, (str, bytes, list, tuple)):
            _check_length(_part_size(left) + _part_size(right), "joining these values")
        if operator == "%" and isinstance(left, str):
            _check_length(percent_size(left, right, MAX_RENDERED_CHARS), "the % operator")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(__obj, "__name__", "")
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes)) and name in _GROWING_METHODS:
            if name == "join":
                parts = list(args[0]) if args else []
                _check_length(_parts_size(parts) + len(owner) * len(parts), "join()")
                args = (parts, *args[1:])
            else:
                _check_length(_growth(name, owner, args, kwargs), f"{name}()")
        elif isinstance(__obj, type):  # dict(...), namespace(...): a container of the arguments
            _check_length(text_size((args, kwargs), MAX_RENDERED_CHARS), f"building a {name}")
        result = super().call(__context, __obj, *args, **kwargs)
        _check_result(result, f"the result of {name or 'a call'}")
        return result

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if attr in _REFUSED_METHODS and callable(value):
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format`` and ``format_map``, with the bounded formatter."""
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        owner: Any = value.__self__
        if not isinstance(owner, str):
            return None
        formatter: _BoundedFormatter = (
            _BoundedEscapeFormatter(self, escape=owner.escape)
            if isinstance(owner, Markup)
            else _BoundedFormatter(self)
        )
        takes_mapping = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            if takes_mapping:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one argument")
                kwargs, args = args[0], ()
            return type(owner)(formatter.vformat(owner, args, kwargs))

        return update_wrapper(wrapper, value)

    def bounded_concat(self, values: Iterable[Any]) -> str:
        values = tuple(values)
        _check_length(_parts_size(values), "joining these values with ~")
        return "".join(map(str, values))

    def built(self, value: Any) -> Any:
        """A list, tuple or dict the template wrote, once its text is known to fit."""
        _check_length(text_size(value, MAX_RENDERED_CHARS), f"building this {type(value).__name__}")
        return value

    def concat(self, parts: Iterable[str]) -> str:
        """The parts of a block (``{% set %}``, a macro, ``{% filter %}``), measured, joined."""
        texts = list(parts)
        _check_length(sum(map(len, texts)), "the text of a block")
        return "".join(texts)


def _check_product(left: Any, right: Any) -> None:
    """``left * right``: a number within its bits, a repeated value within the text bound."""
    if isinstance(left, int) and isinstance(right, int):
        if left.bit_length() + right.bit_length() > MAX_TEMPLATE_INT_BITS:
            raise RenderLimitError(
                f"the product of these numbers has more than {MAX_TEMPLATE_INT_BITS} bits"
            )
        return
    sized, count = (left, right) if isinstance(right, int) else (right, left)
    if isinstance(count, int) and isinstance(sized, (str, bytes, list, tuple)):
        _check_length(_part_size(sized) * count, "repeating a value that many times")


def _printable(value: Any) -> Any:
    """Jinja's ``finalize``: a value about to be printed (``{{ value }}``) is measured first."""
    if not isinstance(value, str):
        _check_length(text_size(value, MAX_RENDERED_CHARS), "printing this value")
    return value


def _power_too_big(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 1:
        return False
    return base.bit_length() * exponent > MAX_TEMPLATE_INT_BITS


@pass_environment
def _concatenating_sum(
    environment: jinja2.Environment, iterable: Iterable[Any], attribute: Any = None, start: Any = 0
) -> Any:
    """Jinja's ``sum``, except that lists and tuples are concatenated in one pass (``sum`` adds
    them pairwise, quadratic time in C, where no deadline reaches) once measured."""
    if attribute is not None:
        iterable = map(make_attrgetter(environment, attribute), iterable)
    if not isinstance(start, (list, tuple)):
        return sum(iterable, start)
    items = list(iterable)
    _check_length(_part_size(start) + _parts_size(items), "the sum filter")
    for item in items:
        if not isinstance(item, type(start)):
            kind = type(start).__name__
            raise TypeError(f'can only concatenate {kind} (not "{type(item).__name__}") to {kind}')
    return type(start)(chain(start, *items))


def _filter_argument(
    rest: tuple[Any, ...], kwargs: Mapping[str, Any], position: int, keyword: str
) -> Any:
    """A filter's argument, given by position or by keyword."""
    return rest[position] if len(rest) > position else kwargs.get(keyword)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its growth measured before it runs and its result after."""
    passes = getattr(function, "jinja_pass_arg", None)  # Jinja passes a context or environment

    def bounded(*args: Any, **kwargs: Any) -> Any:
        lead, value, rest = (args[:1], args[1], args[2:]) if passes else ((), args[0], args[1:])
        if name not in _STRUCTURAL_FILTERS:  # it writes its arguments as text
            for argument in (value, *rest, *kwargs.values()):
                if not isinstance(argument, str):
                    _check_length(_part_size(argument), f"the {name} filter's input")
        if name == "join":
            value = list(value)  # measured, then joined: a generator cannot be read twice
            separator = _filter_argument(rest, kwargs, 0, "d") or ""
            _check_length(
                _parts_size(value) + _part_size(separator) * len(value), "the join filter"
            )
        elif name == "format" and isinstance(value, str):  # value % (args or kwargs)
            values = kwargs or tuple(rest)
            _check_length(percent_size(value, values, MAX_RENDERED_CHARS), "the format filter")
        elif name in _GROWING_FILTERS and isinstance(value, str):
            _check_length(_growth(name, value, rest, kwargs), f"the {name} filter")
        elif name in ("batch", "slice"):  # batch pads the last batch, slice makes every slice
            count = _filter_argument(rest, kwargs, 0, "linecount" if name == "batch" else "slices")
            fill = _filter_argument(rest, kwargs, 1, "fill_with")
            if isinstance(count, int) and (fill is not None or name == "slice"):
                each = 2 + (0 if fill is None else _part_size(fill))
                _check_length(count * each, f"the {name} filter")
        result = function(*lead, value, *rest, **kwargs)
        _check_result(result, f"the result of the {name} filter")
        return result

    if passes is not None:
        bounded.jinja_pass_arg = passes  # type: ignore[attr-defined]
    return bounded


_ENVIRONMENT = _Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
    finalize=_printable,
)
# A prompt must be the same on every run (samples are cached and seeded by it): no randomness.
del _ENVIRONMENT.globals["lipsum"]
del _ENVIRONMENT.filters["random"]
_ENVIRONMENT.filters["sum"] = _concatenating_sum
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
            raise _DeadlineError(f"rendering took longer than {self.seconds:g} s")
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

    def render(self, variables: Mapping[str, Any], budget: RenderBudget | None = None) -> str:
        """The text, within :data:`MAX_RENDER_SECONDS` and what ``budget`` has left (its
        expiry is a ConfigError that says so)."""
        seconds = MAX_RENDER_SECONDS
        if budget is not None:
            if budget.left <= 0:
                raise budget.exhausted()
            seconds = min(seconds, budget.left)
        started = time.monotonic()
        try:
            return self._render(variables, seconds)
        except _DeadlineError as exc:
            if seconds < MAX_RENDER_SECONDS and budget is not None:
                raise budget.exhausted() from None
            raise _template_error(exc) from None
        except RenderLimitError as exc:
            raise _template_error(exc) from None
        finally:
            if budget is not None:
                budget.spent += time.monotonic() - started
                budget.renders += 1

    def _render(self, variables: Mapping[str, Any], seconds: float) -> str:
        try:
            parts: list[str] = []
            length = 0
            with _Deadline(seconds):
                for part in self._template.generate(variables):
                    length += len(part)
                    if length > MAX_RENDERED_CHARS:
                        raise ConfigError(
                            f"the rendered prompt is longer than {MAX_RENDERED_CHARS} characters"
                        )
                    parts.append(part)
            text = "".join(parts)
            unencodable = invalid_text(text)
            if unencodable is not None:  # '\ud800', '%c' % 55296: no model or store takes it
                raise ConfigError(
                    f"the rendered text holds {unencodable}, which is not valid Unicode "
                    "(a lone surrogate)",
                    hint="write the character itself, not a \\ud800-\\udfff escape or code",
                )
            return text
        except (ConfigError, RenderLimitError):
            raise
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template error: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template error: {exc}") from None
        except Exception as exc:  # a filter applied to an unsuitable value, say
            raise ConfigError(f"template error: {type(exc).__name__}: {exc}") from None


def _template_error(exc: RenderLimitError) -> ConfigError:
    return ConfigError(
        f"template error: {exc}",
        hint="prompts are rendered with bounded time and size (docs/security.md)",
    )
