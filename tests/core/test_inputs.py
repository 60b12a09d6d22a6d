"""The request-parsing layer: NUL bytes, out-of-range ids and deep JSON are 4xx, never a 500."""

from __future__ import annotations

import pytest
from werkzeug.exceptions import NotFound

from app.core.inputs import MAX_ID, MAX_JSON_DEPTH
from app.tickets.models import Ticket
from tests.api.test_complaints_api import GOOD
from tests.portal.test_complaints import _form


def test_an_id_past_a_database_integer_matches_no_route(app):
    urls = app.url_map.bind("localhost")
    assert urls.match(f"/tickets/{MAX_ID}")[1] == {"ticket_id": MAX_ID}
    with pytest.raises(NotFound):
        urls.match(f"/tickets/{MAX_ID + 1}")
    with pytest.raises(NotFound):
        urls.match("/tickets/99999999999999999999")


def test_a_huge_id_is_a_404_page(client, auth):
    auth.login_as("admin")
    response = client.get("/tickets/9223372036854775808")
    assert response.status_code == 404


def test_a_nul_byte_in_a_json_string_is_400_and_nothing_is_stored(client, db):
    response = client.post("/api/v1/complaints", json=dict(GOOD, description="hello\x00world"))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_characters"
    assert db.session.query(Ticket).count() == 0


def test_a_nul_byte_in_a_json_key_is_400(client, db):
    response = client.post("/api/v1/complaints", json=dict(GOOD, **{"x\x00": "y"}))
    assert response.status_code == 400


def test_a_nul_byte_in_a_portal_form_is_400_and_nothing_is_stored(client, db):
    data = _form(client, description="Gaji saya belum dibayar\x00 sejak Mei")
    response = client.post("/complaints/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "not allowed" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0


def test_a_nul_byte_in_the_query_string_is_400(client, auth):
    auth.login_as("agent")
    assert client.get("/tickets/?q=abc%00def").status_code == 400


def test_json_nested_past_the_parser_is_400_not_500(client, db):
    body = "[" * 100_000 + "]" * 100_000
    response = client.post("/api/v1/complaints", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_json_nested_past_the_limit_is_400(client, db):
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH + 1):
        nested = {"a": nested}
    response = client.post("/api/v1/complaints", json=dict(GOOD, extra=nested))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_ordinary_json_still_works(client, db):
    response = client.post("/api/v1/complaints", json=GOOD)
    assert response.status_code == 201
