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
from hypothesis import HealthCheck, assume, given, settings
from openapi_spec_validator import validate as validate_openapi
from schemathesis import GenerationMode, checks
from schemathesis.specs.openapi import checks as openapi_checks

from app.api.openapi import OPERATIONS, REF, document
from app.extensions import db
from app.tickets import intake
from tests.api.openapi_check import check_request

BIRTH_DATE = "1990-05-17"
PHONE = "+85291234567"  # Hong Kong mobile: a served placement country
# The smallest PNG (1x1): attachments are checked by their magic bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d4944415478da63f8ffff3f0005fe02fea7d6a0f00000000049454e44ae426082"
)
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
    # A NUL byte anywhere in a request is refused with the documented 400 (the request-parsing
    # layer), whatever the field's schema says.
    schema.config.generation.update(allow_x00=False)
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
            _meaningful(case)
            assume(_still_valid(operation, case))  # trimming may have made it too short
            # Schema-valid input is accepted (2xx, or a documented 404/409/429: no 400/422).
            case.call_and_validate(checks=[*CHECKS, openapi_checks.positive_data_acceptance])
        else:
            case.call_and_validate(checks=CHECKS)

    run()


# What the document can only say in words (a number that exists in a served country, that
# country, a NIK whose embedded birth date exists, a real birth date, files that are images or
# PDFs): positive cases get a valid value there; every other field stays as generated.
MEANINGFUL = {
    "phone": PHONE,
    "country": "HK",
    "nik": "3201011705900001",
    "kpj": "12345678901",
    "passport": "C1234567",
    "email": "siti@example.org",
    "birth_date": BIRTH_DATE,
}


def _still_valid(operation, case) -> bool:  # type: ignore[no-untyped-def]
    if operation.media != "application/json" or operation.body is None:
        return True
    try:
        check_request(document(), operation.method, operation.path, case.body)
    except AssertionError:
        return False
    return True


def _meaningful(case) -> None:  # type: ignore[no-untyped-def]
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    for name, value in MEANINGFUL.items():
        if isinstance(body.get(name), str):
            body[name] = value
    for name, value in body.items():  # text is read without surrounding whitespace (documented)
        if isinstance(value, str):
            body[name] = value.strip()
    window = body.get("preferred_window")
    if isinstance(window, dict) and window.get("start") == window.get("end"):
        window["end"] = "23:59" if window.get("start") != "23:59" else "00:00"  # a window of no length
    if "files" in body:
        body["files"] = [PNG]


def _verify(case) -> None:  # type: ignore[no-untyped-def]
    if case.query and isinstance(case.query.get("verification"), str):
        case.query["verification"] = BIRTH_DATE
    if isinstance(case.body, dict) and isinstance(case.body.get("verification"), str):
        case.body["verification"] = BIRTH_DATE
