"""Prompt templates: sandboxed Jinja2 in which an undefined variable is an error, not ''.

Templates come from suite files, which may be written by anyone on a team, so they are rendered
in Jinja's immutable sandbox: no attribute access to internals, no mutation of the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptcheck.errors import ConfigError

#: Longest text a template may produce, or build with ``*``: far beyond any prompt.
MAX_RENDERED_CHARS = 1_000_000


class _Environment(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with ``*`` and ``**`` bounded so that a typo cannot eat the memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and _power_too_big(left, right):
            raise SecurityError(f"{left!r} ** {right!r} is too large a number")
        if operator == "*" and _repeat_too_long(left, right):
            raise SecurityError(f"repeating a value that many times exceeds {MAX_RENDERED_CHARS}")
        return super().call_binop(context, operator, left, right)


def _power_too_big(base: Any, exponent: Any) -> bool:
    if not (isinstance(base, int) and isinstance(exponent, int)) or exponent <= 1:
        return False
    return base.bit_length() * exponent > 8 * MAX_RENDERED_CHARS


def _repeat_too_long(left: Any, right: Any) -> bool:
    sized, count = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(count, int) or not isinstance(sized, (str, list, tuple)):
        return False
    return len(sized) * count > MAX_RENDERED_CHARS


_ENVIRONMENT = _Environment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)
# A prompt must be the same on every run (samples are cached and seeded by it): no randomness.
del _ENVIRONMENT.globals["lipsum"]
del _ENVIRONMENT.filters["random"]


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
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template error: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template error: {exc}") from None
        except Exception as exc:  # a filter applied to an unsuitable value, say
            raise ConfigError(f"template error: {type(exc).__name__}: {exc}") from None
