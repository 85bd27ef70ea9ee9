"""``storeplug openapi``: the API's OpenAPI document for client generators, byte for byte the
same on every run and machine, so a committed client can be checked for staleness.

It is Litestar's document of the app with the built-in plugins (and any installed by entry
point), narrowed to one surface, with only the schemas that surface uses, and with the error
answers as they really are: problem+json (``core.errors.Problem``) for every 4xx, where
Litestar would describe its own validation error."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from core.errors import PROBLEM_MEDIA_TYPE, Problem
from core.settings import load_settings
from storeplug.app import create_app

# The URL prefix of each surface (``all``: the whole document).
SURFACES = {"store": "/store/", "merchant": "/merchant/", "vendor": "/vendor/", "all": "/"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_REF = "#/components/schemas/"


def _problem_schemas() -> dict[str, Any]:
    (ref,), components = msgspec.json.schema_components([Problem], ref_template=_REF + "{name}")
    assert ref == {"$ref": _REF + "Problem"}
    # Problem omits its defaults on the wire: ``detail`` and ``errors`` may be absent, which a
    # generator would not know from a field with a default.
    for field in components["Problem"]["properties"].values():
        field.pop("default", None)
    return components


def _problem_response() -> dict[str, Any]:
    return {
        "description": "A problem (RFC 9457): `code` is stable, `errors` names bad fields",
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF + "Problem"}}},
    }


def _refs(node: Any) -> set[str]:
    """The component schema names ``node`` refers to directly."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF):
            found.add(ref.removeprefix(_REF))
        for value in node.values():
            found |= _refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= _refs(value)
    return found


def _used_schemas(paths: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The schemas ``paths`` refer to, followed through the schemas themselves."""
    wanted = _closure(_refs(paths), schemas)
    return {name: schemas[name] for name in sorted(wanted) if name in schemas}


def _closure(roots: set[str], schemas: dict[str, Any]) -> set[str]:
    seen, todo = set(), set(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _refs(schemas.get(name, {})) - seen
    return seen


def _mark_answers_complete(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """msgspec writes every field of an answer, defaults included, so a schema only answers
    use lists all its properties as required; a schema a request uses keeps its optional
    fields (a client may leave out what has a default)."""
    answers: set[str] = set()
    requests: set[str] = set()
    for item in paths.values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            requests |= _refs(operation.get("requestBody", {}))
            requests |= _refs(operation.get("parameters", []))
            for code, response in operation["responses"].items():
                if code.startswith("2"):
                    answers |= _refs(response)
    for name in _closure(answers, schemas) - _closure(requests, schemas):
        schema = schemas[name]
        if schema.get("type") == "object" and "properties" in schema:
            schema["required"] = sorted(schema["properties"])


def build_document(surface: str = "store") -> dict[str, Any]:
    """The OpenAPI document of ``surface`` (a key of ``SURFACES``) as a plain dict."""
    # The environment does not matter: only the code (and the installed plugins) decide.
    settings = load_settings({}, database_url="sqlite+aiosqlite:///:memory:")
    document: dict[str, Any] = create_app(settings).openapi_schema.to_schema()
    prefix = SURFACES[surface]
    paths = {path: item for path, item in document["paths"].items() if path.startswith(prefix)}
    for item in paths.values():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation["responses"]
            # Litestar's own ValidationException body is never sent: bad input is a problem.
            responses.pop("400", None)
            responses["4XX"] = _problem_response()
    schemas = {**document.get("components", {}).get("schemas", {}), **_problem_schemas()}
    used = _used_schemas(paths, schemas)
    _mark_answers_complete(paths, used)
    document["paths"] = paths
    document["components"] = {"schemas": used}
    if surface != "all":
        document["info"]["title"] = f"storeplug {surface} API"
    return document


def render(document: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indents, UTF-8 kept, a final newline."""
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
