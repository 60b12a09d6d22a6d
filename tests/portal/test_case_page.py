"""The worker's case page: her complaint as she wrote it, every public reply (never an internal
note), times on her own clock with the zone named, and a confirmation after she replies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from app.tickets import services
from app.tickets.models import Ticket
from tests.conftest import csrf_token
from tests.factories import make_member, make_user

FILED = datetime(2026, 12, 2, 7, 5, tzinfo=UTC)  # 10.05 in Riyadh, 14.05 in Jakarta
COMPLAINT = "Majikan saya belum membayar gaji\nselama tiga bulan."


@pytest.fixture
def clock():  # type: ignore[no-untyped-def]
    with time_machine.travel(FILED, tick=False) as traveller:
        yield traveller


def _file(client, **overrides) -> Ticket:  # type: ignore[no-untyped-def]
    data = {
        "csrf_token": csrf_token(client, "/complaints/new"),
        "name": "Siti Aminah",
        "phone": "+966 55 123 3048",
        "country": "SA",
        "category": "service_complaint",
        "description": COMPLAINT,
        "language": "en",
        **overrides,
    }
    response = client.post("/complaints/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    ticket = Ticket.query.order_by(Ticket.id.desc()).first()
    assert ticket is not None
    return ticket


def _page(client, ticket: Ticket) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/complaints/{ticket.reference}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_case_shows_her_complaint_as_she_wrote_it(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client)
    html = _page(client, ticket)
    assert 'id="complaint"' in html
    assert "Majikan saya belum membayar gaji\nselama tiga bulan." in html  # line break kept


def test_every_public_reply_is_shown_and_internal_notes_never(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client)
    agent = make_user("agent")
    services.reply(ticket.id, "We called your employer today.", actor_id=agent.id)
    services.reply(ticket.id, "NOTE: employer sounded hostile", actor_id=agent.id, public=False)
    db.session.commit()
    client.post(
        f"/complaints/{ticket.reference}/reply",
        data={
            "csrf_token": csrf_token(client, f"/complaints/{ticket.reference}"),
            "message": "Thank you, still unpaid",
        },
        content_type="multipart/form-data",
    )
    html = _page(client, ticket)
    assert "We called your employer today." in html
    assert "Thank you, still unpaid" in html
    assert "employer sounded hostile" not in html
    assert html.index("We called your employer today.") < html.index("Thank you, still unpaid")


def test_times_are_in_her_placement_countrys_zone_with_the_zone_named(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    member = make_member(placement_country="SA")
    ticket = _file(client, kpj=member.kpj)
    html = _page(client, ticket)
    assert "2 Dec 2026 10:05 Saudi Arabia time" in html
    assert "UTC" not in html and "14:05" not in html


def test_without_a_member_the_country_she_gave_sets_the_zone(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client, phone="+852 9123 4567", country="HK")
    assert "2 Dec 2026 15:05 Hong Kong time" in _page(client, ticket)


def test_her_browsers_zone_wins_when_it_told_us(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client)
    client.set_cookie("tz", "Asia/Taipei", path="/complaints")
    assert "2 Dec 2026 15:05 Taiwan time" in _page(client, ticket)
    client.set_cookie("tz", "Not/AZone", path="/complaints")  # nonsense: her country's zone instead
    assert "2 Dec 2026 10:05 Saudi Arabia time" in _page(client, ticket)
    client.set_cookie("tz", "Etc/UTC", path="/complaints")  # a browser hiding its zone names no place
    assert "2 Dec 2026 10:05 Saudi Arabia time" in _page(client, ticket)


def test_in_indonesian_the_time_reads_the_indonesian_way(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "id"
    html = _page(client, ticket)
    assert "2 Des 2026 10.05 Waktu Arab Saudi" in html


def test_a_reply_is_confirmed(client, db, clock) -> None:  # type: ignore[no-untyped-def]
    ticket = _file(client)
    response = client.post(
        f"/complaints/{ticket.reference}/reply",
        data={"csrf_token": csrf_token(client, f"/complaints/{ticket.reference}"), "message": "Any news?"},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'role="status">Thank you. Your reply was sent; we answer you here.</div>' in html
    assert "Any news?" in html
    # Shown once: a reload does not confirm again.
    assert "Your reply was sent" not in _page(client, ticket)
