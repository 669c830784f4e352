"""Prompt templates: sandboxed Jinja2, undefined variables are errors, output is deterministic."""

from __future__ import annotations

from typing import Any

import pytest

from promptcheck.errors import ConfigError
from promptcheck.templating import MAX_RENDERED_CHARS, Template


def render(source: str, **variables: Any) -> str:
    return Template(source).render(variables)


def refused(source: str, **variables: Any) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        render(source, **variables)
    return raised.value


class TestRendering:
    def test_variables_filters_and_loops(self) -> None:
        source = (
            "{{ name | upper }}: "
            "{% for x in items %}{{ x }}{% if not loop.last %}, {% endif %}{% endfor %}"
        )
        assert render(source, name="ann", items=[1, 2, 3]) == "ANN: 1, 2, 3"

    def test_attributes_and_items_of_mappings(self) -> None:
        assert render("{{ t.text }} / {{ t['p'] }}", t={"text": "down", "p": 0}) == "down / 0"

    def test_text_is_not_escaped_and_keeps_its_trailing_newline(self) -> None:
        assert render("<b>{{ x }}</b>\n", x="&") == "<b>&</b>\n"

    def test_range_and_namespace_are_available(self) -> None:
        assert render("{{ range(3) | list }}") == "[0, 1, 2]"


class TestVariables:
    def test_the_variables_a_template_uses(self) -> None:
        template = Template("{{ a }} {% for x in b %}{{ x.y }}{% endfor %}{% set c = 1 %}{{ c }}")
        assert template.variables == frozenset({"a", "b"})

    def test_globals_are_not_variables(self) -> None:
        assert Template("{% for i in range(2) %}{{ i }}{% endfor %}").variables == frozenset()

    def test_an_undefined_variable_is_an_error_not_empty_text(self) -> None:
        error = refused("Hello {{ nmae }}", name="Ann")
        assert "'nmae' is undefined" in error.message

    def test_an_undefined_attribute_is_an_error(self) -> None:
        assert "has no attribute 'nmae'" in refused("{{ u.nmae }}", u={"name": "Ann"}).message

    def test_a_default_filter_makes_a_variable_optional(self) -> None:
        assert render("{{ missing | default('none') }}") == "none"


class TestErrors:
    @pytest.mark.parametrize(
        ("source", "message"),
        [
            ("{{ name }", "unexpected '}'"),
            ("{% for x in y %}", "Unexpected end of template"),
            ("{{ x | nofilter }}", "No filter named 'nofilter'"),
        ],
    )
    def test_syntax_errors(self, source: str, message: str) -> None:
        with pytest.raises(ConfigError) as raised:
            Template(source)
        assert "template syntax error on line 1 of the template" in raised.value.message
        assert message in raised.value.message
        assert raised.value.hint is not None

    def test_the_line_within_the_template(self) -> None:
        with pytest.raises(ConfigError) as raised:
            Template("line one\nline two {{ oops }\n")
        assert "on line 2 of the template" in raised.value.message

    def test_absurd_nesting_is_an_error_not_a_crash(self) -> None:
        with pytest.raises(ConfigError) as raised:
            Template("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}")
        assert "cannot be compiled" in raised.value.message

    def test_a_filter_on_the_wrong_type(self) -> None:
        assert "template error" in refused("{{ x | round }}", x="text").message

    def test_include_has_nothing_to_include(self) -> None:
        assert "template error" in refused("{% include 'other.txt' %}").message


class TestSandbox:
    @pytest.mark.parametrize(
        "source",
        [
            "{{ ''.__class__ }}",
            "{{ ''.__class__.__mro__[1].__subclasses__() }}",
            "{{ x.__init__.__globals__ }}",
            "{{ cycler.__init__.__globals__.os }}",
            "{{ x.__class__.__base__ }}",
            "{{ (x | attr('__class__')) }}",
            "{{ '{0.__class__}'.format(x) }}",
        ],
    )
    def test_internals_are_refused(self, source: str) -> None:
        error = refused(source, x="text")
        assert error.message.startswith("template error:")
        assert "unsafe" in error.message or "undefined" in error.message

    def test_variables_cannot_be_mutated(self) -> None:
        items = [1, 2]
        error = refused("{{ items.append(3) }}", items=items)
        assert "template error" in error.message
        assert items == [1, 2]

    def test_huge_repetition_is_refused(self) -> None:
        assert "exceeds" in refused("{{ 'a' * 10**9 }}").message
        assert "exceeds" in refused("{{ 10**9 * [1] }}").message

    def test_huge_powers_are_refused(self) -> None:
        assert "too large a number" in refused("{{ 7 ** 99999999 }}").message

    def test_small_arithmetic_still_works(self) -> None:
        assert (
            render("{{ 2 ** 10 }} {{ 'ab' * 2 }} {{ 3 * 4 }} {{ 2.5 * 2 }}") == "1024 abab 12 5.0"
        )

    def test_a_prompt_longer_than_the_limit_is_refused(self) -> None:
        error = refused("{{ x }}{{ x }}", x="y" * (MAX_RENDERED_CHARS // 2 + 1))
        assert f"longer than {MAX_RENDERED_CHARS} characters" in error.message


class TestDeterminism:
    def test_random_helpers_are_not_available(self) -> None:
        assert "undefined" in refused("{{ lipsum() }}").message
        with pytest.raises(ConfigError, match="No filter named 'random'"):
            Template("{{ [1, 2] | random }}")

    def test_the_same_variables_give_the_same_prompt(self) -> None:
        template = Template("{% for k, v in d | dictsort %}{{ k }}={{ v }};{% endfor %}")
        assert template.render({"d": {"b": 2, "a": 1}}) == "a=1;b=2;"
        assert template.render({"d": {"a": 1, "b": 2}}) == "a=1;b=2;"


@pytest.mark.parametrize(
    "source", ["{{ '\\ud800' }}", "{{ '%c' % 55296 }}", "{{ '{:c}'.format(55296) }}"]
)
def test_a_template_cannot_write_a_lone_surrogate(source: str) -> None:
    with pytest.raises(ConfigError, match="not valid Unicode"):
        Template(source).render({})
