"""The ``python`` check: a plain function of the suite author's decides whether an output conforms.

For the one-off rule no built-in check expresses (the extracted email must occur in the prompt)
and that is not worth a registered check type. The function is trusted code, named explicitly by
import path; but it is not trusted to be bug-free, so whatever it raises or returns by mistake
makes the sample unscored, with a reason naming the function, and never stops the run.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from promptcheck.checks.base import (
    BuildContext,
    Check,
    CheckContext,
    CheckResult,
    NotImportedCheck,
    register_check,
)
from promptcheck.checks.params import PASSED, CheckParams, clip
from promptcheck.errors import ConfigError, PluginImportError

_NO_CONTEXT, _CONTEXT_POSITIONAL, _CONTEXT_KEYWORD = 0, 1, 2


class PythonParams(CheckParams):
    """``python: package.module:function`` is ``python: {function: package.module:function}``."""

    short_field = "function"

    function: str = Field(description="Import path of the function: 'package.module:function'.")
    args: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword arguments passed to the function after the output.",
    )


def _describe(exc: BaseException) -> str:
    """``Type: message`` of an exception, even one whose ``__str__`` is itself broken."""
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable>"
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


@dataclass(slots=True)
class PythonCheck:
    """Calls the function and turns what it returns into a CheckResult. The function is the
    suite author's and may run long: the runner calls it off the event loop, time-limited."""

    blocking = True
    name: str
    path: str
    function: Callable[..., Any]
    context_mode: int
    args: dict[str, Any] = field(default_factory=dict)

    def evaluate(self, output: str, context: CheckContext) -> CheckResult:
        try:
            return self.convert(self.call(output, context))
        except Exception as exc:
            return CheckResult.unscored(clip(f"{self.path} raised {_describe(exc)}", 200))

    def call(self, output: str, context: CheckContext) -> Any:
        if self.context_mode == _CONTEXT_KEYWORD:
            return self.function(output, context=context, **self.args)
        if self.context_mode == _CONTEXT_POSITIONAL:
            return self.function(output, context, **self.args)
        return self.function(output, **self.args)

    def convert(self, value: Any) -> CheckResult:
        """bool, ``(bool, reason)`` or a CheckResult; anything else is the function's mistake."""
        if value is True:
            return PASSED
        if value is False:
            return CheckResult.failed(f"{self.path} returned False")
        if isinstance(value, CheckResult):
            return value
        if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
            ok, reason = value
            text = reason if isinstance(reason, str) else str(reason)
            if ok:
                return CheckResult.passed(text)
            return CheckResult.failed(text or f"{self.path} returned False")
        if inspect.iscoroutine(value):
            value.close()
        return CheckResult.unscored(
            f"{self.path} returned {type(value).__name__}; "
            "expected a bool, a (bool, reason) pair or a CheckResult"
        )


@dataclass(slots=True)
class AsyncPythonCheck(PythonCheck):
    """The same for an ``async def`` function: the runner awaits the evaluation."""

    async def evaluate(self, output: str, context: CheckContext) -> CheckResult:  # type: ignore[override]
        try:
            return self.convert(await self.call(output, context))
        except Exception as exc:
            return CheckResult.unscored(clip(f"{self.path} raised {_describe(exc)}", 200))


def _context_mode(signature: inspect.Signature | None) -> int:
    """How to pass the context: only to a function that declares a parameter named ``context``."""
    parameter = signature.parameters.get("context") if signature is not None else None
    if parameter is None or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
        return _NO_CONTEXT
    if parameter.kind is parameter.POSITIONAL_ONLY:
        return _CONTEXT_POSITIONAL
    return _CONTEXT_KEYWORD


@register_check("python", PythonParams, shorthand={"type": "string"})
def build_python(params: PythonParams, context: BuildContext) -> Check:
    """A Python function decides: ``fn(output, **args)``, with ``context=`` when it declares one.

    It returns a bool, a ``(bool, reason)`` pair or a CheckResult. An exception it raises, or any
    other return value, makes the sample unscored rather than failed.
    """
    try:
        function = context.code.import_object(params.function)
    except PluginImportError as exc:
        raise ConfigError(
            exc.args[0],
            key=("function",),
            hint=exc.hint
            or "the module must be importable from the project root; write the path as "
            "'package.module:function'",
        ) from None
    if function is None:  # validate imports nothing a suite names
        return NotImportedCheck("python", params.function)
    if not callable(function):
        raise ConfigError(
            f"{params.function} is {type(function).__name__}, not a function", key=("function",)
        )
    try:
        signature: inspect.Signature | None = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no introspectable signature
        signature = None
    mode = _context_mode(signature)
    if "context" in params.args:
        raise ConfigError(
            "'context' is not an argument of its own: promptcheck passes the check context "
            "to a function that declares a 'context' parameter",
            key=("args", "context"),
        )
    if signature is not None:
        positional: list[Any] = ["output", "context"] if mode == _CONTEXT_POSITIONAL else ["output"]
        keywords = dict(params.args)
        if mode == _CONTEXT_KEYWORD:
            keywords["context"] = None
        try:
            signature.bind(*positional, **keywords)
        except TypeError as exc:
            raise ConfigError(
                f"{params.function}{signature} cannot be called with the output"
                + (f" and args {sorted(params.args)}" if params.args else "")
                + f": {exc}",
                key=("args",) if params.args else ("function",),
            ) from None
    kind = AsyncPythonCheck if inspect.iscoroutinefunction(function) else PythonCheck
    return kind("python", params.function, function, mode, dict(params.args))
