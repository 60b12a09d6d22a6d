"""Tickets opened by calls and call-backs get a title a person reads ("Call-back request from
Hong Kong — JKK claim (work accident)"), stored in the staff's default language."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from app.telephony.clicktocall import create_callback
from app.telephony.models import Call
from app.tickets.models import Ticket
from app.tickets.titles import call_title
from tests.telephony.conftest import call_params, parse

SID = "CA" + "7" * 32


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("id", "Permintaan panggilan balik dari Hong Kong — Klaim JKK (kecelakaan kerja)"),
        ("en", "Call-back request from Hong Kong — JKK claim (work accident)"),
    ],
)
def test_title_is_written_in_the_staff_default_language(app, locale, expected, monkeypatch):
    monkeypatch.setitem(app.config, "BABEL_DEFAULT_LOCALE", locale)
    assert call_title("callback", "claim_jkk", "HK") == expected


def test_title_without_a_country(app):
    assert call_title("phone", "emergency", None) == "Panggilan telepon — Darurat"


def test_callback_ticket_has_a_human_title(app, db):
    callback = create_callback(phone="+85291234567", language="en", topic="claim_jkk")
    db.session.commit()
    ticket = db.session.get(Ticket, callback.ticket_id)
    # The worker chose English; the title follows the staff's language, not hers.
    assert ticket.subject == "Permintaan panggilan balik dari Hong Kong — Klaim JKK (kecelakaan kerja)"


def test_phone_call_ticket_has_a_human_title(post, clock):
    parse(post("/telephony/voice/inbound", call_params(SID)))
    parse(post("/telephony/voice/language", call_params(SID, Digits="2")))  # English
    parse(post("/telephony/voice/kpj?lang=en", call_params(SID, Digits="#")))
    parse(post("/telephony/voice/topic?lang=en", call_params(SID, Digits="1")))
    call = db.session.scalar(select(Call).where(Call.call_sid == SID))
    ticket = db.session.get(Ticket, call.ticket_id)
    assert ticket.subject == "Panggilan telepon dari Hong Kong — Klaim JKK (kecelakaan kerja)"


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("en", "Call-back request from Hong Kong — JKK claim (work accident)"),
        ("id", "Permintaan panggilan balik dari Hong Kong — Klaim JKK (kecelakaan kerja)"),
    ],
)
def test_pages_show_a_calls_title_in_the_readers_language(client, auth, db, language, title):
    auth.login_as("agent", language=language)
    callback = create_callback(phone="+85291234567", language="id", topic="claim_jkk")
    db.session.commit()
    page = client.get(f"/tickets/{callback.ticket_id}").get_data(as_text=True)
    assert f"<h1>{db.session.get(Ticket, callback.ticket_id).reference} · {title}</h1>" in page
    listing = client.get("/tickets/?view=all").get_data(as_text=True)
    assert f"<td>{title}" in listing


def test_a_title_the_fields_no_longer_produce_is_shown_as_stored(client, auth, db):
    from app.tickets import services as tickets

    auth.login_as("agent", language="en")
    callback = create_callback(phone="+85291234567", language="id", topic="claim_jkk")
    db.session.commit()
    ticket = db.session.get(Ticket, callback.ticket_id)
    tickets.update_fields(ticket, actor_id=None, expected_version=None, category="claim_jkm")
    db.session.commit()
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "Permintaan panggilan balik dari Hong Kong — Klaim JKK (kecelakaan kerja)</h1>" in page


def test_a_workers_own_subject_is_never_rewritten(client, auth, db):
    from app.tickets import services as tickets

    auth.login_as("agent", language="en")
    ticket = tickets.open_ticket(channel="portal", category="claim_jkk", subject="Klaim saya belum dibayar")
    db.session.commit()
    assert "· Klaim saya belum dibayar</h1>" in client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
