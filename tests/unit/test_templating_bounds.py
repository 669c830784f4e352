"""Prompt templates are rendered in bounded time and memory, whatever the suite says."""

from __future__ import annotations

import json
import re
import subprocess
import tracemalloc
from typing import Any

import pytest

from promptcheck import templating
from promptcheck.errors import ConfigError
from promptcheck.templating import RenderBudget, Template
from tests.limits import run_limited

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


#: Hostile renders tried in a child process (bounded below): id -> (template, the variables as a
#: Python expression built in the child, what the refusal says). The variables stand for data a
#: suite passes in (a data file's records): they exist already, and only what the template makes
#: of them is measured.
HOSTILE = {
    "%-width": ("{{ '%0999999999d' % 1 }}", "{}", "the % operator exceeds"),
    "%-precision": ("{{ '%.999999999f' % 1.5 }}", "{}", "the % operator exceeds"),
    "%-star width": ("{{ '%*s' % (999999999, 'x') }}", "{}", "the % operator exceeds"),
    "%-key": ("{{ '%(a)s' % d }}", "{'d': {'a': ['x' * 10**6] * 1000}}", "the % operator exceeds"),
    "%-of a container": ("{{ '%s' % l }}", "{'l': ['x' * 10**6] * 1000}", "% operator exceeds"),
    "format filter star": ("{{ '%*s'|format(999999999, 'x') }}", "{}", "the format filter exceeds"),
    "format nested width": ("{{ '{:>{}}'.format('x', 999999999) }}", "{}", "format() exceeds"),
    "format precision": ("{{ '{:.{}f}'.format(1.5, 999999999) }}", "{}", "format() exceeds"),
    "format many fields": ("{{ ('{0:>999999}' * 2000).format('x') }}", "{}", "format() exceeds"),
    "format !r": ("{{ '{!r:.3}'.format(l) }}", "{'l': ['x' * 10**6] * 1000}", "format() exceeds"),
    "format_map": (
        "{{ '{a}{a}'.format_map(d) }}",
        "{'d': {'a': 'x' * 900000}}",
        "format() exceeds",
    ),
    "printing a container": ("{{ l }}", "{'l': ['x' * 10**6] * 1000}", "printing this value"),
    "~ of a container": ("{{ l ~ '' }}", "{'l': ['x' * 10**6] * 1000}", "with ~ exceeds"),
    "tojson": ("{{ l|tojson }}", "{'l': ['x' * 10**6] * 1000}", "the tojson filter's input"),
    "pprint": ("{{ l|pprint }}", "{'l': ['x' * 10**6] * 1000}", "the pprint filter's input"),
    "string": ("{{ l|string }}", "{'l': ['x' * 10**6] * 1000}", "the string filter's input"),
    "upper": ("{{ l|upper }}", "{'l': ['x' * 10**6] * 1000}", "the upper filter's input"),
    "join of containers": ("{{ l|join }}", "{'l': [['x' * 10**6]] * 1000}", "join filter's input"),
    "str.join": ("{{ ''.join(l) }}", "{'l': ['x' * 10**6] * 1000}", "join() exceeds"),
    "replace with a long text": (
        "{{ s|replace('x', n) }}",
        "{'s': 'x' * 1000, 'n': ['y' * 500000]}",
        "the replace filter exceeds",
    ),
    "a list repeated": ("{{ (range(100000)|list) * 100 }}", "{}", "repeating a value"),
    "a list of a list repeated": (
        "{% set r = range(100000)|list %}{{ ([r] * 1000000)|length }}",
        "{}",
        "repeating a value",
    ),
    "a list that shares itself": (
        "{% set ns = namespace(l=[1]) %}{% for i in range(40) %}"
        "{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l|length }}",
        "{}",
        "building this list exceeds",
    ),
    "tuples that share themselves, compared": (
        "{% set ns = namespace(a=1, b=1) %}{% for i in range(40) %}"
        "{% set ns.a = (ns.a, ns.a) %}{% set ns.b = (ns.b, ns.b) %}{% endfor %}{{ ns.a == ns.b }}",
        "{}",
        "building this tuple exceeds",
    ),
    "a dict literal that shares itself": (
        "{% set ns = namespace(d=1) %}{% for i in range(40) %}"
        "{% set ns.d = {'a': ns.d, 'b': ns.d} %}{% endfor %}{{ ns.d|length }}",
        "{}",
        "building this dict exceeds",
    ),
    "dict() that shares itself": (
        "{% set ns = namespace(d=1) %}{% for i in range(40) %}"
        "{% set ns.d = dict(a=ns.d, b=ns.d) %}{% endfor %}{{ ns.d|length }}",
        "{}",
        "building a dict exceeds",
    ),
    "namespace() that shares itself": (
        "{% set ns = namespace(d=1) %}{% for i in range(40) %}"
        "{% set ns.d = namespace(a=ns.d, b=ns.d) %}{% endfor %}",
        "{}",
        "building a Namespace exceeds",
    ),
    "squaring a number": (
        "{% set ns = namespace(x=10 ** 200000) %}{% for i in range(30) %}"
        "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x > 0 }}",
        "{}",
        "has more than 8000000 bits",
    ),
    "a power": ("{{ (2 ** 8000000 * 2) > 0 }}", "{}", "is too large a number"),
    "a block set": (
        "{% set t %}{% for i in range(2000) %}{{ s }}{% endfor %}{% endset %}{{ t|length }}",
        "{'s': 'x' * 10**6}",
        "the text of a block exceeds",
    ),
    "a macro's body": (
        "{% macro m() %}{% for i in range(2000) %}{{ s }}{% endfor %}{% endmacro %}{{ m() }}",
        "{'s': 'x' * 10**6}",
        "the text of a block exceeds",
    ),
    "a filter block": (
        "{% filter upper %}{% for i in range(2000) %}{{ s }}{% endfor %}{% endfilter %}",
        "{'s': 'x' * 10**6}",
        "the text of a block exceeds",
    ),
    "sum of lists": ("{{ l|sum(start=[]) }}", "{'l': [['x' * 1000]] * 3000}", "the sum filter"),
    "batch padding": ("{{ [1]|batch(999999999, 'x')|list }}", "{}", "the batch filter exceeds"),
    "slices": ("{{ [1]|slice(999999999)|list }}", "{}", "the slice filter exceeds"),
    "encode": ("{{ ('x'.encode() * 999999999)|length }}", "{}", "attribute 'encode'"),
    "to_bytes": ("{{ (1).to_bytes(999999999, 'big')|length }}", "{}", "attribute 'to_bytes'"),
    "translate": (
        "{{ s.translate(t) }}",
        "{'s': 'x' * 10**6, 't': {120: 'y' * 10**6}}",
        "translate",
    ),
    "list.append": ("{% set l = [] %}{% set _ = l.append(1) %}", "{}", "attribute 'append'"),
    "dict.update": ("{% set d = {} %}{% set _ = d.update(a=1) %}", "{}", "attribute 'update'"),
    # two lists doubled by reference 40 times (2**40 leaves, a few hundred objects), then
    # compared: == runs in C where no deadline reaches, so they must be refused as they grow
    "doubling by map default, then ==": (
        "{% set ns = namespace(a=1, b=1) %}{% for i in range(40) %}"
        "{% set ns.a = range(2)|map(attribute='zz', default=ns.a)|list %}"
        "{% set ns.b = range(2)|map(attribute='zz', default=ns.b)|list %}"
        "{% endfor %}{{ ns.a == ns.b }}",
        "{}",
        "the result of the list filter holds more than",
    ),
    "doubling by a call, then sort": (
        "{% set ns = namespace(a=[1]) %}{% for i in range(40) %}"
        "{% set ns.a = dict(x=ns.a, y=ns.a).values()|list %}{% endfor %}{{ ns.a|sort }}",
        "{}",
        "building a dict exceeds",
    ),
}

_CHILD = """
import json, sys, tracemalloc
from promptcheck import templating
from promptcheck.errors import ConfigError
templating.MAX_RENDER_SECONDS = 60.0  # the size bounds are under test, not the deadline
for name, (source, variables) in json.loads(sys.argv[1]).items():
    print(json.dumps({"started": name}), flush=True)
    tracemalloc.start()
    try:
        outcome = "rendered: " + templating.Template(source).render(eval(variables))[:200]
    except ConfigError as exc:
        outcome = exc.message
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(json.dumps({"name": name, "outcome": outcome, "peak": peak}), flush=True)
"""


@pytest.fixture(scope="module")
def hostile_outcomes() -> dict[str, dict[str, Any]]:
    """Every HOSTILE render in one child (1 GiB of address space, 120 s): what each gave."""
    cases = {name: (source, variables) for name, (source, variables, _) in HOSTILE.items()}
    try:
        result = run_limited(["-c", _CHILD, json.dumps(cases)], seconds=120, memory_bytes=2**30)
    except subprocess.TimeoutExpired as exc:
        lines = (exc.stdout or b"").decode(errors="replace").splitlines() if exc.stdout else []
        pytest.fail(f"a hostile render ran past the time limit: {lines[-1:]}")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    outcomes = {record["name"]: record for record in records if "name" in record}
    if len(outcomes) < len(HOSTILE):
        started = [record["started"] for record in records if "started" in record]
        pytest.fail(f"the child died during {started[-1:]}: {result.stderr[-2000:]}")
    return outcomes


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_render_is_refused_before_it_builds_anything_big(
    name: str, hostile_outcomes: dict[str, dict[str, Any]]
) -> None:
    outcome = hostile_outcomes[name]
    assert HOSTILE[name][2] in outcome["outcome"], outcome["outcome"]
    assert outcome["peak"] < 64 * 2**20, f"{outcome['peak'] / 2**20:.0f} MiB allocated first"


def test_values_passed_in_are_still_usable_whole() -> None:
    """Only what a template builds is bounded: a long document a suite passes in can still be
    cut, counted, iterated, and a long list or record picked from."""
    variables = {
        "doc": "word " * 400_000,
        "records": [{"text": "t" * 1000, "n": n} for n in range(2000)],
        "record": {"a": "x" * 3_000_000, "b": 1},
    }
    source = (
        "{{ doc|truncate(12) }} {{ doc|length }} {{ records|length }} "
        "{{ (records|first).n }} {{ (records|sort(attribute='n', reverse=true)|first).n }} "
        "{% for k, v in record.items() %}{{ k }}{% endfor %} {{ record.b }}"
    )
    assert Template(source).render(variables) == "word... 2000000 2000 0 1999 ab 1"


def test_ordinary_formatting_and_containers_still_render() -> None:
    source = (
        "{{ '%-4s|%05.1f|%(k)s' % {'k': 'v'} if false else '%-4s|%05.1f' % ('ab', 3.14159) }} "
        "{{ '{:>4}|{!r}|{k}'.format('x', 'y', k=1) }} {{ '{a}'.format_map({'a': 2}) }} "
        "{{ [1, 2]|sum }} {{ [[1], [2]]|sum(start=[]) }} {{ (1, 'a') }} {{ dict(a=1) }} "
        "{{ [1, 2]|batch(3, 0)|list }} {{ 'ab' * 2 }} {{ 3 * 4 }} {{ 2 ** 10 }} {{ 7 % 3 }}"
    )
    assert Template(source).render({}) == (
        "ab  |003.1    x|'y'|1 2 3 [1, 2] (1, 'a') {'a': 1} [[1, 2, 0]] abab 12 1024 1"
    )


class TestRenderBudget:
    """The renders of one suite share a budget: its expiry says so, not 'took longer than'."""

    LOOPS = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"

    def test_an_exhausted_budget_refuses_the_next_render(self) -> None:
        budget = RenderBudget(0.0)
        with pytest.raises(ConfigError, match=r"took more than 0 s in all \(0 renders\)"):
            Template("{{ x }}").render({"x": 1}, budget)

    def test_the_budget_stops_a_render_before_its_own_limit(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 30.0)
        budget = RenderBudget(10.0)
        budget.spent = 9.8  # what the suite's earlier renders took
        with pytest.raises(ConfigError, match="this suite's prompts took more than 10 s") as info:
            Template(self.LOOPS).render({}, budget)
        assert info.value.hint is not None and "fewer combinations" in info.value.hint
        assert budget.renders == 1

    def test_with_time_left_a_render_keeps_its_own_limit(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(templating, "MAX_RENDER_SECONDS", 0.2)
        with pytest.raises(ConfigError, match=r"rendering took longer than 0\.2 s"):
            Template(self.LOOPS).render({}, RenderBudget(60.0))

    def test_every_render_is_counted(self) -> None:
        budget = RenderBudget(60.0)
        for value in range(3):
            assert Template("{{ x }}").render({"x": value}, budget) == str(value)
        assert budget.renders == 3
        assert 0.0 <= budget.spent < 60.0
