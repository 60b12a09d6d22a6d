"""The OpenAPI document is generated from the validation models, is valid, and the API keeps it.

schemathesis generates requests from the document (valid ones and deliberately invalid ones)
and sends them to the WSGI app: no answer may be a 500, and every status, content type and JSON
body must be one the document promises. Deterministic (derandomised) and bounded.
"""

from __future__ import annotations

from datetime import date

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi import checks as openapi_checks

from app.api.openapi import OPERATIONS, REF, document
from app.extensions import db
from app.tickets import intake

BIRTH_DATE = "1990-05-17"
EXAMPLES = 20  # per operation and mode: 16 runs, about 30 s in all


def test_the_document_is_valid_openapi_3_1():
    doc = document()
    assert doc["openapi"] == "3.1.0"
    validate_openapi(doc)


def test_request_schemas_are_the_validation_models_json_schema():
    """No schema is written by hand: each body in the document is its model's JSON Schema."""
    components = document()["components"]["schemas"]
    bodies = {operation.body for operation in OPERATIONS if operation.body is not None}
    assert len(bodies) >= 6
    for model in bodies:
        generated = model.model_json_schema(ref_template=REF, mode="validation")
        generated.pop("$defs", None)
        assert components[model.__name__] == generated, model.__name__


def test_every_documented_operation_is_routed_and_every_api_route_documented(app):
    documented = {(op.path.replace("{", "<").replace("}", ">"), op.method.upper()) for op in OPERATIONS}
    routed = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods or ()
        if method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    }
    assert documented == routed


# --- schemathesis ------------------------------------------------------------------------------


@pytest.fixture
def filed_case(app: Flask) -> str:
    """A case whose reference and verification the generated requests use (the API's "auth")."""
    app.config.update(
        TICKETS_TRACK_RATE_LIMIT="100000 per hour",
        TICKETS_COMPLAINT_RATE_LIMIT="100000 per hour",
        CALLBACK_RATE_LIMIT="100000 per hour",
        VOICE_TOKEN_RATE_LIMIT="100000 per hour",
        CALLBACK_DAILY_LIMIT=100000,
    )
    ticket = intake.file_complaint(
        {
            "name": "Siti Aminah",
            "phone": "+85291234567",
            "country": "HK",
            "category": "claim_jkm",
            "description": "My husband died at work; how do I claim?",
            "birth_date": date.fromisoformat(BIRTH_DATE),
        },
        channel="api",
    )
    db.session.commit()
    return ticket.reference


def _wsgi(app: Flask):  # type: ignore[no-untyped-def]
    def wsgi(environ, start_response):  # type: ignore[no-untyped-def]
        with app.app_context():  # one application context per request, as in production
            return list(app(environ, start_response))

    return wsgi


CHECKS = [
    checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.operation_id)
def test_the_api_keeps_its_document(app, filed_case, operation, mode):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", _wsgi(app))
    # Requests about a case name the filed one and verify as its requester (the API's "auth"),
    # so they get past the lookup to the validation and the case's state.
    fixed = {"reference": filed_case} if "{reference}" in operation.path else None
    strategy = schema[operation.path][operation.method].as_strategy(mode, path_parameters=fixed)

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):  # type: ignore[no-untyped-def]
        if mode is GenerationMode.POSITIVE:
            _verify(case)
        case.call_and_validate(checks=CHECKS)

    run()


def _verify(case) -> None:  # type: ignore[no-untyped-def]
    if case.query and isinstance(case.query.get("verification"), str):
        case.query["verification"] = BIRTH_DATE
    if isinstance(case.body, dict) and isinstance(case.body.get("verification"), str):
        case.body["verification"] = BIRTH_DATE
