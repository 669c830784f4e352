"""The JSON Schema of the suite format, generated from the pydantic models and the registries.

Editors use it to validate and complete suites (``# yaml-language-server: $schema=...``). The
check and backend parts come from the registries, so a project's own checks appear in the schema
that ``promptcheck schema`` prints inside that project.
"""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

from promptcheck.backends.base import BACKENDS
from promptcheck.checks.base import CHECKS
from promptcheck.suite.format import SuiteModel
from promptcheck.suite.variables import STRATEGY_NAMES

SCHEMA_ID = "https://promptcheck.dev/schema/suite.schema.json"


def suite_schema() -> dict[str, Any]:
    """The whole schema: the suite model with ``expect``, ``vars`` and ``models`` made precise."""
    schema = SuiteModel.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    definitions = schema.setdefault("$defs", {})
    case = definitions["CaseModel"]["properties"]
    case["expect"]["items"] = {"anyOf": _check_schemas(definitions)}
    case["vars"]["additionalProperties"] = _variable_schema()
    suite_models = schema["properties"]["models"]
    suite_models["additionalProperties"] = {"anyOf": _backend_schemas(definitions)}
    return schema


def _check_schemas(definitions: dict[str, Any]) -> list[dict[str, Any]]:
    bare: list[str] = []
    shapes: list[dict[str, Any]] = []
    for name, check_type in CHECKS:
        params = _inline(check_type.params.model_json_schema(), definitions)
        forms = [params]
        if check_type.shorthand is not None:
            forms.append(dict(check_type.shorthand))
        if not params.get("required"):
            bare.append(name)
            forms.append({"type": "null"})
        shapes.append(
            {
                "type": "object",
                "description": check_type.description,
                "properties": {name: {"anyOf": forms, "description": check_type.description}},
                "required": [name],
                "additionalProperties": False,
            }
        )
    return [{"enum": bare, "description": "A check with no parameters."}, *shapes]


def _backend_schemas(definitions: dict[str, Any]) -> list[dict[str, Any]]:
    shapes = []
    for name, backend_type in BACKENDS:
        params = _inline(backend_type.params.model_json_schema(), definitions)
        properties = dict(params.get("properties", {}))
        properties["backend"] = {"const": name, "description": backend_type.description}
        shapes.append(
            {
                "type": "object",
                "properties": properties,
                "required": ["backend", *params.get("required", [])],
                "additionalProperties": False,
            }
        )
    return shapes


def _variable_schema() -> dict[str, Any]:
    return {
        "anyOf": [
            {"type": "array", "minItems": 1, "description": "Values, combined as a product."},
            {"type": ["string", "number", "boolean"], "description": "One value."},
            {
                "type": "object",
                "description": "Values from a .jsonl, .json, .csv, .yaml or .parquet file: "
                "every record or its field, the first 'limit' or a seeded 'sample'.",
                "properties": {
                    "file": {"type": "string"},
                    "field": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1},
                    "sample": {"type": "integer", "minimum": 1},
                },
                "required": ["file"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "Values from a Hugging Face dataset saved on disk "
                "(save_to_disk); 'split' for a dataset with splits.",
                "properties": {
                    "dataset": {"type": "string"},
                    "split": {"type": "string"},
                    "field": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1},
                    "sample": {"type": "integer", "minimum": 1},
                },
                "required": ["dataset"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "description": "Values drawn by a hypothesis strategy from the suite seed; "
                "other keys are the strategy's arguments.",
                "properties": {
                    "strategy": {"enum": list(STRATEGY_NAMES)},
                    "count": {"type": "integer", "minimum": 1, "maximum": 10000},
                },
                "required": ["strategy"],
            },
        ]
    }


def _inline(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """Move a sub-model's ``$defs`` into the top-level definitions (names are unique enough)."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        definitions.setdefault(name, definition)
    schema.pop("title", None)
    return schema


def shipped_schema() -> dict[str, Any]:
    """The schema file shipped in the package (built-in checks and backends only)."""
    text = resources.files("promptcheck").joinpath("schema/suite.schema.json").read_text("utf-8")
    result: dict[str, Any] = json.loads(text)
    return result


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
