"""Check requests and responses against the generated OpenAPI document (JSON Schema 2020-12).

OpenAPI 3.1 schemas are JSON Schema, so ``jsonschema`` validates them, resolving the document's
``#/components/schemas/…`` references. Raises AssertionError naming what does not fit.
"""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import best_match


def validate(doc: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    rooted = {**schema, "components": doc["components"]}  # "#/components/…" resolves in the document
    error = best_match(Draft202012Validator(rooted, format_checker=FormatChecker()).iter_errors(value))
    if error is not None:
        raise AssertionError(f"{error.json_path}: {error.message}")


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
