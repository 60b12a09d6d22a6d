"""The agent workspace: access, views, search, bulk assign, ticket page, 409 on stale saves."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.core.audit import AuditEvent
from app.core.time import utcnow
from app.tickets import services
from app.tickets.models import STATUSES, CannedReply, Ticket
from tests.conftest import csrf_token
from tests.factories import TicketFactory, make_claim, make_member, make_user


def _refs(html: str) -> set[str]:
    return set(re.findall(r"PMI-\d{4}-\d{6}", html))


def test_anonymous_is_sent_to_login(client):
    response = client.get("/tickets/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/tickets/", headers={"Accept": "application/json"}).status_code == 401


def test_admin_without_tickets_work_gets_403(client, auth, db):
    auth.login_as("admin")
    ticket = TicketFactory()
    assert client.get("/tickets/").status_code == 403
    assert client.get(f"/tickets/{ticket.id}").status_code == 403


@pytest.mark.parametrize("role", ["agent", "supervisor"])
def test_agents_and_supervisors_may_work_tickets(client, auth, role):
    auth.login_as(role)
    assert client.get("/tickets/").status_code == 200


def test_home_has_a_tickets_tile(client, auth):
    auth.login_as("agent")
    assert "/tickets/" in client.get("/staff/").get_data(as_text=True)


def test_views_mine_unassigned_breaching(client, auth, db):
    me = auth.login_as("agent")
    other = make_user()
    mine = TicketFactory()
    services.assign(mine, me.id)
    theirs = TicketFactory()
    services.assign(theirs, other.id)
    pool = TicketFactory()
    due = TicketFactory()
    due.resolution_due_at = utcnow() + timedelta(hours=1)
    later = TicketFactory()
    later.resolution_due_at = utcnow() + timedelta(days=3)
    db.session.commit()
    assert _refs(client.get("/tickets/?view=mine").get_data(as_text=True)) == {mine.reference}
    assert _refs(client.get("/tickets/?view=unassigned").get_data(as_text=True)) == {
        pool.reference,
        due.reference,
        later.reference,
    }
    assert _refs(client.get("/tickets/?view=breaching").get_data(as_text=True)) == {due.reference}


def test_filter_by_category_and_country(client, auth, db):
    auth.login_as("agent")
    a = TicketFactory(category="claim_jkk", country="TW")
    TicketFactory(category="claim_jkk", country="HK")
    TicketFactory(category="membership", country="TW")
    html = client.get("/tickets/?view=open&category=claim_jkk&country=tw").get_data(as_text=True)
    assert _refs(html) == {a.reference}


@pytest.mark.parametrize("field", ["reference", "kpj", "nik", "passport", "phone", "name", "member_kpj"])
def test_search_by_each_identifier(client, auth, db, field):
    auth.login_as("agent")
    member = make_member(kpj="23011234567", passport="C7654321", phone_abroad="+886912000111")
    wanted = TicketFactory(
        requester_name="Dewi Lestari",
        requester_phone="+85261234567",
        requester_kpj="12345678901",
        requester_nik="3201015705900123",
        requester_passport="B1234567",
    )
    linked = TicketFactory(requester_phone=None, member_id=member.id)
    TicketFactory(requester_name="Someone Else", requester_phone="+85291111111")
    query, expected = {
        "reference": (wanted.reference, wanted),
        "kpj": ("12345678901", wanted),
        "nik": ("3201015705900123", wanted),
        "passport": ("B1234567", wanted),
        "phone": ("+852 6123 4567", wanted),
        "name": ("dewi", wanted),
        "member_kpj": (member.kpj, linked),
    }[field]
    html = client.get("/tickets/", query_string={"view": "all", "q": query}).get_data(as_text=True)
    assert _refs(html) == {expected.reference}


def test_nonsense_search_shows_a_message(client, auth, db):
    auth.login_as("agent")
    response = client.get("/tickets/", query_string={"view": "all", "q": "!!"})
    assert response.status_code == 200
    assert "Enter a KPJ" in response.get_data(as_text=True)


def test_bulk_assign(client, auth, db):
    me = auth.login_as("agent")
    a, b, c = TicketFactory(), TicketFactory(), TicketFactory()
    response = client.post(
        "/tickets/bulk-assign",
        data={
            "csrf_token": csrf_token(client, "/tickets/?view=unassigned"),
            "ticket_ids": [a.id, b.id],
            "assignee_id": "me",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert [db.session.get(Ticket, t.id).assignee_id for t in (a, b, c)] == [me.id, me.id, None]


def test_ticket_page_shows_timeline_member_and_claims(client, auth, db):
    auth.login_as("agent")
    member = make_member()
    make_claim(member, claim_number="CLM-2026-777777", status="documents_incomplete")
    ticket = TicketFactory(requester_kpj=member.kpj, description="<script>alert(1)</script>")
    db.session.add(CannedReply(title="Docs needed", body="Please send your passport.", language="en"))
    db.session.commit()
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert ticket.reference in html and member.name in html
    assert "CLM-2026-777777" in html and "Documents incomplete" in html  # the label, never the code
    assert "Docs needed" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "+85291234567" not in html  # phone is masked until revealed


def _form(client, ticket, **data):
    token = csrf_token(client, f"/tickets/{ticket.id}")
    stored = services.timeline(ticket)[-1].id
    return {"csrf_token": token, "version": ticket.version, "seen_event": stored, **data}


def test_reply_and_internal_note(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()
    client.post(
        f"/tickets/{ticket.id}/reply", data=_form(client, ticket, body="We are on it", kind="public_reply")
    )
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    client.post(
        f"/tickets/{ticket.id}/reply", data=_form(client, ticket, body="Call KP2MI", kind="internal_note")
    )
    db.session.expire_all()
    events = [(e.kind, e.public, e.body) for e in db.session.get(Ticket, ticket.id).events if e.body]
    assert events == [("public_reply", True, "We are on it"), ("internal_note", False, "Call KP2MI")]


def test_the_status_selector_starts_at_the_current_status(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()  # new
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    select = re.search(r'<select id="new-status"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\w+)"( selected)?>', select.group(1))
    assert options[0] == ("new", " selected")  # not "open", which it is not yet
    assert [value for value, _selected in options[1:]] == sorted(
        services.TRANSITIONS["new"], key=STATUSES.index
    )
    # Sending the form unchanged changes nothing.
    assert (
        client.post(f"/tickets/{ticket.id}/status", data=_form(client, ticket, status="new")).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "new"


def test_status_change_through_the_table(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()
    services.change_status(ticket, "closed")
    db.session.commit()
    response = client.post(f"/tickets/{ticket.id}/status", data=_form(client, ticket, status="open"))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "closed"


def test_stale_save_is_409_with_what_changed(client, auth, db):
    agent = auth.login_as("agent")
    other = make_user(name="Budi Santoso")
    ticket = TicketFactory()
    stale = _form(client, ticket, status="resolved")
    services.assign(ticket, other.id, actor_id=other.id)
    db.session.commit()
    response = client.post(f"/tickets/{ticket.id}/status", data=stale)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'id="conflict"' in html and "Budi Santoso" in html
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).status == "open"
    json_response = client.post(
        f"/tickets/{ticket.id}/status", data=stale, headers={"Accept": "application/json"}
    )
    assert json_response.status_code == 409
    body = json_response.get_json()
    assert body["error"]["code"] == "conflict" and {c["kind"] for c in body["changes"]} == {
        "assigned",
        "status",
    }
    assert agent.id not in {c["actor_id"] for c in body["changes"]}


def test_collision_warning_when_another_agent_has_it_open(client, auth, db, app):
    ticket = TicketFactory()
    first = auth.login_as("agent", name="Rina")
    client.get(f"/tickets/{ticket.id}")
    auth.logout()
    auth.login_as("agent", name="Agus")
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'id="collision"' in html and "Rina" in html
    assert first.id


def test_link_member_by_kpj_and_claim(client, auth, db):
    auth.login_as("agent")
    member = make_member()
    claim = make_claim(member)
    ticket = TicketFactory(requester_phone=None)
    client.post(f"/tickets/{ticket.id}/member", data=_form(client, ticket, kpj=member.kpj))
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket.id)
    assert ticket.member_id == member.id and ticket.match_confidence == "confirmed"
    client.post(f"/tickets/{ticket.id}/claim", data=_form(client, ticket, claim_id=claim.id))
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).claim_id == claim.id


def test_merge_from_the_page(client, auth, db):
    auth.login_as("agent")
    source, target = TicketFactory(), TicketFactory()
    response = client.post(f"/tickets/{source.id}/merge", data=_form(client, source, target=target.reference))
    assert response.headers["Location"].endswith(f"/tickets/{target.id}")
    db.session.expire_all()
    assert db.session.get(Ticket, source.id).merged_into_id == target.id


def test_reveal_is_audited(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()
    html = client.post(
        f"/tickets/{ticket.id}/reveal",
        data={"csrf_token": csrf_token(client, f"/tickets/{ticket.id}"), "field": "requester_phone"},
    ).get_data(as_text=True)
    assert "+85291234567" in html
    assert db.session.query(AuditEvent).filter_by(action="pii.view", entity_type="ticket").count() == 1
    assert any(e.kind == "viewed_pii" for e in db.session.get(Ticket, ticket.id).events)


def test_agents_read_canned_replies_but_cannot_write_them(client, auth, db):
    auth.login_as("agent")
    assert client.get("/tickets/canned").status_code == 200
    token = csrf_token(client, "/tickets/canned")
    response = client.post(
        "/tickets/canned", data={"csrf_token": token, "title": "x", "body": "y", "language": "en"}
    )
    assert response.status_code == 403
    assert db.session.query(CannedReply).count() == 0


def test_supervisor_creates_and_deactivates_a_canned_reply(client, auth, db):
    auth.login_as("supervisor")
    token = csrf_token(client, "/tickets/canned")
    assert (
        client.post(
            "/tickets/canned", data={"csrf_token": token, "title": "", "body": "", "language": "en"}
        ).status_code
        == 422
    )
    response = client.post(
        "/tickets/canned",
        data={
            "csrf_token": token,
            "title": "Passport copy",
            "body": "Please send a photo of your passport.",
            "language": "en",
            "category": "claim_jkk",
        },
    )
    assert response.status_code == 302
    item = db.session.query(CannedReply).one()
    ticket = TicketFactory()
    assert "Passport copy" in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    client.post(f"/tickets/canned/{item.id}/toggle", data={"csrf_token": token})
    db.session.expire_all()
    assert db.session.get(CannedReply, item.id).active is False
    assert "Passport copy" not in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)


def test_pages_of_merged_tickets_render(client, auth, db):
    auth.login_as("agent")
    source, target = TicketFactory(), TicketFactory()
    services.link_call(source.id, 7, summary="first call")
    services.add_event(source.id, "internal_note", {"voicemail_recording_id": 3, "call_id": 7})
    services.merge(source, target)
    db.session.commit()
    target_page = client.get(f"/tickets/{target.id}").get_data(as_text=True)
    assert "from a merged ticket" in target_page and "first call" in target_page
    assert "The caller left a voicemail (call #7)." in target_page
    source_page = client.get(f"/tickets/{source.id}").get_data(as_text=True)
    assert target.reference in source_page and 'id="reply-form"' not in source_page


def test_open_view_counts_by_category_and_country(client, auth, db):
    auth.login_as("agent")
    TicketFactory(category="claim_jkk", country="TW")
    TicketFactory(category="claim_jkk", country="TW")
    closed = TicketFactory(category="claim_jkk", country="TW")
    services.change_status(closed, "closed")
    TicketFactory(category="membership", country="HK")
    db.session.commit()
    assert services.open_counts() == [("claim_jkk", "TW", 2), ("membership", "HK", 1)]
    html = client.get("/tickets/?view=open").get_data(as_text=True)
    assert 'id="by-category-country"' in html and "category=claim_jkk" in html
