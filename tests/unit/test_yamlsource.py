"""Safe YAML loading: the line map, and what is refused with a line and a key."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from promptcheck.errors import SuiteError
from promptcheck.yamlsource import (
    MAX_ALIAS_NODES,
    MAX_DEPTH,
    SourceMap,
    dotted,
    key_near,
    load_yaml,
)

PATH = Path("suite.yaml")


def load(text: str) -> tuple[object, SourceMap]:
    return load_yaml(textwrap.dedent(text), PATH)


def refused(text: str) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        load(text)
    assert raised.value.path == PATH
    return raised.value


SUITE = """\
suite: demo
defaults:
  samples: 5
cases:
  - id: first
    prompt: |
      Line one
      line two
    expect:
      - json
      - regex:
          pattern: "^A"
  - {id: second, prompt: p, expect: [json, {max_words: 3}]}
"""


class TestLineMap:
    def test_nested_keys_and_list_items_have_their_lines(self) -> None:
        data, source = load(SUITE)
        assert isinstance(data, dict)
        assert source.lines[()] == 1
        assert source.lines[("suite",)] == 1
        assert source.lines[("defaults", "samples")] == 3
        assert source.lines[("cases",)] == 4
        assert source.lines[("cases", 0)] == 5
        assert source.lines[("cases", 0, "id")] == 5
        assert source.lines[("cases", 0, "prompt")] == 6
        assert source.lines[("cases", 0, "expect")] == 9
        assert source.lines[("cases", 0, "expect", 0)] == 10
        assert source.lines[("cases", 0, "expect", 1)] == 11
        assert source.lines[("cases", 0, "expect", 1, "regex", "pattern")] == 12

    def test_flow_collections_have_the_line_they_are_on(self) -> None:
        _, source = load(SUITE)
        assert source.lines[("cases", 1)] == 13
        assert source.lines[("cases", 1, "expect", 1, "max_words")] == 13

    def test_a_key_whose_value_is_on_the_next_lines_has_the_key_line(self) -> None:
        _, source = load("a:\n\n  - 1\n  - 2\n")
        assert source.lines[("a",)] == 1
        assert source.lines[("a", 1)] == 4

    def test_line_of_falls_back_to_the_nearest_ancestor(self) -> None:
        _, source = load(SUITE)
        assert source.line_of(("cases", 0, "expect", 1, "regex", "mode")) == 11
        assert source.line_of(("cases", 7, "id")) == 4
        assert source.line_of(("nowhere",)) == 1

    def test_present_keeps_the_part_of_a_key_that_is_in_the_file(self) -> None:
        _, source = load(SUITE)
        assert source.present(("cases", 0, "expect", 0, "json", "fenced")) == (
            "cases",
            0,
            "expect",
            0,
        )
        assert source.present(("nowhere", "at", "all")) == ()

    def test_key_at_finds_the_value_at_a_line_and_column(self) -> None:
        _, source = load(SUITE)
        assert source.key_at(5, 10) == ("cases", 0, "id")
        assert source.key_at(13, 40) == ("cases", 1, "expect", 0)
        assert source.key_at(13, 45) == ("cases", 1, "expect", 1)
        assert source.key_at(13, 4) == ("cases", 1)

    def test_comments_and_blank_lines_before_the_document_count(self) -> None:
        _, source = load("# a comment\n\nsuite: x\n")
        assert source.lines[("suite",)] == 3

    def test_aliased_values_have_the_line_of_their_use(self) -> None:
        data, source = load(
            """\
            base: &base {samples: 3}
            defaults: *base
            """
        )
        assert data == {"base": {"samples": 3}, "defaults": {"samples": 3}}
        assert source.line_of(("defaults", "samples")) == 2

    def test_a_byte_order_mark_is_ignored(self) -> None:
        data, source = load_yaml("\ufeffsuite: x\n", PATH)
        assert data == {"suite": "x"}
        assert source.lines[("suite",)] == 1


class TestDuplicateKeys:
    def test_a_nested_duplicate_names_both_lines(self) -> None:
        error = refused(
            """\
            cases:
              - id: a
                prompt: p
                id: b
            """
        )
        assert (error.line, error.key) == (4, "cases[0].id")
        assert "duplicate key 'id' (first defined on line 2)" in error.message

    def test_duplicates_in_flow_mappings(self) -> None:
        error = refused("x: {a: 1, b: 2, a: 3}\n")
        assert (error.line, error.key) == (1, "x.a")

    def test_quoted_and_plain_spellings_are_the_same_key(self) -> None:
        assert refused("a: 1\n'a': 2\n").key == "a"

    def test_the_same_key_in_different_mappings_is_fine(self) -> None:
        data, _ = load("- {id: a}\n- {id: b}\n")
        assert data == [{"id": "a"}, {"id": "b"}]

    def test_a_merged_key_may_be_overridden(self) -> None:
        data, source = load(
            """\
            base: &base {samples: 3, seed: 1}
            defaults:
              <<: *base
              samples: 5
            """
        )
        assert isinstance(data, dict)
        assert data["defaults"] == {"samples": 5, "seed": 1}
        assert source.lines[("defaults", "samples")] == 4


class TestNonStringKeys:
    @pytest.mark.parametrize(
        ("key", "kind"),
        [
            ("1", "an integer"),
            ("1.5", "a number"),
            ("yes", "a boolean"),
            ("on", "a boolean"),
            ("null", "null"),
            ("2024-01-01", "a date"),
        ],
    )
    def test_a_key_yaml_reads_as_another_type_is_refused(self, key: str, kind: str) -> None:
        error = refused(f"vars:\n  {key}: [a]\n")
        assert (error.line, error.key) == (2, f"vars.{key}")
        assert f"YAML reads it as {kind}" in error.message
        assert error.hint == f"quote it: '{key}':"

    def test_quoted_keys_are_strings(self) -> None:
        data, _ = load("vars:\n  '1': [a]\n  \"on\": [b]\n")
        assert data == {"vars": {"1": ["a"], "on": ["b"]}}

    def test_a_list_as_key_is_refused(self) -> None:
        error = refused("x:\n  ? [a, b]\n  : 1\n")
        assert (error.line, error.key) == (2, "x")
        assert "a key must be a string" in error.message

    def test_an_unquoted_template_gets_a_hint_to_quote_it(self) -> None:
        error = refused("cases:\n  - prompt: {{ question }}\n")
        assert (error.line, error.key) == (2, "cases[0].prompt")
        assert error.hint is not None and "must be quoted" in error.hint

    def test_an_alias_as_key_is_refused(self) -> None:
        assert "not an alias" in refused("a: &k name\nx:\n  *k : 1\n").message


class TestDocuments:
    def test_empty_text_is_none(self) -> None:
        assert load("")[0] is None
        assert load("# only a comment\n")[0] is None

    def test_an_explicit_start_is_one_document(self) -> None:
        assert load("---\nsuite: x\n...\n")[0] == {"suite": "x"}

    def test_a_second_document_is_refused_at_its_start(self) -> None:
        error = refused("suite: a\n---\nsuite: b\n")
        assert (error.line, error.key) == (2, None)
        assert "one YAML document" in error.message


class TestSyntaxErrors:
    def test_an_unclosed_quote_points_at_where_it_opened(self) -> None:
        error = refused(
            """\
            suite: x
            cases:
              - id: a
                prompt: "unclosed
                expect: [json]
            """
        )
        assert (error.line, error.key) == (4, "cases[0].prompt")
        assert error.message.startswith("YAML syntax error:")

    def test_a_tab_gets_a_hint_about_tabs(self) -> None:
        error = refused("a:\n\tb: 1\n")
        assert error.line == 2
        assert error.hint is not None and "tabs" in error.hint

    def test_a_wrong_indentation_names_the_enclosing_key(self) -> None:
        error = refused(
            """\
            cases:
              - id: a
                prompt: p
               expect: [json]
            """
        )
        assert (error.line, error.key) == (4, "cases")

    def test_an_unknown_tag_is_refused_and_nothing_runs(self) -> None:
        error = refused("a: !!python/object/apply:os.system ['false']\n")
        assert (error.line, error.key) == (1, "a")
        assert "could not determine a constructor" in error.message

    @pytest.mark.parametrize(("value", "kind"), [("0x_", "an integer"), ("2024-02-30", "a date")])
    def test_a_malformed_scalar_is_a_yaml_error(self, value: str, kind: str) -> None:
        error = refused(f"a:\n  b: {value}\n")
        assert (error.line, error.key) == (2, "a.b")
        assert f"cannot read {value!r} as {kind}" in error.message

    def test_a_control_character_is_located(self) -> None:
        error = refused("a: 1\nb: x\x07y\n")
        assert (error.line, error.key) == (2, "b")
        assert "#x0007" in error.message

    def test_a_lone_surrogate_in_a_str_is_refused(self) -> None:
        with pytest.raises(SuiteError) as raised:
            load_yaml("a: 1\nb: \ud800\n", PATH)
        assert raised.value.line == 2

    def test_an_undefined_alias(self) -> None:
        error = refused("a: *nowhere\n")
        assert (error.line, error.key) == (1, "a")
        assert "refers to no anchor" in error.message

    def test_a_redefined_anchor(self) -> None:
        error = refused("a: &x 1\nb: &x 2\n")
        assert (error.line, error.key) == (2, "b")
        assert "defined twice (first on line 1)" in error.message


def laughs(levels: int, width: int = 10) -> str:
    """The "billion laughs": each level refers ``width`` times to the one before."""
    lines = ["l0: &l0 lol"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


class TestLimits:
    def test_the_billion_laughs_is_refused_quickly(self) -> None:
        started = time.perf_counter()
        error = refused(laughs(9))
        assert time.perf_counter() - started < 1.0
        assert f"aliases expand to more than {MAX_ALIAS_NODES} values" in error.message
        assert error.key is not None and error.key.startswith("l5")

    def test_a_few_aliases_are_fine(self) -> None:
        data, _ = load(laughs(3))
        assert isinstance(data, dict)
        assert len(data["l3"]) == 10

    def test_a_recursive_alias_is_refused(self) -> None:
        error = refused("a: &x [1, *x]\n")
        assert (error.line, error.key) == (1, "a[1]")
        assert "recursive alias" in error.message

    def test_nesting_up_to_the_limit_is_fine(self) -> None:
        data, _ = load("a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n")
        assert isinstance(data, dict)

    def test_deeper_nesting_is_refused_in_flow_style(self) -> None:
        error = refused("a: " + "[" * 200 + "]" * 200 + "\n")
        assert (error.line, error.key) == (1, "a")
        assert f"nested more than {MAX_DEPTH} levels" in error.message

    def test_very_deep_nesting_is_refused_quickly(self) -> None:
        started = time.perf_counter()
        error = refused("a: " + "[" * 20_000 + "]" * 20_000 + "\n")
        assert time.perf_counter() - started < 1.0
        assert error.line == 1

    def test_deeper_nesting_is_refused_in_block_style(self) -> None:
        text = "".join(" " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 2))
        error = refused(text)
        assert error.line == MAX_DEPTH + 1
        assert error.key is not None and error.key.endswith(f"k{MAX_DEPTH - 2}.k{MAX_DEPTH - 1}")


def test_key_near_parses_as_far_as_it_can() -> None:
    text = "suite: x\ncases:\n  - id: a\n    prompt: hello\n    expect: [json\n"
    assert key_near(text, PATH, 4, 14) == ("cases", 0, "prompt")


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ((), ""),
        (("cases",), "cases"),
        (("cases", 0, "expect", 1), "cases[0].expect[1]"),
        ((0, "a"), "[0].a"),
    ],
)
def test_dotted(key: tuple[str | int, ...], text: str) -> None:
    assert dotted(key) == text
