"""Prompt templates are rendered in bounded time and memory, whatever the suite says."""

from __future__ import annotations

import re
import tracemalloc

import pytest

from promptcheck import templating
from promptcheck.errors import ConfigError
from promptcheck.templating import Template

GROWING = {
    "a filter": ("{{ 'x'|center(1000000000) }}", "the center filter exceeds"),
    "a method": ("{{ 'x'.center(1000000000) }}", "center() exceeds"),
    "replace": ("{{ ('x' * 100000)|replace('x', 'y' * 100000) }}", "the replace filter exceeds"),
    "a %-format width": ("{{ '%1000000000s'|format('x') }}", "the format filter exceeds"),
    "a str.format width": ("{{ '{:>1000000000}'.format('x') }}", "format() exceeds"),
    "join of a generator": (
        "{{ range(100000)|map('string')|join('x' * 100000) }}",
        "the join filter exceeds",
    ),
    "+": ("{% set s = 'x' * 900000 %}{{ s + s }}", "joining these values exceeds"),
    "~ doubling": (
        "{% set ns = namespace(s='x') %}{% for i in range(40) %}"
        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}",
        "joining these values with ~ exceeds",
    ),
    "indent": ("{{ ('x\\n' * 100000)|indent(100000) }}", "the indent filter exceeds"),
    "wordwrap": ("{{ 'x'|wordwrap(1000000000) }}", "the wordwrap filter exceeds"),
    "expandtabs": ("{{ ('\\t' * 1000).expandtabs(1000000) }}", "expandtabs() exceeds"),
    "str.join": ("{{ ('x' * 100000).join(['a'] * 100000) }}", "join() exceeds"),
}


@pytest.mark.parametrize(("source", "message"), GROWING.values(), ids=GROWING.keys())
def test_a_growing_operation_is_refused_before_it_allocates(
    source: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 60.0)  # the size bound is under test
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=re.escape(message)):
            Template(source).render({})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated before the refusal"


@pytest.mark.parametrize(
    "source",
    [
        "{% set s = 'x' * 100000 %}{% for a in s %}{% for b in s %}{% endfor %}{% endfor %}",
        "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% for i in range(100000) %}{% endfor %}{{ f(n) }}{% endmacro %}"
        "{{ f(1) }}",
    ],
    ids=["loops over a string", "loops over ranges", "recursive macro"],
)
def test_a_render_that_runs_long_is_stopped(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 0.2)
    with pytest.raises(ConfigError, match=r"took longer than 0\.2 s|recursion|template error"):
        Template(source).render({})


def test_ordinary_templates_still_render() -> None:
    source = (
        "{% for item in items %}{{ loop.index }}. {{ item|upper|center(12) }}\n{% endfor %}"
        "{{ '{}/{}'.format(a, b) }} {{ ', '.join(items) }} {{ 'x' * 3 ~ 'y' }}"
    )
    rendered = Template(source).render({"items": ["a", "b"], "a": 1, "b": 2})
    assert rendered == "1.      A      \n2.      B      \n1/2 a, b xxxy"


def test_the_tracer_of_a_debugger_or_coverage_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    calls: list[str] = []

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        calls.append(event)
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        Template("{{ x }}").render({"x": 1})
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)
    assert calls  # the outer tracer still saw the calls outside the template
