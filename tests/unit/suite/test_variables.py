"""Variables: lists as a product, rows, data files, and strategies drawn deterministically."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from promptcheck.errors import ConfigError
from promptcheck.suite.variables import (
    MAX_COMBINATIONS,
    STRATEGY_NAMES,
    expand,
    read_records,
    values_of,
)

SEED = "0:suite:case"


def values(spec: Any, base_dir: Path = Path("."), seed_text: str = SEED) -> list[Any]:
    return values_of("x", spec, base_dir=base_dir, seed_text=seed_text)


def refused(spec: Any, base_dir: Path = Path(".")) -> ConfigError:
    with pytest.raises(ConfigError) as raised:
        values(spec, base_dir)
    return raised.value


class TestExpand:
    def test_lists_combine_as_a_product_in_a_stable_order(self) -> None:
        combinations = expand(
            {"k": [3, 5], "thing": ["fruits", "colors"]}, None, base_dir=Path("."), seed_text=SEED
        )
        assert combinations == [
            {"k": 3, "thing": "fruits"},
            {"k": 3, "thing": "colors"},
            {"k": 5, "thing": "fruits"},
            {"k": 5, "thing": "colors"},
        ]

    def test_a_single_value_is_one_value(self) -> None:
        assert expand({"name": "Ann", "n": 3}, None, base_dir=Path("."), seed_text=SEED) == [
            {"name": "Ann", "n": 3}
        ]

    def test_a_literal_mapping_is_a_value_inside_a_list(self) -> None:
        combinations = expand({"user": [{"name": "Ann"}]}, None, base_dir=Path("."), seed_text=SEED)
        assert combinations == [{"user": {"name": "Ann"}}]

    def test_no_variables_is_one_empty_combination(self) -> None:
        assert expand({}, None, base_dir=Path("."), seed_text=SEED) == [{}]

    def test_rows_are_explicit_combinations(self) -> None:
        rows = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
        assert expand({}, rows, base_dir=Path("."), seed_text=SEED) == rows

    def test_rows_times_variables(self) -> None:
        combinations = expand(
            {"lang": ["en", "de"]}, [{"a": 1}, {"a": 2}], base_dir=Path("."), seed_text=SEED
        )
        assert combinations == [
            {"a": 1, "lang": "en"},
            {"a": 1, "lang": "de"},
            {"a": 2, "lang": "en"},
            {"a": 2, "lang": "de"},
        ]

    def test_errors_are_keyed_by_the_variable(self) -> None:
        with pytest.raises(ConfigError) as raised:
            expand({"ok": [1], "bad": []}, None, base_dir=Path("."), seed_text=SEED)
        assert raised.value.key == ("bad",)

    def test_too_many_combinations_are_refused_before_they_are_built(self) -> None:
        digits = list(range(10))
        variables = {name: digits for name in "abcdef"}
        with pytest.raises(ConfigError) as raised:
            expand(variables, None, base_dir=Path("."), seed_text=SEED)
        assert f"1000000 combinations, more than {MAX_COMBINATIONS}" in raised.value.message
        assert raised.value.key == ()


class TestValues:
    def test_an_empty_list_is_refused(self) -> None:
        assert "empty list" in refused([]).message

    def test_a_mapping_needs_file_or_strategy(self) -> None:
        error = refused({"name": "Ann"})
        assert "needs 'file'" in error.message
        assert error.hint is not None and "[ {...} ]" in error.hint

    def test_file_and_strategy_together_are_refused(self) -> None:
        assert "not both" in refused({"file": "a.jsonl", "strategy": "text"}).message


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    records = [{"text": "charged twice", "p": 2}, {"text": "site down", "p": 0}]
    (tmp_path / "t.jsonl").write_text(
        "\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8"
    )
    (tmp_path / "t.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "t.csv").write_text("text,p\ncharged twice,2\nsite down,0\n", encoding="utf-8")
    (tmp_path / "t.yaml").write_text(
        "- {text: charged twice, p: 2}\n- {text: site down, p: 0}\n", encoding="utf-8"
    )
    (tmp_path / "t.yml").write_text(
        "- text: charged twice\n  p: 2\n- text: site down\n  p: 0\n", encoding="utf-8"
    )
    return tmp_path


class TestFiles:
    @pytest.mark.parametrize("name", ["t.jsonl", "t.json", "t.csv", "t.yaml", "t.yml"])
    def test_a_field_of_every_record(self, data_dir: Path, name: str) -> None:
        assert values({"file": name, "field": "text"}, data_dir) == ["charged twice", "site down"]

    @pytest.mark.parametrize("name", ["t.jsonl", "t.json", "t.yaml", "t.yml"])
    def test_whole_records_without_a_field(self, data_dir: Path, name: str) -> None:
        assert values({"file": name}, data_dir) == [
            {"text": "charged twice", "p": 2},
            {"text": "site down", "p": 0},
        ]

    def test_csv_values_are_text(self, data_dir: Path) -> None:
        assert values({"file": "t.csv", "field": "p"}, data_dir) == ["2", "0"]

    def test_limit_keeps_the_first_records(self, data_dir: Path) -> None:
        assert values({"file": "t.jsonl", "field": "p", "limit": 1}, data_dir) == [2]

    def test_paths_are_relative_to_the_suite(self, data_dir: Path) -> None:
        (data_dir / "sub").mkdir()
        (data_dir / "sub" / "n.json").write_text("[1, 2]", encoding="utf-8")
        assert values({"file": "sub/n.json"}, data_dir) == [1, 2]

    @pytest.mark.parametrize(
        ("spec", "key", "message"),
        [
            ({"file": "nope.jsonl"}, ("file",), "does not exist"),
            ({"file": "x" * 5000 + ".jsonl"}, ("file",), "does not exist"),
            ({"file": "t.txt"}, ("file",), "unsupported data file type '.txt'"),
            ({"file": 5}, ("file",), "'file' must be a path"),
            ({"file": "t.jsonl", "field": "body"}, ("field",), "record 1 of"),
            ({"file": "t.jsonl", "field": ["text"]}, ("field",), "must be the name of a field"),
            ({"file": "t.jsonl", "limit": 0}, ("limit",), "positive integer"),
            ({"file": "t.jsonl", "limit": True}, ("limit",), "positive integer"),
            ({"file": "t.jsonl", "fields": "text"}, ("fields",), "unknown key 'fields'"),
        ],
    )
    def test_errors_name_the_key(
        self, data_dir: Path, spec: dict[str, Any], key: tuple[str, ...], message: str
    ) -> None:
        error = refused(spec, data_dir)
        assert error.key == key
        assert message in error.message

    def test_a_bad_jsonl_line_is_named(self, tmp_path: Path) -> None:
        (tmp_path / "b.jsonl").write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
        error = refused({"file": "b.jsonl"}, tmp_path)
        assert "b.jsonl:2: invalid JSON" in error.message

    def test_a_record_without_the_field_is_numbered(self, tmp_path: Path) -> None:
        (tmp_path / "b.jsonl").write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
        assert "record 2 of" in refused({"file": "b.jsonl", "field": "a"}, tmp_path).message

    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("e.jsonl", "\n\n", "holds no records"),
            ("o.json", '{"a": 1}', "must hold a list of records"),
            ("d.json", "[" * 100_000, "invalid JSON"),
            ("b.yaml", "- a\n- [b\n", "b.yaml:2: YAML syntax error"),
            ("s.yaml", "a: 1\n", "must hold a list of records"),
            ("c.csv", "a\n" + "x" * 200_000 + "\n", "cannot parse CSV"),
        ],
    )
    def test_unreadable_files(self, tmp_path: Path, name: str, content: str, message: str) -> None:
        (tmp_path / name).write_text(content, encoding="utf-8")
        assert message in refused({"file": name}, tmp_path).message

    def test_a_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        (tmp_path / "l.jsonl").write_bytes(b'{"a": "caf\xe9"}\n')
        assert "cannot read" in refused({"file": "l.jsonl"}, tmp_path).message

    def test_an_alias_bomb_in_a_yaml_data_file_is_refused(self, tmp_path: Path) -> None:
        lines = ["- &l0 lol"] + [
            f"- &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, 10)
        ]
        (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        assert "aliases expand" in refused({"file": "bomb.yaml"}, tmp_path).message

    def test_read_records_reads_each_format(self, data_dir: Path) -> None:
        for name in ["t.jsonl", "t.json", "t.csv", "t.yaml"]:
            assert len(read_records(data_dir / name)) == 2


class TestStrategies:
    SPEC: ClassVar[dict[str, Any]] = {
        "strategy": "integers",
        "min_value": 1,
        "max_value": 10**6,
        "count": 6,
    }

    def test_the_same_seed_draws_the_same_values(self) -> None:
        assert values(self.SPEC) == values(self.SPEC)

    def test_another_case_draws_other_values(self) -> None:
        assert values(self.SPEC, seed_text="0:suite:case") != values(
            self.SPEC, seed_text="0:suite:other-case"
        )

    def test_another_suite_seed_draws_other_values(self) -> None:
        assert values(self.SPEC, seed_text="0:suite:case") != values(
            self.SPEC, seed_text="1:suite:case"
        )

    def test_another_variable_draws_other_values(self) -> None:
        a = values_of("a", self.SPEC, base_dir=Path("."), seed_text=SEED)
        b = values_of("b", self.SPEC, base_dir=Path("."), seed_text=SEED)
        assert a != b

    def test_draws_do_not_depend_on_the_process(self) -> None:
        """The values are the same in a fresh interpreter with another hash seed."""
        code = (
            "import json, sys; from pathlib import Path; "
            "from promptcheck.suite.variables import values_of; "
            "print(json.dumps(values_of('x', json.loads(sys.argv[1]), base_dir=Path('.'), "
            f"seed_text={SEED!r})))"
        )
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        output = subprocess.run(
            [sys.executable, "-c", code, json.dumps(self.SPEC)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout
        assert json.loads(output) == values(self.SPEC)

    def test_values_are_distinct_and_within_bounds(self) -> None:
        drawn = values(self.SPEC)
        assert len(drawn) == 6 == len(set(drawn))
        assert all(1 <= value <= 10**6 for value in drawn)

    def test_fewer_values_when_the_strategy_has_fewer(self) -> None:
        assert sorted(values({"strategy": "booleans", "count": 5})) == [False, True]

    def test_the_default_count_is_five(self) -> None:
        assert len(values({"strategy": "integers"})) == 5

    @pytest.mark.parametrize(
        ("spec", "check"),
        [
            (
                {"strategy": "sampled_from", "elements": ["a", "b", "c"], "count": 3},
                lambda v: sorted(v) == ["a", "b", "c"],
            ),
            (
                {"strategy": "from_regex", "regex": "[A-Z]{3}", "fullmatch": True, "count": 3},
                lambda v: all(len(s) == 3 and s.isupper() for s in v),
            ),
            (
                {"strategy": "text", "max_size": 5, "count": 3},
                lambda v: all(isinstance(s, str) and len(s) <= 5 for s in v),
            ),
            (
                {"strategy": "floats", "min_value": 0, "max_value": 1, "count": 3},
                lambda v: all(0 <= f <= 1 for f in v),
            ),
        ],
    )
    def test_strategies_with_arguments(self, spec: dict[str, Any], check: Any) -> None:
        assert check(values(spec))

    def test_every_named_strategy_but_lists_draws(self) -> None:
        arguments: dict[str, dict[str, Any]] = {
            "sampled_from": {"elements": [1, 2]},
            "from_regex": {"regex": "a+"},
        }
        for name in STRATEGY_NAMES:
            if name != "lists":
                assert values({"strategy": name, "count": 2, **arguments.get(name, {})})

    @pytest.mark.parametrize(
        ("spec", "key", "message"),
        [
            ({"strategy": "integer"}, ("strategy",), "unknown strategy 'integer'"),
            ({"strategy": ["text"]}, ("strategy",), "unknown strategy"),
            ({"strategy": "integers", "count": 0}, ("count",), "'count' must be"),
            ({"strategy": "integers", "count": True}, ("count",), "'count' must be"),
            ({"strategy": "integers", "count": 10_001}, ("count",), "'count' must be"),
            ({"strategy": "integers", "min_value": 5, "max_value": 1}, (), "invalid arguments"),
            ({"strategy": "integers", "min_valu": 5}, (), "invalid arguments"),
            ({"strategy": "from_regex", "regex": "("}, (), "invalid arguments"),
            ({"strategy": "sampled_from"}, ("elements",), "non-empty list"),
            ({"strategy": "sampled_from", "elements": []}, ("elements",), "non-empty list"),
            ({"strategy": "lists"}, (), "'lists' needs an element strategy"),
        ],
    )
    def test_errors(self, spec: dict[str, Any], key: tuple[str, ...], message: str) -> None:
        error = refused(spec)
        assert error.key == key
        assert message in error.message

    def test_an_unknown_strategy_gets_a_did_you_mean(self) -> None:
        assert refused({"strategy": "integer"}).hint == "did you mean 'integers'?"

    def test_without_hypothesis_installed_the_error_says_how_to_install_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setitem(sys.modules, "hypothesis", None)  # import hypothesis -> ImportError
        error = refused({"strategy": "integers", "min_value": 1})
        assert "needs the hypothesis package" in error.message
        assert error.hint is not None and "promptcheck[strategies]" in error.hint


class TestUnencodableText:
    """No variable value reaches a prompt holding a lone surrogate, whatever its source."""

    @pytest.mark.parametrize(
        "spec",
        [
            {"strategy": "text", "count": 300},
            {"strategy": "characters", "count": 300},
            {"strategy": "characters", "min_codepoint": 0xD000, "max_codepoint": 0xE000},
            {"strategy": "from_regex", "regex": "[\\ud000-\\ue000]{3}", "count": 50},
        ],
        ids=["text", "characters", "characters near the surrogates", "from_regex"],
    )
    def test_strategies_draw_only_text_utf8_can_encode(self, spec: dict[str, Any]) -> None:
        drawn = values(spec)
        assert drawn
        for value in drawn:
            value.encode("utf-8")  # raises on a lone surrogate

    def test_asking_a_strategy_for_surrogates_only_is_refused(self) -> None:
        error = refused({"strategy": "characters", "categories": ["Cs"]})
        assert "No characters are allowed" in error.message

    def test_a_value_with_a_surrogate_is_refused_naming_the_variable(self) -> None:
        spec = {"strategy": "characters", "codec": None, "categories": ["Cs"], "count": 2}
        with pytest.raises(ConfigError) as raised:
            expand({"letter": spec}, None, base_dir=Path("."), seed_text=SEED)
        assert raised.value.key == ("letter",)
        assert "variable 'letter' has a value with text that is not valid Unicode" in (
            raised.value.message
        )

    def test_a_surrogate_inside_a_record_is_refused(self) -> None:
        with pytest.raises(ConfigError) as raised:
            expand(
                {"record": [{"text": ["ok", "\ud800"]}]}, None, base_dir=Path("."), seed_text=SEED
            )
        assert raised.value.key == ("record",)
        assert "\\ud800" in raised.value.message
