"""The requests an attack found refused although the document allowed them (issue 12, item 5).

Eight schema-valid requests were answered 422 (empty ``verification`` and ``phone``, which the
document allowed) and ``voice-token`` without a body 400 (the body is optional there). Each case
here is checked both ways: what the document says of the request, and what the API answers.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from jsonschema import Draft202012Validator

from app.api.openapi import document
from app.extensions import db
from app.tickets import intake
from tests.api.openapi_check import check_request

BIRTH_DATE = "1990-05-17"


@pytest.fixture
def reference(app) -> str:  # type: ignore[no-untyped-def]
    app.config.update(TICKETS_TRACK_RATE_LIMIT="1000 per hour", TICKETS_COMPLAINT_RATE_LIMIT="1000 per hour")
    ticket = intake.file_complaint(
        {"name": "Siti", "phone": "+85291234567", "country": "HK", "category": "claim_jkm",
         "description": "My husband died at work; how do I claim?", "birth_date": date.fromisoformat(BIRTH_DATE)},
        channel="api",
    )
    db.session.commit()
    return ticket.reference


def _schema_allows(path: str, method: str, body: object) -> bool:
    try:
        check_request(document(), method, path, body)
    except AssertionError:
        return False
    return True


def _query_allows(path: str, name: str, value: str) -> bool:
    [parameter] = [p for p in document()["paths"][path]["get"]["parameters"] if p["name"] == name]
    return Draft202012Validator(parameter["schema"]).is_valid(value)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/complaints/{reference}/replies", {"verification": "", "message": "Any news?"}),
        ("/api/v1/complaints/{reference}/rating", {"verification": "", "score": 4}),
        ("/api/v1/complaints", {"name": "Siti", "phone": "", "country": "HK", "category": "other",
                                "description": "Where is my claim?"}),
        ("/api/v1/callbacks", {"phone": ""}),
    ],
    ids=["reply-verification", "rating-verification", "complaint-phone", "callback-phone"],
)
def test_an_empty_verification_or_phone_is_refused_and_the_document_says_so(client, reference, path, body):
    assert not _schema_allows(path, "post", body)
    response = client.post(path.replace("{reference}", reference), json=body)
    assert response.status_code == 422, response.get_json()


@pytest.mark.parametrize(
    "path", ["/api/v1/complaints/{reference}", "/api/v1/complaints/{reference}/attachments/{attachment_id}"]
)
def test_an_empty_verification_in_the_query_is_refused_and_the_document_says_so(client, reference, path):
    assert not _query_allows(path, "verification", "")
    url = path.replace("{reference}", reference).replace("{attachment_id}", "1")
    assert client.get(url, query_string={"verification": ""}).status_code == 422


def test_attachments_need_a_verification_and_a_file_and_the_document_says_so(client, reference):
    schema = document()["components"]["schemas"]["AttachmentUpload"]
    assert schema["properties"]["verification"]["minLength"] == 1
    assert schema["properties"]["files"]["minItems"] == 1
    url = f"/api/v1/complaints/{reference}/attachments"
    empty = client.post(url, data={"verification": "", "files": (io.BytesIO(b"%PDF-1.4"), "a.pdf")})
    assert empty.status_code == 422
    none = client.post(url, data={"verification": BIRTH_DATE}, content_type="multipart/form-data")
    assert none.status_code == 422


def test_a_voice_token_needs_no_body(client):
    operation = document()["paths"]["/api/v1/voice-token"]["post"]
    assert not operation["requestBody"].get("required")
    response = client.post("/api/v1/voice-token")  # no body at all (it was 400)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["identity"].startswith("worker:")
    assert client.post("/api/v1/voice-token", data="{", content_type="application/json").status_code == 400


def test_a_rating_is_bounded_in_the_document_as_in_the_api(client, reference):
    score = document()["components"]["schemas"]["RatingCreate"]["properties"]["score"]
    assert (score.get("minimum"), score.get("maximum")) == (1, 5)  # were "ge"/"le": no bounds at all
    assert not _schema_allows("/api/v1/complaints/{reference}/rating", "post",
                              {"verification": BIRTH_DATE, "score": 409})
    # 3.0 is an integer to JSON Schema: not refused as "not a number" (the case is not
    # resolved yet, so the answer is the case's state, not the value's).
    response = client.post(f"/api/v1/complaints/{reference}/rating", json={"verification": BIRTH_DATE, "score": 3.0})
    assert response.status_code != 422, response.get_json()


def test_a_call_back_window_is_a_time_of_day_in_the_document_too(client):
    start = document()["components"]["schemas"]["Window"]["properties"]["start"]
    assert not Draft202012Validator(start).is_valid("26:56")
    assert Draft202012Validator(start).is_valid("23:59")
