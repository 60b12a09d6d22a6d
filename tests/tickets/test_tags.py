"""Tags: staff add and remove them (timeline entry, optimistic locking), filter the list by them."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.tickets import services
from app.tickets.models import Tag, Ticket, TicketEvent
from tests.conftest import csrf_token
from tests.factories import TicketFactory


def _fresh(db, ticket_id):
    db.session.expire_all()
    return db.session.get(Ticket, ticket_id)


def _post(client, ticket, **data):
    token = csrf_token(client, f"/tickets/{ticket.id}")
    form = {
        "csrf_token": token,
        "version": ticket.version,
        "seen_event": services.timeline(ticket)[-1].id,
        **data,
    }
    return client.post(f"/tickets/{ticket.id}/tags", data=form)


def _tag_events(db, ticket_id):
    return [
        e.data
        for e in db.session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "tagged")
        )
    ]


def test_an_agent_adds_and_removes_tags_each_change_on_the_timeline(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()
    version = ticket.version
    response = _post(client, ticket, add="Employer Dispute, passport-held , employer dispute")
    assert response.status_code == 302
    ticket = _fresh(db, ticket.id)
    assert sorted(t.name for t in ticket.tags) == ["employer-dispute", "passport-held"]
    assert ticket.version == version + 1
    assert _tag_events(db, ticket.id) == [{"added": ["employer-dispute", "passport-held"]}]

    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert 'data-tag="employer-dispute"' in page and "+#passport-held" in page

    _post(client, ticket, remove="passport-held")
    ticket = _fresh(db, ticket.id)
    assert [t.name for t in ticket.tags] == ["employer-dispute"]
    assert _tag_events(db, ticket.id)[-1] == {"removed": ["passport-held"]}
    # The tag itself stays for others to use (suggested while typing).
    assert "passport-held" in services.tag_names()

    # Adding a tag the ticket already has changes nothing: no event, no new version.
    before = ticket.version
    _post(client, ticket, add="employer-dispute")
    ticket = _fresh(db, ticket.id)
    assert ticket.version == before and len(_tag_events(db, ticket.id)) == 2


@pytest.mark.parametrize("bad", ["<script>", "a" * 41, "ok, a/b", "   ", "tag!"])
def test_a_bad_tag_is_refused_with_a_message(client, auth, db, bad):
    auth.login_as("agent")
    ticket = TicketFactory()
    response = _post(client, ticket, add=bad)
    assert response.status_code == 302
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "flash-error" in page
    assert _fresh(db, ticket.id).tags == [] and _tag_events(db, ticket.id) == []
    assert "<script>" not in page.split('id="tags-panel"')[1].split("</section>")[0]


def test_a_stale_tag_change_is_a_409_showing_what_changed(client, auth, db):
    agent = auth.login_as("agent")
    ticket = TicketFactory()
    stale = {"version": ticket.version, "seen_event": services.timeline(ticket)[-1].id}
    services.tag(ticket, add=["urgent-docs"], actor_id=agent.id)
    db.session.commit()
    token = csrf_token(client, f"/tickets/{ticket.id}")
    response = client.post(f"/tickets/{ticket.id}/tags", data={"csrf_token": token, "add": "other-tag", **stale})
    assert response.status_code == 409
    assert [t.name for t in _fresh(db, ticket.id).tags] == ["urgent-docs"]


def test_only_staff_with_the_tag_permission_may_tag(client, auth, db):
    ticket = TicketFactory()
    auth.login_as("admin")
    response = client.post(f"/tickets/{ticket.id}/tags", data={"add": "x"})
    assert response.status_code in (400, 403)  # CSRF or role: never applied
    assert _fresh(db, ticket.id).tags == []
    auth.logout()
    auth.login_as("supervisor")
    assert _post(client, _fresh(db, ticket.id), add="checked").status_code == 302
    assert [t.name for t in _fresh(db, ticket.id).tags] == ["checked"]


def test_the_list_shows_tags_and_filters_by_one(client, auth, db):
    agent = auth.login_as("agent")
    tagged = TicketFactory(subject="tagged one")
    other = TicketFactory(subject="other one")
    services.tag(tagged, add=["kafala", "medical"], actor_id=agent.id)
    services.tag(other, add=["medical"], actor_id=agent.id)
    db.session.commit()

    page = client.get("/tickets/?view=all").get_data(as_text=True)
    row = re.search(rf'<tr data-ticket="{tagged.id}">.*?</tr>', page, re.S).group(0)
    assert 'data-tag="kafala"' in row and 'data-tag="medical"' in row
    assert '<option value="medical">' in page  # suggestions, most used first

    def refs(url):
        rows = client.get(url, headers={"Accept": "application/json"}).get_json()["tickets"]
        return {r["reference"] for r in rows}

    assert refs("/tickets/?view=all&tag=kafala") == {tagged.reference}
    assert refs("/tickets/?view=all&tag=Medical") == {tagged.reference, other.reference}
    assert refs("/tickets/?view=all&tag=nobody-uses-this") == set()
    assert refs("/tickets/?view=all&tag=%3Cscript%3E") == set()  # invalid: nothing, not everything
    rows = client.get("/tickets/?view=all&tag=kafala", headers={"Accept": "application/json"}).get_json()
    assert rows["tickets"][0]["tags"] == ["kafala", "medical"]


def test_tags_are_never_shown_to_the_worker(app, client, auth, db):
    agent = auth.login_as("agent")
    ticket = TicketFactory(requester_phone="+85291234567")
    services.tag(ticket, add=["difficult-caller"], actor_id=agent.id)
    db.session.commit()
    api = app.test_client()
    body = api.get(f"/api/v1/complaints/{ticket.reference}", query_string={"verification": "+85291234567"})
    assert body.status_code == 200 and "difficult-caller" not in body.get_data(as_text=True)


@pytest.mark.postgres
@pytest.mark.committed  # several connections race on committed rows
def test_two_agents_creating_the_same_new_tag_at_once_share_one_tag(app, db):
    from tests.tickets.test_concurrency import race

    first, second = TicketFactory(), TicketFactory()
    ids = [first.id, second.id]

    def prepare(n: int) -> int:
        return ids[n]

    def act(n: int, ticket_id: int) -> str:
        services.tag(ticket_id, add=["brand-new"], actor_id=None)
        return "ok"

    results, errors = race(app, 2, prepare, act)
    assert errors == [] and results == ["ok", "ok"]
    assert db.session.scalar(select(func.count()).select_from(Tag).where(Tag.name == "brand-new")) == 1
    assert all([t.name for t in _fresh(db, i).tags] == ["brand-new"] for i in ids)
