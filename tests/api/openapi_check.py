"""A small validator for the JSON Schema subset the OpenAPI document uses (no dependency).

Supports $ref (local), type (string or list), required, properties, additionalProperties,
items, enum, pattern, minLength/maxLength, minimum/maximum and format date/date-time.
Raises AssertionError naming the JSON path of the first mismatch.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _type_ok(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def validate(doc: dict[str, Any], schema: dict[str, Any], value: Any, path: str = "$") -> None:
    schema = resolve(doc, schema)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        assert any(_type_ok(value, n) for n in names), f"{path}: {value!r} is not {names}"
    if value is None:
        return
    if "enum" in schema:
        assert value in schema["enum"], f"{path}: {value!r} not in {schema['enum']}"
    if isinstance(value, str):
        if "pattern" in schema:
            assert re.search(schema["pattern"], value), f"{path}: {value!r} !~ {schema['pattern']}"
        if "minLength" in schema:
            assert len(value) >= schema["minLength"], f"{path}: too short"
        if "maxLength" in schema:
            assert len(value) <= schema["maxLength"], f"{path}: too long"
        if schema.get("format") == "date-time":
            datetime.fromisoformat(value)
        if schema.get("format") == "date":
            date.fromisoformat(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema:
            assert value >= schema["minimum"], f"{path}: below minimum"
        if "maximum" in schema:
            assert value <= schema["maximum"], f"{path}: above maximum"
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            assert name in value, f"{path}: missing required {name!r}"
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                validate(doc, properties[name], item, f"{path}.{name}")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(doc, schema["additionalProperties"], item, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                raise AssertionError(f"{path}: unexpected property {name!r}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            validate(doc, schema["items"], item, f"{path}[{index}]")


def _template_matches(template: str, path: str) -> bool:
    pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
    return re.match(pattern, path) is not None


def check_response(doc: dict[str, Any], method: str, path: str, response: Any) -> None:
    """The response's status is documented for this operation and its body fits the schema."""
    templates = [t for t in doc["paths"] if _template_matches(t, path)]
    assert templates, f"{path} is not documented"
    operation = doc["paths"][templates[0]].get(method.lower())
    assert operation, f"{method} {templates[0]} is not documented"
    documented = operation["responses"].get(str(response.status_code))
    assert documented, f"{method} {path} answered {response.status_code}, which is not documented"
    schema = documented["content"]["application/json"]["schema"]
    assert response.is_json, f"{method} {path} did not answer JSON"
    validate(doc, schema, response.get_json())


def check_request(doc: dict[str, Any], method: str, template: str, body: Any) -> None:
    operation = doc["paths"][template][method.lower()]
    validate(doc, operation["requestBody"]["content"]["application/json"]["schema"], body)
