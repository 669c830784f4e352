"""Prompt templates: sandboxed Jinja2 in which an undefined variable is an error, not ''.

Templates come from suite files, which may be written by anyone on a team, so they are rendered
in Jinja's immutable sandbox: no attribute access to internals, no mutation of the variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptcheck.errors import ConfigError

_ENVIRONMENT = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


class Template:
    """A compiled prompt template and the variables it uses."""

    def __init__(self, source: str) -> None:
        self.source = source
        try:
            ast = _ENVIRONMENT.parse(source)
            self._template = _ENVIRONMENT.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfigError(
                f"template syntax error on line {exc.lineno} of the template: {exc.message}",
                hint="variables are written {{ name }}; a literal '{{' is written {{ '{{' }}",
            ) from None
        self.variables: frozenset[str] = frozenset(meta.find_undeclared_variables(ast))

    def render(self, variables: Mapping[str, Any]) -> str:
        try:
            return self._template.render(variables)
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"template error: {exc.message}") from None
        except jinja2.TemplateError as exc:
            raise ConfigError(f"template error: {exc}") from None
        except Exception as exc:  # a filter applied to an unsuitable value, say
            raise ConfigError(f"template error: {type(exc).__name__}: {exc}") from None
