"""The ticket page's work panel: the status selector starts at the current status, and every
assignment or status change says what it did (in the agent's language)."""

from __future__ import annotations

import re

import pytest

from app.tickets import services
from tests.conftest import csrf_token
from tests.factories import TicketFactory, make_user


def _selected_status(html: str) -> str:
    select = re.search(r'<select id="new-status" name="status">(.*?)</select>', html, re.S)
    assert select is not None
    return re.findall(r'<option value="([a-z_]+)" selected>', select.group(1))[0]


def _post(client, ticket, action: str, **data: str):
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    seen = re.search(r'name="seen_event" value="(\d+)"', page).group(1)
    return client.post(
        f"/tickets/{ticket.id}/{action}",
        data={"csrf_token": csrf_token(client, f"/tickets/{ticket.id}"), "version": version, "seen_event": seen, **data},
        follow_redirects=True,
    )


@pytest.mark.parametrize("status", ["new", "open", "pending_worker", "resolved"])
def test_status_selector_starts_at_the_current_status(client, auth, db, status):
    agent = auth.login_as("agent")
    ticket = TicketFactory()
    if status != "new":
        services.change_status(ticket, status, actor_id=agent.id)
        db.session.commit()
    html = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert _selected_status(html) == status


def test_closed_ticket_has_no_status_selector(client, auth, db):
    auth.login_as("agent")
    ticket = TicketFactory()
    services.change_status(ticket, "closed")
    db.session.commit()
    assert 'id="new-status"' not in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)


def test_status_change_is_confirmed(client, auth, db):
    auth.login_as("agent", language="en")
    ticket = TicketFactory()
    html = _post(client, ticket, "status", status="pending_worker").get_data(as_text=True)
    assert "Status changed: New → Waiting for the worker." in html
    assert _selected_status(html) == "pending_worker"


def test_status_change_is_confirmed_in_indonesian(client, auth, db):
    auth.login_as("agent", language="id")
    ticket = TicketFactory()
    html = _post(client, ticket, "status", status="resolved").get_data(as_text=True)
    assert "Status diubah: Baru → Terselesaikan." in html


def test_keeping_the_status_says_so(client, auth, db):
    auth.login_as("agent", language="en")
    ticket = TicketFactory()
    html = _post(client, ticket, "status", status="new").get_data(as_text=True)
    assert "The status stays New." in html


def test_assignment_is_confirmed(client, auth, db):
    auth.login_as("agent", language="en")
    dewi = make_user("agent", name="Dewi Lestari")
    ticket = TicketFactory()
    html = _post(client, ticket, "assign", assignee_id=str(dewi.id)).get_data(as_text=True)
    assert f"{ticket.reference} is assigned to Dewi Lestari." in html


def test_assignment_to_me_and_back_to_the_pool(client, auth, db):
    auth.login_as("agent", language="id")
    ticket = TicketFactory()
    html = _post(client, ticket, "assign", assignee_id="me").get_data(as_text=True)
    assert f"{ticket.reference} ditugaskan kepada Anda." in html
    html = _post(client, ticket, "assign", assignee_id="").get_data(as_text=True)
    assert f"{ticket.reference} kembali ke antrean bersama (tidak ada yang ditugaskan)." in html


def test_unchanged_assignment_says_nothing_changed(client, auth, db):
    me = auth.login_as("agent", language="en")
    ticket = TicketFactory()
    services.assign(ticket, me.id)
    db.session.commit()
    html = _post(client, ticket, "assign", assignee_id="me", team="").get_data(as_text=True)
    assert "Nothing changed: the assignment is the same." in html


def test_same_assignee_with_an_empty_team_field_records_nothing(client, auth, db):
    me = auth.login_as("agent", language="en")
    ticket = TicketFactory()
    services.assign(ticket, me.id)
    db.session.commit()
    before = len(services.timeline(ticket))
    _post(client, ticket, "assign", assignee_id=str(me.id), team="")
    db.session.expire_all()
    assert len(services.timeline(db.session.get(type(ticket), ticket.id))) == before
