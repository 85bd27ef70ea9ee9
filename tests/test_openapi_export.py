"""`storeplug openapi`: the document the committed TypeScript client is generated from is the
same on every run, narrowed to its surface, honest about errors (problem+json), and types
every storefront answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from core.errors import PROBLEM_MEDIA_TYPE
from storeplug.openapi import METHODS, build_document, render


@pytest.fixture(scope="module")
def store() -> dict[str, Any]:
    return build_document("store")


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


def test_the_document_is_the_same_on_every_run(store: dict[str, Any]) -> None:
    text = render(store)
    assert render(build_document("store")) == text
    assert text.endswith("}\n") and json.loads(text) == store


def test_the_store_document_has_the_storefront_only(store: dict[str, Any]) -> None:
    assert store["paths"] and all(path.startswith("/store/") for path in store["paths"])
    assert "/store/{tenant_slug}/v1/orders" in store["paths"]
    # Only the schemas the storefront uses, and every one it refers to.
    text = json.dumps(store["paths"]) + json.dumps(store["components"])
    schemas = store["components"]["schemas"]
    assert "PlanIn" not in schemas  # a vendor body
    for name in schemas:
        assert f'"#/components/schemas/{name}"' in text, name
    for ref in {part.split('"')[0] for part in text.split('"#/components/schemas/')[1:]}:
        assert ref in schemas, ref


def test_every_operation_answers_problems_as_problem_json(store: dict[str, Any]) -> None:
    for method, path, operation in operations(store):
        responses = operation["responses"]
        assert "400" not in responses, (method, path)  # Litestar's own error body is not sent
        schema = responses["4XX"]["content"][PROBLEM_MEDIA_TYPE]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}
    problem = store["components"]["schemas"]["Problem"]
    assert sorted(problem["required"]) == ["code", "status", "title", "type"]


def test_every_storefront_answer_has_a_schema(store: dict[str, Any]) -> None:
    untyped = [
        f"{method.upper()} {path}"
        for method, path, operation in operations(store)
        for code, response in operation["responses"].items()
        if code.startswith("2")
        for content in response.get("content", {}).values()
        if content.get("schema") == {}
    ]
    # A handler typed ``Any`` (one returning run_idempotent's response) declares its answer
    # with ``responses=core.idempotency.answers(TheStruct, "...")``.
    assert untyped == []


def test_answers_list_every_field_and_requests_keep_their_defaults(store: dict[str, Any]) -> None:
    schemas = store["components"]["schemas"]
    order = schemas["OrderOut"]
    assert sorted(order["required"]) == sorted(order["properties"])  # msgspec writes them all
    placing = schemas["PlaceOrderIn"]
    assert "note" not in placing.get("required", [])  # a client may leave it out
