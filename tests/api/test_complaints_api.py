"""The public complaints API: validation, errors, rate limits, and conformance to OpenAPI."""

from __future__ import annotations

import json

import pytest

from app.api.openapi import document
from app.core.jobs import OutboxIntent
from app.tickets import services
from app.tickets.models import Ticket
from tests.api.openapi_check import check_request, check_response, validate
from tests.factories import make_user

DOC = document()
GOOD = {
    "name": "Siti Aminah",
    "phone": "+85291234567",
    "country": "HK",
    "category": "claim_jkm",
    "description": "My husband died at work; how do I claim?",
    "birth_date": "1990-05-17",
    "language": "en",
}


def _create(client, body=None, **overrides):
    payload = dict(GOOD if body is None else body, **overrides)
    response = client.post("/api/v1/complaints", json=payload)
    check_response(DOC, "POST", "/api/v1/complaints", response)
    return response


def test_the_example_request_fits_the_document():
    check_request(DOC, "POST", "/api/v1/complaints", GOOD)


def test_create_complaint_returns_201_and_a_reference(client, db):
    response = _create(client)
    assert response.status_code == 201
    reference = response.get_json()["reference"]
    ticket = db.session.query(Ticket).one()
    assert ticket.reference == reference and ticket.channel == "api" and ticket.language == "en"
    assert response.headers["Location"] == f"/api/v1/complaints/{reference}"
    assert db.session.query(OutboxIntent).filter_by(func="app.tickets.tasks.notify_worker").count() == 1


def test_malformed_json_is_400(client, db):
    response = client.post("/api/v1/complaints", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    check_response(DOC, "POST", "/api/v1/complaints", response)


def test_a_body_that_is_not_json_is_415(client, db):
    response = client.post(
        "/api/v1/complaints", data="name=x", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    check_response(DOC, "POST", "/api/v1/complaints", response)


@pytest.mark.parametrize("body", [[1, 2], "text", 42])
def test_a_json_value_that_is_not_an_object_is_422(client, db, body):
    response = client.post("/api/v1/complaints", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", 42),
        ("phone", ["+85291234567"]),
        ("description", {"text": "x"}),
        ("country", None),
        ("category", "weather"),
        ("nik", "123"),
        ("birth_date", "yesterday"),
        ("language", "fr"),
    ],
)
def test_wrong_types_and_values_are_422_with_the_field_named(client, db, field, value):
    response = _create(client, **{field: value})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed" and field in error["fields"]
    assert db.session.query(Ticket).count() == 0


def test_missing_fields_are_all_reported(client, db):
    response = _create(client, body={})
    assert set(response.get_json()["error"]["fields"]) >= {
        "name",
        "phone",
        "country",
        "category",
        "description",
    }


def _filed(client) -> str:
    return _create(client).get_json()["reference"]


def test_get_complaint_with_verification(client, db):
    reference = _filed(client)
    for verification in ("1990-05-17", "+852 9123 4567"):
        response = client.get(f"/api/v1/complaints/{reference}", query_string={"verification": verification})
        assert response.status_code == 200, verification
        check_response(DOC, "GET", f"/api/v1/complaints/{reference}", response)
        body = response.get_json()
        assert body["status"] == "new" and body["timeline"][0]["kind"] == "created"
        assert body["timeline"][0]["from"] == "you"


def test_internal_notes_are_not_in_the_public_timeline(client, db):
    reference = _filed(client)
    ticket = services.get_by_reference(reference)
    services.reply(ticket, "caller sounded upset, check KP2MI", actor_id=make_user().id, public=False)
    services.reply(ticket, "We have contacted your employer.", actor_id=make_user().id)
    db.session.commit()
    body = client.get(
        f"/api/v1/complaints/{reference}", query_string={"verification": "1990-05-17"}
    ).get_json()
    messages = [entry.get("message") for entry in body["timeline"]]
    assert "We have contacted your employer." in messages
    assert "caller sounded upset, check KP2MI" not in messages


def test_wrong_verification_and_unknown_reference_are_404(client, db):
    reference = _filed(client)
    for ref, verification in (
        (reference, "1991-01-01"),
        ("PMI-2026-999999", "1990-05-17"),
        ("nonsense", "x"),
    ):
        response = client.get(f"/api/v1/complaints/{ref}", query_string={"verification": verification})
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_missing_verification_is_422(client, db):
    reference = _filed(client)
    response = client.get(f"/api/v1/complaints/{reference}")
    assert response.status_code == 422
    check_response(DOC, "GET", f"/api/v1/complaints/{reference}", response)


def test_failed_lookups_are_rate_limited_per_reference(client, db, app):
    app.config["TICKETS_TRACK_RATE_LIMIT"] = "3 per hour"
    reference = _filed(client)
    codes = [
        client.get(
            f"/api/v1/complaints/{reference}",
            query_string={"verification": "1991-01-01"},
            environ_overrides={"REMOTE_ADDR": f"10.1.0.{i}"},
        ).status_code
        for i in range(4)
    ]
    assert codes == [404, 404, 404, 429]
    limited = client.get(f"/api/v1/complaints/{reference}", query_string={"verification": "1991-01-01"})
    assert limited.get_json()["error"]["code"] == "too_many_requests"


def test_successful_lookups_do_not_use_up_the_limit(client, db, app):
    app.config["TICKETS_TRACK_RATE_LIMIT"] = "2 per hour"
    reference = _filed(client)
    codes = [
        client.get(f"/api/v1/complaints/{reference}", query_string={"verification": "1990-05-17"}).status_code
        for _ in range(4)
    ]
    assert codes == [200, 200, 200, 200]


def test_reply_reopens_a_resolved_case(client, db):
    reference = _filed(client)
    services.change_status(services.get_by_reference(reference), "resolved")
    db.session.commit()
    response = client.post(
        f"/api/v1/complaints/{reference}/replies",
        json={"verification": "1990-05-17", "message": "The money has not arrived."},
    )
    check_response(DOC, "POST", f"/api/v1/complaints/{reference}/replies", response)
    assert response.status_code == 201 and response.get_json()["status"] == "open"


def test_reply_errors(client, db):
    reference = _filed(client)
    url = f"/api/v1/complaints/{reference}/replies"
    cases = [
        ({"verification": "1990-05-17", "message": ""}, 422),
        ({"verification": "1990-05-17", "message": 5}, 422),
        ({"verification": "1991-01-01", "message": "hi"}, 404),
        ({"message": "hi"}, 422),
    ]
    for body, status in cases:
        response = client.post(url, json=body)
        assert response.status_code == status, body
        check_response(DOC, "POST", url, response)
    services.change_status(services.get_by_reference(reference), "closed")
    db.session.commit()
    response = client.post(url, json={"verification": "1990-05-17", "message": "hello?"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "ticket_closed"
    check_response(DOC, "POST", url, response)


def test_rating(client, db):
    reference = _filed(client)
    url = f"/api/v1/complaints/{reference}/rating"
    assert client.post(url, json={"verification": "1990-05-17", "score": 5}).status_code == 409
    services.change_status(services.get_by_reference(reference), "resolved")
    db.session.commit()
    assert client.post(url, json={"verification": "1990-05-17", "score": True}).status_code == 422
    response = client.post(url, json={"verification": "1990-05-17", "score": 5, "comment": "fast"})
    assert response.status_code == 201
    check_response(DOC, "POST", url, response)
    assert response.get_json()["csat_score"] == 5


def test_openapi_document_is_served_and_documents_real_routes(client, app):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    doc = response.get_json()
    assert doc["openapi"].startswith("3.")
    rules = {(rule.rule, method) for rule in app.url_map.iter_rules() for method in rule.methods or ()}
    for template, operations in doc["paths"].items():
        flask_rule = template.replace("{", "<").replace("}", ">")
        for method in operations:
            assert (flask_rule, method.upper()) in rules, f"{method} {template} is documented but not routed"


def test_the_validator_itself_catches_mismatches():
    with pytest.raises(AssertionError):
        validate(
            DOC, {"$ref": "#/components/schemas/ComplaintCreated"}, {"reference": "nope", "status": "new"}
        )
    with pytest.raises(AssertionError):
        validate(DOC, {"$ref": "#/components/schemas/Error"}, {"error": {"code": "x", "message": "y"}})


def test_api_needs_no_csrf_token_and_never_500s_on_garbage(client, db):
    for raw in (b"\xff\xfe\x00", b"null", b"[]", b'{"name": {"$gt": ""}}'):
        response = client.post("/api/v1/complaints", data=raw, content_type="application/json")
        assert 400 <= response.status_code < 500, raw
        assert "error" in response.get_json()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_attachments_by_multipart(client, db, app, tmp_path):
    import io

    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    reference = _filed(client)
    url = f"/api/v1/complaints/{reference}/attachments"
    ok = client.post(
        url,
        data={"verification": "1990-05-17", "files": [(io.BytesIO(PNG), "hand.png")]},
        content_type="multipart/form-data",
    )
    check_response(DOC, "POST", url, ok)
    assert ok.status_code == 201 and ok.get_json()["files"] == ["hand.png"]
    bad = client.post(
        url,
        data={"verification": "1990-05-17", "files": [(io.BytesIO(b"<html>"), "x.png")]},
        content_type="multipart/form-data",
    )
    check_response(DOC, "POST", url, bad)
    assert bad.status_code == 415 and bad.get_json()["error"]["code"] == "unsupported_file_type"
    app.config["TICKETS_ATTACHMENT_MAX_BYTES"] = 10
    big = client.post(
        url,
        data={"verification": "1990-05-17", "files": [(io.BytesIO(PNG), "hand.png")]},
        content_type="multipart/form-data",
    )
    assert big.status_code == 413
    wrong = client.post(
        url,
        data={"verification": "1991-01-01", "files": [(io.BytesIO(PNG), "hand.png")]},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 404
    assert client.post(url, json={"verification": "1990-05-17"}).status_code == 415
    body = client.get(
        f"/api/v1/complaints/{reference}", query_string={"verification": "1990-05-17"}
    ).get_json()
    assert ["hand.png"] in [entry["attachments"] for entry in body["timeline"]]


def test_callback_request_from_the_telephony_package_fits_the_document(client, db):
    # /api/v1/callbacks is served by app/telephony/api.py; the document describes it (SPEC §4).
    response = client.post(
        "/api/v1/callbacks",
        json={
            "phone": "+85291234567",
            "language": "id",
            "topic": "claim_jkk",
            "preferred_window": {"start": "18:00", "end": "21:00"},
        },
    )
    check_response(DOC, "POST", "/api/v1/callbacks", response)
    bad = client.post("/api/v1/callbacks", data="{", content_type="application/json")
    check_response(DOC, "POST", "/api/v1/callbacks", bad)


@pytest.mark.parametrize("attachment_id", ["2147483648", "99999999999", "²", "١"])
def test_an_attachment_id_out_of_range_or_not_ascii_is_404_not_500(client, db, attachment_id):
    # Found by schemathesis: past PostgreSQL's INTEGER the lookup failed; "²" passed isdigit().
    reference = _filed(client)
    response = client.get(
        f"/api/v1/complaints/{reference}/attachments/{attachment_id}", query_string={"verification": "1990-05-17"}
    )
    assert response.status_code == 404
