"""Whether a JSON Schema's references can all be followed, found when a suite is collected.

A ``json_schema`` check whose schema holds a reference that cannot be resolved (remote,
``file://``, a missing file or location, a link loop) leaves every sample unscored, and one whose
references lead back to themselves with no property or item in between (``{"$ref": "#"}``)
recurses until Python gives up: both are collection errors instead, with the JSON pointer of the
reference. The walk follows the specification the schema declares, with the ``referencing``
library that jsonschema itself resolves with:

* every subschema (``properties``, ``$defs``, ``allOf`` ...: the keywords of the schema's draft,
  not values of ``const``, ``enum`` or ``default`` that merely look like schemas), under the base
  URI the nearest ``$id`` gives it, so ``{"$id": "https://example.com/", "$ref": "x.json"}`` is
  the remote reference it is;
* ``$ref``, ``$dynamicRef`` (resolved statically, as jsonschema does first) and draft 2019-09's
  ``$recursiveRef`` (defined for ``"#"`` only), and then what each reference points to, in this
  document or another;
* iteratively, each subschema once (a visited set), so self-referential and mutually recursive
  schemas terminate and deep chains cannot exhaust the stack.

References and the in-place applicators (``allOf``, ``anyOf``, ``oneOf``, ``not``, ``if``,
``then``, ``else``, ``dependentSchemas``) apply a subschema to the very value being validated:
a cycle of those never ends, and a chain deeper than
:data:`~promptcheck.config.MAX_SCHEMA_IN_PLACE_DEPTH` exhausts jsonschema's recursion.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urldefrag, urljoin

from promptcheck.config import MAX_SCHEMA_IN_PLACE_DEPTH, MAX_SCHEMA_REFS
from promptcheck.errors import PromptcheckError

if TYPE_CHECKING:
    from referencing import Registry

#: Keywords that resolve a reference, with the draft-specific one handled apart.
_REFERENCES = ("$ref", "$dynamicRef", "$recursiveRef")
#: Keywords whose subschemas apply to the value their own schema applies to.
_IN_PLACE_ONE = ("not", "if", "then", "else")
_IN_PLACE_MANY = ("allOf", "anyOf", "oneOf")
_IN_PLACE_MAP = ("dependentSchemas", "dependencies")  # draft 7's dependencies may hold schemas


class SchemaRefError(PromptcheckError):
    """Why a schema's references cannot be followed, with the pointer where it shows."""


@dataclass
class _Walk:
    """The subschemas met so far, by identity: where each is, and where it applies in place."""

    wheres: dict[int, str] = field(default_factory=dict)
    in_place: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    alive: list[Any] = field(default_factory=list)  # keeps the ids above from being reused
    refs: int = 0


def unresolvable_ref(schema: Any, registry: Registry[Any]) -> str | None:
    """Why some reference of ``schema`` (or of what it references) cannot be followed, or None.

    The reason starts with where the reference is (``#/properties/a: $ref 'x.json' cannot be
    resolved: ...``; a location in another file is ``defs.json#/...``).
    """
    try:
        _check(schema, registry)
    except SchemaRefError as exc:
        return str(exc)
    return None


def _check(schema: Any, registry: Registry[Any]) -> None:
    from referencing import Resource
    from referencing.jsonschema import DRAFT202012

    root = Resource.from_contents(schema, default_specification=DRAFT202012)
    walk = _Walk()
    # (contents, its resolver, its specification, which document, where)
    stack: list[tuple[Any, Any, Any, str, str]] = [
        (schema, registry.resolver_with_root(root), DRAFT202012.detect(schema), "", "#")
    ]
    while stack:
        contents, resolver, specification, document, where = stack.pop()
        key = id(contents)
        if key in walk.wheres or not isinstance(contents, Mapping):
            continue
        walk.wheres[key] = where
        walk.alive.append(contents)
        edges = walk.in_place.setdefault(key, [])
        in_place = {id(child): keyword for keyword, child in _in_place_children(contents)}
        pointers = _pointers(contents, where)
        for child in _subschemas(specification, contents, where):
            child_specification = specification.detect(child)
            child_resolver = resolver.in_subresource(child_specification.create_resource(child))
            child_where = pointers.get(id(child), where)
            stack.append((child, child_resolver, child_specification, document, child_where))
            if id(child) in in_place:
                edges.append((id(child), in_place[id(child)]))
        for label, entry in _references(walk, contents, resolver, specification, document, where):
            stack.append(entry)
            edges.append((id(entry[0]), label))
    _check_in_place(walk)


def _references(
    walk: _Walk,
    contents: Mapping[str, Any],
    resolver: Any,
    specification: Any,
    document: str,
    where: str,
) -> Iterator[tuple[str, tuple[Any, Any, Any, str, str]]]:
    """What each reference of ``contents`` points to, resolved, as a stack entry of the walk,
    with the reference in words (``$ref '#/$defs/a'``)."""
    for keyword in _REFERENCES:
        value = contents.get(keyword)
        if not isinstance(value, str):
            continue
        walk.refs += 1
        if walk.refs > MAX_SCHEMA_REFS:
            raise SchemaRefError(f"{where}: more than {MAX_SCHEMA_REFS} references")
        target, target_resolver = _lookup(resolver, keyword, value, where)
        if not isinstance(target, (Mapping, bool)):
            raise SchemaRefError(
                f"{where}: {keyword} {value!r} points to a {type(target).__name__}, not a schema"
            )
        target_where = _target_where(value, document, keyword)
        target_document = target_where.split("#", 1)[0]
        entry = (
            target,
            target_resolver,
            specification.detect(target),
            target_document,
            target_where,
        )
        yield f"{keyword} {value!r}", entry


def _lookup(resolver: Any, keyword: str, value: str, where: str) -> tuple[Any, Any]:
    from referencing.exceptions import Unresolvable

    if keyword == "$recursiveRef" and value != "#":
        raise SchemaRefError(
            f"{where}: $recursiveRef {value!r} cannot be resolved: draft 2019-09 defines "
            "$recursiveRef for '#' only"
        )
    try:
        resolved = resolver.lookup("#" if keyword == "$recursiveRef" else value)
    except Unresolvable as exc:
        raise SchemaRefError(
            f"{where}: {keyword} {value!r} cannot be resolved: {_reason(exc)}"
        ) from None
    return resolved.contents, resolved.resolver


def _reason(exc: Exception) -> str:
    """The cause of an Unresolvable in words: the reader's own error when a file could not be
    read (a ConfigError, or the refusal to fetch), else what referencing says is missing."""
    from referencing.exceptions import NoSuchAnchor, PointerToNowhere

    cause: BaseException = exc
    for _ in range(10):  # the cause chain of a failed retrieval is short
        if cause.__cause__ is None:
            break
        cause = cause.__cause__
    message = getattr(cause, "message", None)
    if isinstance(message, str):
        return message
    if isinstance(exc, PointerToNowhere):
        return "its document has nothing at that pointer"
    if isinstance(exc, NoSuchAnchor):
        return f"its document has no anchor {exc.anchor!r}"
    return str(cause) if cause is not exc else type(exc).__name__


def _subschemas(specification: Any, contents: Mapping[str, Any], where: str) -> Iterator[Any]:
    """The subschemas of ``contents`` under its draft, or an error where a keyword holds
    something of the wrong shape (a referenced location that is not a schema)."""
    try:
        children = list(specification.subresources_of(contents))
    except (AttributeError, TypeError):
        raise SchemaRefError(f"{where}: this is not a JSON Schema that can be applied") from None
    return (child for child in children if isinstance(child, (Mapping, bool)))


def _in_place_children(contents: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for keyword in _IN_PLACE_ONE:
        if keyword in contents:
            yield keyword, contents[keyword]
    for keyword in _IN_PLACE_MANY:
        if isinstance(contents.get(keyword), list):
            yield from ((keyword, child) for child in contents[keyword])
    for keyword in _IN_PLACE_MAP:
        if isinstance(contents.get(keyword), Mapping):
            yield from ((keyword, child) for child in contents[keyword].values())


def _pointers(contents: Mapping[str, Any], where: str) -> dict[int, str]:
    """The JSON pointers (below ``where``) of the values of ``contents`` and of theirs: every
    subschema is one or two keys down (``not``, ``properties/a``, ``allOf/0``)."""
    found: dict[int, str] = {}
    for key, value in contents.items():
        pointer = f"{where}/{_escape(key)}"
        found.setdefault(id(value), pointer)
        if isinstance(value, Mapping):
            inner: Any = value.items()
        elif isinstance(value, list):
            inner = enumerate(value)
        else:
            continue
        for name, item in inner:
            found.setdefault(id(item), f"{pointer}/{_escape(name)}")
    return found


def _escape(key: object) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _target_where(value: str, document: str, keyword: str) -> str:
    """Where a reference points, for messages: ``#/$defs/a``, or ``defs.json#/item`` (a file
    relative to the document the reference is in, not to a nested ``$id``)."""
    if keyword == "$recursiveRef":
        return f"{document}#"
    uri, fragment = urldefrag(value)
    return f"{urljoin(document, uri)}#{fragment}"


def _check_in_place(walk: _Walk) -> None:
    """No cycle of in-place subschemas and references, and no chain of them too deep to apply.

    Depth-first, iteratively: ``depth`` of a finished subschema is the longest in-place chain
    below it; a subschema met again while still on the path closes a cycle.
    """
    depth: dict[int, int] = {}
    for start in walk.in_place:
        if start in depth:
            continue
        path = [start]
        on_path = {start: 0}
        labels: list[str] = []
        stack = [iter(walk.in_place[start])]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                node = path.pop()
                del on_path[node]
                if labels:
                    labels.pop()
                below = [depth.get(child, 0) for child, _ in walk.in_place.get(node, ())]
                depth[node] = 1 + max(below, default=0)
                if depth[node] > MAX_SCHEMA_IN_PLACE_DEPTH:
                    raise SchemaRefError(
                        f"{walk.wheres[node]}: references and in-place subschemas (allOf, anyOf, "
                        f"oneOf, not, if/then/else) nest more than {MAX_SCHEMA_IN_PLACE_DEPTH} "
                        "deep: more than a validator can follow"
                    )
                continue
            child, label = step
            if child in on_path:
                cycle = [*path[on_path[child] :], child]
                chain = " -> ".join(walk.wheres[node] for node in cycle)
                first = [*labels, label][on_path[child]]
                raise SchemaRefError(
                    f"{walk.wheres[cycle[0]]}: {first} refers to itself through {chain}, with no "
                    "property or item in between: validating any output would never end"
                )
            if child in depth or child not in walk.in_place:
                continue
            on_path[child] = len(path)
            path.append(child)
            labels.append(label)
            stack.append(iter(walk.in_place[child]))
