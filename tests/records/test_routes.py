"""Staff pages: search, the member page (masked), and the audited reveal of one identifier."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.core.audit import AuditEvent
from tests.conftest import csrf_token
from tests.factories import make_claim, make_member


@pytest.fixture
def member(db):
    found = make_member(
        kpj="26000000001",
        name="Siti Aminah",
        name_key="siti aminah",
        nik="3301015705900001",
        passport="B1234567",
        phone_id="+6281234567890",
        phone_abroad="+85291234567",
        email="siti@example.com",
        bank_name="BRI",
        bank_account="1234567890",
        placement_country="HK",
    )
    make_claim(found, claim_number="JKK-2026-000001", status="documents_incomplete", amount=12_500_000)
    return found


def _search(client, q, **extra):
    return client.post("/records/", data={"q": q, "csrf_token": csrf_token(client, "/records/"), **extra})


def test_search_requires_login(client, db):
    response = client.get("/records/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_search_form_renders_for_agents(client, auth):
    auth.login_as("agent")
    response = client.get("/records/")
    assert response.status_code == 200
    assert 'name="q"' in response.get_data(as_text=True)


def test_search_by_nik_shows_exact_badge_and_masked_identifiers(client, auth, member):
    auth.login_as("agent")
    response = _search(client, "3301015705900001")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'class="badge exact"' in html
    assert f"/records/members/{member.id}" in html
    # The agent's own entry stays in the search box; the results show the NIK masked.
    assert html.count("3301015705900001") == 1
    assert "••••••••••••0001" in html


def test_search_by_phone_is_probable(client, auth, member):
    auth.login_as("agent")
    html = _search(client, "+852 9123 4567").get_data(as_text=True)
    assert 'class="badge probable"' in html
    assert "Siti Aminah" in html


def test_search_by_name_via_get_link(client, auth, member):
    auth.login_as("supervisor")
    response = client.get("/records/?q=aminah")
    assert response.status_code == 200
    assert "Siti Aminah" in response.get_data(as_text=True)


@pytest.mark.parametrize("q", ["x", "siti@example.com", "3301013505900001"])
def test_malformed_search_is_a_400_with_a_message(client, auth, db, q):
    auth.login_as("agent")
    response = _search(client, q)
    assert response.status_code == 400
    assert 'class="error"' in response.get_data(as_text=True)


def test_bad_birth_date_is_a_400(client, auth, db):
    auth.login_as("agent")
    assert _search(client, "Siti", birth_date="17-05-1990x").status_code == 400


def test_member_page_masks_every_identifier(client, auth, member):
    auth.login_as("agent")
    response = client.get(f"/records/members/{member.id}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    for secret in (
        "3301015705900001",
        "B1234567",
        "+6281234567890",
        "+85291234567",
        "siti@example.com",
        "1234567890",
    ):
        assert secret not in html
    assert "+852••••4567" in html
    assert "JKK-2026-000001" in html
    assert 'data-status="documents_incomplete"' in html


def test_member_page_unknown_id_is_404(client, auth, db):
    auth.login_as("agent")
    assert client.get("/records/members/999999").status_code == 404
    assert client.get("/records/members/abc").status_code == 404


def test_reveal_returns_one_value_and_writes_an_audit_event(client, auth, db, member):
    user = auth.login_as("agent")
    token = csrf_token(client, f"/records/members/{member.id}")
    response = client.post(
        f"/records/members/{member.id}/reveal",
        data={"field": "nik", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200
    assert response.get_json() == {"field": "nik", "value": "3301015705900001"}
    assert response.headers["Cache-Control"] == "no-store"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "pii.view"))
    assert (event.actor_id, event.entity_type, event.entity_id, event.detail) == (
        user.id,
        "member",
        str(member.id),
        {"field": "nik"},
    )


def test_reveal_in_the_page_shows_only_that_field(client, auth, db, member):
    auth.login_as("supervisor")
    token = csrf_token(client, f"/records/members/{member.id}")
    html = client.post(
        f"/records/members/{member.id}/reveal", data={"field": "phone_abroad", "csrf_token": token}
    ).get_data(as_text=True)
    assert 'data-revealed="phone_abroad">+85291234567<' in html
    assert "3301015705900001" not in html


def test_reveal_is_forbidden_for_admins(client, auth, db, member):
    auth.login_as("admin")
    token = csrf_token(client, f"/records/members/{member.id}")
    response = client.post(f"/records/members/{member.id}/reveal", data={"field": "nik", "csrf_token": token})
    assert response.status_code == 403
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "pii.view")) == 0


def test_admin_sees_the_member_page_without_show_buttons(client, auth, member):
    auth.login_as("admin")
    html = client.get(f"/records/members/{member.id}").get_data(as_text=True)
    assert "/reveal" not in html


def test_reveal_anonymous_is_refused(client, db, member):
    token = csrf_token(client, "/login")
    page = client.post(f"/records/members/{member.id}/reveal", data={"field": "nik", "csrf_token": token})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    api = client.post(
        f"/records/members/{member.id}/reveal",
        data={"field": "nik", "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert api.status_code == 401


def test_reveal_needs_csrf(client, auth, member):
    auth.login_as("agent")
    assert client.post(f"/records/members/{member.id}/reveal", data={"field": "nik"}).status_code == 400


@pytest.mark.parametrize("field", ["name", "nik_hash", ""])
def test_reveal_of_other_fields_is_a_400(client, auth, db, member, field):
    auth.login_as("agent")
    token = csrf_token(client, f"/records/members/{member.id}")
    response = client.post(f"/records/members/{member.id}/reveal", data={"field": field, "csrf_token": token})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "pii.view")) == 0


def test_reveal_unknown_member_is_404(client, auth, db):
    auth.login_as("agent")
    token = csrf_token(client, "/records/")
    assert (
        client.post("/records/members/999999/reveal", data={"field": "nik", "csrf_token": token}).status_code
        == 404
    )


def test_every_records_route_declares_a_permission(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("records."):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "required_permission", None), rule.rule


def test_member_page_shows_coverage_and_claim_amount(client, auth, db):
    found = make_member(coverage=[{"program": "JKK", "start": "2020-01-01", "end": None}])
    make_claim(found, amount=85_000_000, status="paid", incident_date=date(2025, 6, 1))
    auth.login_as("agent")
    html = client.get(f"/records/members/{found.id}").get_data(as_text=True)
    assert "85" in html and "000" in html and "Rp" in html
    assert 'class="badge exact"' in html  # open-ended JKK window is active today
