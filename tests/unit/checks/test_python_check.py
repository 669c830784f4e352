"""python: how the function is called, what it may return, and that its bugs never escape."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

import pytest

from promptcheck.checks import CheckContext, CheckResult, Status
from promptcheck.errors import ConfigError

MakeCheck = Callable[..., Any]

F = "pc_fixture_functions"


def outcome(check: Any, output: str, context: CheckContext) -> tuple[Status, str]:
    result = check.evaluate(output, context)
    if inspect.isawaitable(result):
        result = asyncio.run(result)  # type: ignore[arg-type]
    assert isinstance(result, CheckResult)
    return result.status, result.reason


def test_bool(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:is_upper")
    assert outcome(check, "YES", context) == (Status.PASS, "")
    assert outcome(check, "yes", context) == (Status.FAIL, f"{F}:is_upper returned False")


def test_pair_with_args(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", {"function": f"{F}:longer_than", "args": {"limit": 5}})
    assert outcome(check, "abcdef", context) == (Status.PASS, "6 chars vs limit 5")
    assert outcome(check, "abc", context) == (Status.FAIL, "3 chars vs limit 5")


def test_false_with_empty_reason_names_function(
    make_check: MakeCheck, context: CheckContext
) -> None:
    check = make_check("python", f"{F}:false_with_empty_reason")
    assert outcome(check, "x", context) == (
        Status.FAIL,
        f"{F}:false_with_empty_reason returned False",
    )


def test_context_positional_or_keyword(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:echoes_prompt")
    assert outcome(check, f"You asked: {context.prompt}", context)[0] is Status.PASS
    assert outcome(check, "no", context)[0] is Status.FAIL


def test_context_keyword_only_and_check_result(
    make_check: MakeCheck, context: CheckContext
) -> None:
    check = make_check("python", {"function": f"{F}:keyword_context", "args": {"word": "Denver"}})
    assert outcome(check, "Denver!", context) == (Status.PASS, "Denver echoed")
    assert outcome(check, "Boulder!", context) == (Status.FAIL, "Denver not echoed")


def test_context_positional_only(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:positional_context")
    assert outcome(check, "x", context)[0] is Status.PASS
    assert outcome(check, "x", CheckContext(prompt="p"))[0] is Status.FAIL


def test_exception_is_unscored(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:raises")
    assert outcome(check, "hello", context) == (
        Status.UNSCORED,
        f"{F}:raises raised ValueError: cannot judge 'hello'",
    )


def test_unprintable_exception(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:raises_unprintable")
    assert outcome(check, "x", context) == (
        Status.UNSCORED,
        f"{F}:raises_unprintable raised BrokenError: <unprintable>",
    )


def test_wrong_return_type_is_unscored(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:returns_number")
    assert outcome(check, "x", context) == (
        Status.UNSCORED,
        f"{F}:returns_number returned float; "
        "expected a bool, a (bool, reason) pair or a CheckResult",
    )


def test_async_function(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", f"{F}:async_contains_a")
    coroutine = check.evaluate("abc", context)
    assert inspect.iscoroutine(coroutine)
    coroutine.close()
    assert outcome(check, "abc", context) == (Status.PASS, "looked for 'a'")
    assert outcome(check, "xyz", context) == (Status.FAIL, "looked for 'a'")
    raising = make_check("python", f"{F}:async_raises")
    assert outcome(raising, "x", context) == (
        Status.UNSCORED,
        f"{F}:async_raises raised KeyError: 'missing'",
    )


def test_builtin_without_signature(make_check: MakeCheck, context: CheckContext) -> None:
    check = make_check("python", "builtins:bool", trusted=("builtins",))
    assert outcome(check, "x", context) == (Status.PASS, "")
    assert outcome(check, "", context) == (Status.FAIL, "builtins:bool returned False")


@pytest.mark.parametrize(
    ("raw", "message", "key"),
    [
        (f"{F}:missing", "has no attribute", ("function",)),
        ("no_such_module_xyz:f", "cannot import module", ("function",)),
        (f"{F}:NOT_CALLABLE", "is int, not a function", ("function",)),
        (f"{F}:takes_nothing", "cannot be called with the output", ("function",)),
        (
            {"function": f"{F}:is_upper", "args": {"limit": 1}},
            "cannot be called with the output and args \\['limit'\\]",
            ("args",),
        ),
        (
            {"function": f"{F}:accepts_anything", "args": {"context": 1}},
            "'context' is not an argument of its own",
            ("args", "context"),
        ),
    ],
)
def test_config_errors(
    make_check: MakeCheck, raw: object, message: str, key: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        make_check("python", raw)
    assert info.value.key == key


@pytest.mark.parametrize("raw", [None, {}, {"function": "m:f", "arguments": {}}, 3])
def test_invalid_params(make_check: MakeCheck, raw: object) -> None:
    with pytest.raises(ValueError, match=r"function|arguments"):
        make_check("python", raw)
