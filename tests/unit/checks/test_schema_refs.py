"""The ``$ref`` walk of json_schema checks (``promptcheck.checks.schema_refs``): every reference
a schema can reach is resolved when the check is built, under the base URI of the nearest
``$id``, including ``$dynamicRef`` and ``$recursiveRef``; cycles that apply a schema to the same
value forever and chains too deep to apply are refused; the walk itself always ends, without
recursion. Everything runs under a time limit, since a walk that loops would never return."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from promptcheck.checks import Check, CheckContext, Status
from promptcheck.config import MAX_SCHEMA_IN_PLACE_DEPTH, MAX_SCHEMA_REFS
from promptcheck.errors import ConfigError

LIMIT_S = 60
T = TypeVar("T")
MakeCheck = Callable[..., Check]
DRAFT_2019 = "https://json-schema.org/draft/2019-09/schema"
DRAFT_7 = "http://json-schema.org/draft-07/schema#"


def within_limit(call: Callable[[], T]) -> T:
    """``call()`` in a daemon thread, failing the test if it has not returned in LIMIT_S."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # handed to the test's thread
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(LIMIT_S)
    assert outcome, f"still running after {LIMIT_S} s"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project with schema files that references point at."""
    (tmp_path / "defs.json").write_text(
        json.dumps({"$defs": {"sku": {"type": "string", "pattern": "^[A-Z]+$"}}})
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "item.json").write_text(json.dumps({"type": "integer"}))
    (tmp_path / "cycle_a.json").write_text(json.dumps({"$ref": "cycle_b.json"}))
    (tmp_path / "cycle_b.json").write_text(json.dumps({"not": {"not": {"$ref": "cycle_a.json"}}}))
    return tmp_path


def refusal(make_check: MakeCheck, schema: Any, folder: Path) -> str:
    with pytest.raises(ConfigError) as raised:
        within_limit(lambda: make_check("json_schema", schema, base_dir=folder))
    assert raised.value.key == ("schema",)
    return raised.value.message


def statuses(check: Check, outputs: list[str]) -> list[Status]:
    context = CheckContext(prompt="p", case_id="c")
    return [check.evaluate(output, context).status for output in outputs]


def chain(length: int) -> dict[str, Any]:
    """``$ref`` to ``$ref`` ``length`` times, then an object."""
    defs: dict[str, Any] = {f"a{i}": {"$ref": f"#/$defs/a{i + 1}"} for i in range(length)}
    defs[f"a{length}"] = {"type": "object"}
    return {"$ref": "#/$defs/a0", "$defs": defs}


TREE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#"}}},
}


@pytest.mark.parametrize(
    ("schema", "outputs", "expected"),
    [
        pytest.param(
            {"allOf": [True, {"not": False}], "items": True, "$defs": {"b": False}},
            ["[1]"],
            [Status.PASS],
            id="boolean-subschemas",
        ),
        pytest.param(
            TREE,
            ['{"kids": [{"kids": [{"name": "x"}]}]}', '{"kids": [{"name": 3}]}'],
            [Status.PASS, Status.FAIL],
            id="recursion-through-items",
        ),
        pytest.param(
            {
                "$dynamicAnchor": "node",
                "type": "object",
                "properties": {"next": {"$dynamicRef": "#node"}},
            },
            ['{"next": {"next": {}}}', '{"next": 3}'],
            [Status.PASS, Status.FAIL],
            id="dynamic-anchor",
        ),
        pytest.param(
            {
                "$schema": DRAFT_2019,
                "$recursiveAnchor": True,
                "type": "object",
                "properties": {"next": {"$recursiveRef": "#"}},
            },
            ['{"next": {}}', '{"next": []}'],
            [Status.PASS, Status.FAIL],
            id="recursive-ref-2019",
        ),
        pytest.param(
            {"properties": {"n": {"$id": "sub/", "$ref": "item.json"}}},
            ['{"n": 1}', '{"n": "one"}'],
            [Status.PASS, Status.FAIL],
            id="nested-id-to-a-project-file",
        ),
        pytest.param(
            {"properties": {"sku": {"$ref": "defs.json#/$defs/sku"}}},
            ['{"sku": "ABC"}', '{"sku": "abc"}'],
            [Status.PASS, Status.FAIL],
            id="pointer-into-another-file",
        ),
        pytest.param(
            {"const": {"$ref": "https://example.com/not-a-reference"}},
            ['{"$ref": "https://example.com/not-a-reference"}', "{}"],
            [Status.PASS, Status.FAIL],
            id="a-const-that-looks-like-a-reference",
        ),
        pytest.param(
            {"$schema": DRAFT_7, "items": [{"$ref": "#/definitions/n"}], "definitions": {"n": {}}},
            ["[1]"],
            [Status.PASS],
            id="draft-7-items-array",
        ),
        pytest.param(
            chain(MAX_SCHEMA_IN_PLACE_DEPTH - 2),
            ["{}", "[]"],
            [Status.PASS, Status.FAIL],
            id="a-long-chain-within-the-limit",
        ),
    ],
)
def test_schemas_whose_references_resolve_are_built_and_applied(
    make_check: MakeCheck, folder: Path, schema: Any, outputs: list[str], expected: list[Status]
) -> None:
    check = within_limit(lambda: make_check("json_schema", schema, base_dir=folder))
    assert statuses(check, outputs) == expected


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        pytest.param(
            {"properties": {"a": {"$dynamicRef": "https://example.com/meta#meta"}}},
            "#/properties/a: $dynamicRef 'https://example.com/meta#meta' cannot be resolved: "
            "refusing to fetch https://example.com/meta",
            id="dynamic-ref-remote",
        ),
        pytest.param(
            {"items": {"$dynamicRef": "#nowhere"}},
            "#/items: $dynamicRef '#nowhere' cannot be resolved: its document has no anchor",
            id="dynamic-ref-no-anchor",
        ),
        pytest.param(
            {"$schema": DRAFT_2019, "properties": {"a": {"$recursiveRef": "https://x.test/"}}},
            "#/properties/a: $recursiveRef 'https://x.test/' cannot be resolved: draft 2019-09 "
            "defines $recursiveRef for '#' only",
            id="recursive-ref-elsewhere",
        ),
        pytest.param(
            {"properties": {"a": {"$id": "https://example.com/s/", "$ref": "item.json"}}},
            "#/properties/a: $ref 'item.json' cannot be resolved: refusing to fetch "
            "https://example.com/s/item.json",
            id="relative-ref-against-a-remote-id",
        ),
        pytest.param(
            {"$id": "https://example.com/root.json", "$ref": "defs.json"},
            "#: $ref 'defs.json' cannot be resolved: refusing to fetch https://example.com/defs",
            id="relative-ref-against-a-remote-root-id",
        ),
        pytest.param(
            {"allOf": [{"$ref": "#/$defs/a"}], "$defs": {"a": {"$ref": "defs.json#/$defs/none"}}},
            "#/$defs/a: $ref 'defs.json#/$defs/none' cannot be resolved: its document has "
            "nothing at that pointer",
            id="missing-pointer-in-another-file",
        ),
        pytest.param(
            {"$ref": "#/const", "const": {"$ref": "file:///etc/passwd"}},
            "#/const: $ref 'file:///etc/passwd' cannot be resolved",
            id="a-reference-to-a-value-that-is-then-a-schema",
        ),
        pytest.param(
            {"$ref": "#/enum", "enum": [1, 2]},
            "#: $ref '#/enum' points to a list, not a schema",
            id="a-reference-to-something-that-is-no-schema",
        ),
        pytest.param(
            {"$ref": "#"},
            "#: $ref '#' refers to itself through # -> #, with no property or item in between",
            id="itself",
        ),
        pytest.param(
            {
                "$ref": "#/$defs/a",
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            },
            "#/$defs/a: $ref '#/$defs/b' refers to itself through #/$defs/a -> #/$defs/b -> "
            "#/$defs/a",
            id="mutual",
        ),
        pytest.param(
            {"if": {"type": "object"}, "then": {"allOf": [{"$ref": "#"}]}},
            "#: then refers to itself through # -> #/then -> #/then/allOf/0 -> #",
            id="through-in-place-applicators",
        ),
        pytest.param(
            {"$dynamicAnchor": "x", "anyOf": [{"$dynamicRef": "#x"}]},
            "refers to itself through # -> #/anyOf/0 -> #",
            id="dynamic-ref-to-itself",
        ),
        pytest.param(
            {"$ref": "cycle_a.json"},
            "cycle_a.json#: $ref 'cycle_b.json' refers to itself through cycle_a.json# -> "
            "cycle_b.json# -> cycle_b.json#/not -> cycle_b.json#/not/not -> cycle_a.json#",
            id="across-files",
        ),
        pytest.param(
            chain(MAX_SCHEMA_IN_PLACE_DEPTH + 5),
            f"nest more than {MAX_SCHEMA_IN_PLACE_DEPTH} deep",
            id="a-chain-too-deep-to-apply",
        ),
        pytest.param(
            chain(MAX_SCHEMA_REFS + 1),
            f"more than {MAX_SCHEMA_REFS} references",
            id="more-references-than-allowed",
        ),
    ],
)
def test_references_that_cannot_be_followed_are_refused_at_their_pointer(
    make_check: MakeCheck, folder: Path, schema: Any, message: str
) -> None:
    assert message in refusal(make_check, schema, folder)


def test_the_walk_has_no_recursion_to_exhaust(make_check: MakeCheck, folder: Path) -> None:
    """A chain three times deeper than Python's default recursion limit: refused as too deep
    by an iterative walk, never a RecursionError."""
    message = refusal(make_check, chain(3000), folder)
    assert f"nest more than {MAX_SCHEMA_IN_PLACE_DEPTH} deep" in message


def test_many_paths_to_one_subschema_walk_it_once(make_check: MakeCheck, folder: Path) -> None:
    """Each of 100 definitions refers to every later one (4,950 references, and more paths from
    the first to the last than atoms in the sky): each subschema is walked once."""
    n = 100
    defs: dict[str, Any] = {
        f"d{i}": {
            "type": ["null", "object"],
            "properties": {f"x{j}": {"$ref": f"#/$defs/d{j}"} for j in range(i + 1, n)},
        }
        for i in range(n)
    }
    schema = {"$ref": "#/$defs/d0", "$defs": defs}
    check = within_limit(lambda: make_check("json_schema", schema, base_dir=folder))
    assert statuses(check, ["null", '{"x5": {"x99": null}}', '{"x5": {"x99": 1}}']) == [
        Status.PASS,
        Status.PASS,
        Status.FAIL,
    ]
