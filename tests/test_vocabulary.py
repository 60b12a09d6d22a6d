"""Labels, not codes: the main pages, rendered with demo data in both languages, show no stored
code (``active``, ``paid``, ``SA``, ``pending_worker``…) as text.

The codes come from :mod:`app.core.vocabulary` (every key of every table, plus the countries the demo
places workers in), so a new code with a label is checked as soon as it is added. Only text a
person reads is checked: text nodes outside scripts, styles and attributes.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select

from app.agents.models import AGENT_STATES, WORK_KINDS
from app.core import vocabulary
from app.core.policy import ROLES
from app.demo import COUNTRIES, seed
from app.extensions import db as _db
from app.records.models import CLAIM_STATUSES, MEMBERSHIP_STATUSES, PHASES, PROGRAMS, SCHEMES, Claim, Member
from app.sla.models import TARGETS, BusinessCalendar
from app.staff.models import User
from app.telephony.models import SUPERVISION_MODES
from app.tickets import services as tickets
from app.tickets.models import (
    CATEGORIES,
    CHANNELS,
    EVENT_KINDS,
    MATCH_CONFIDENCES,
    NOTIFICATION_CHANNELS,
    PRIORITIES,
    STATUSES,
    TEMPLATE_FIELDS,
    TEMPLATE_PURPOSES,
    Ticket,
    TicketEvent,
)
from tests.conftest import RequestScopedClient, csrf_token, held_data

# The stored vocabularies each table must cover: the vocabulary (app.core) knows no domain
# package, so the check that a new stored code got its label lives here.
COVERS = {
    "ticket_status": STATUSES,
    "ticket_status_public": STATUSES,
    "priority": PRIORITIES,
    "channel": CHANNELS,
    "event": EVENT_KINDS,
    "category": CATEGORIES,
    "category_public": CATEGORIES,
    "membership": MEMBERSHIP_STATUSES,
    "claim_status": CLAIM_STATUSES,
    "phase": PHASES,
    "program": PROGRAMS,
    "scheme": SCHEMES,
    "confidence": MATCH_CONFIDENCES,
    "agent_state": AGENT_STATES,
    "work_kind": WORK_KINDS,
    "supervision_mode": SUPERVISION_MODES,
    "role": ROLES,
    "sla_target": TARGETS,
    "notification": NOTIFICATION_CHANNELS,
    "template_purpose": TEMPLATE_PURPOSES,
    "template_field": TEMPLATE_FIELDS,
}

pytestmark = pytest.mark.slow

NOW = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)  # a Wednesday morning in WIB
SEPARATORS = re.compile(r"\s*(?:·|,|:|/|→|\||—|;|\n)\s*")
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
# Python values printed as text are codes too ("automatic: True").
ALWAYS = {"True", "False", "None"}


def forbidden_codes() -> set[str]:
    found = set(ALWAYS) | {code for code, _city, _weight in COUNTRIES} | {"ID"}
    for codes in vocabulary.codes().values():
        found |= {code for code in codes if len(code) > 1}
    return found


class _Text(HTMLParser):
    """Text nodes a person reads: not scripts, styles, templates, nor the brand mark."""

    SKIP = {"script", "style", "template", "noscript"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, bool]] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "input", "img", "meta", "link", "hr", "source", "wbr"):
            return
        classes = (dict(attrs).get("class") or "").split()
        skip = tag in self.SKIP or "brand" in classes or (bool(self.stack) and self.stack[-1][1])
        self.stack.append((tag, skip))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        if (not self.stack or not self.stack[-1][1]) and data.strip():
            self.texts.append(data.strip())


def codes_shown(html: str, codes: set[str], words: bool = True) -> list[tuple[str, str]]:
    """(code, the text it was read in) for each code a person would read on the page.

    Codes are English words: on an English page a lowercase word may be its own label ("met",
    "Break / away"), so ``words=False`` checks only what cannot be a word there (snake_case,
    upper case, True/False); on an Indonesian page a stored code cannot pass for a label."""
    parser = _Text()
    parser.feed(html)
    found = []
    for text in parser.texts:
        # Prose a translator wrote ("accounts for agents, supervisors and admins") may use a
        # code's word; there only unmistakable codes count (snake_case, upper case, True).
        prose = text.endswith((".", "!", "?")) and len(text.split()) >= 6
        for raw in SEPARATORS.split(text):
            if raw.strip() in ALWAYS:  # as Python prints them ("None." is a word)
                found.append((raw.strip(), text))
                continue
            segment = raw.strip(" .()[]–-")
            unmistakable = segment.isupper() or "_" in segment
            if segment in codes and segment not in ALWAYS and (unmistakable or (words and not prose)):
                found.append((segment, text))
        found += [(token, text) for token in SNAKE.findall(text) if token in codes]
    return found


def test_every_stored_code_has_a_label_that_is_not_the_code(app) -> None:  # type: ignore[no-untyped-def]
    for kind, stored in COVERS.items():
        assert set(stored) <= set(vocabulary.VOCABULARY[kind]), kind
    with app.test_request_context():
        for language in ("id", "en"):
            with force_locale(language):
                for kind, table in vocabulary.VOCABULARY.items():
                    for code in table:
                        assert vocabulary.label(code, kind) not in ("", code), (language, kind, code)
                assert vocabulary.country_name("SA") == {"id": "Arab Saudi", "en": "Saudi Arabia"}[language]
                assert (
                    vocabulary.label(100, "queue_priority") == {"id": "Darurat", "en": "Emergency"}[language]
                )
                assert vocabulary.label(10, "queue_priority") == "Normal"


def test_the_checker_finds_codes_in_text_but_not_in_attributes_or_scripts() -> None:
    codes = {"active", "SA", "pending_worker", "True", "JKK"}
    html = (
        '<p data-status="active" title="SA">Aktif · Arab Saudi</p><script>var s = "active";</script>'
        "<td>JKK (Kecelakaan Kerja)</td>"
    )
    assert codes_shown(html, codes) == []
    shown = codes_shown(
        "<li>member_id: 44 · confidence: exact · automatic: True</li><td>SA</td>"
        "<p>Status pending_worker now</p><span>JKK</span>",
        codes,
    )
    assert [code for code, _ in shown] == ["True", "SA", "pending_worker", "JKK"]


@pytest.fixture(scope="module")
def demo(_session_app: Flask, _process_state, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A small demo (the real seed code) at a fixed moment, the clock moved before anything is
    signed. Seeded once for both languages and rolled back at the end of the module; each test
    runs in a SAVEPOINT of its own (see ``held_data`` in tests/conftest.py), so the complaint
    one files on the portal is gone before the next."""
    logins_file = tmp_path_factory.mktemp("demo") / "logins.json"
    with held_data("demo", _session_app, _process_state) as holding:
        _session_app.config["DEMO_LOGINS_FILE"] = str(logins_file)
        with time_machine.travel(NOW, tick=True):
            seed(members=30, history_days=3)
            holding.seeded()
            yield json.loads(logins_file.read_text())


def _sign_in(client: FlaskClient, logins: dict[str, str], username: str, language: str) -> User:
    email = f"{username}@halopmi.local"
    user = _db.session.scalar(select(User).where(User.email == email))
    assert user is not None
    user.language = language
    _db.session.commit()
    token = csrf_token(client)
    response = client.post("/login", data={"email": email, "password": logins[email], "csrf_token": token})
    assert response.status_code == 302
    return user


def _portal_case(client: FlaskClient) -> tuple[Ticket, str]:
    """A worker in Saudi Arabia files a complaint with her KPJ; an agent replies and notes."""
    with_claims = select(Member).join(Claim, Claim.member_id == Member.id).order_by(Member.id)
    member = _db.session.scalar(with_claims.where(Member.placement_country == "SA")) or _db.session.scalar(
        with_claims
    )
    assert member is not None
    response = client.post(
        "/complaints/new",
        data={
            "csrf_token": csrf_token(client, "/complaints/new"),
            "name": member.name,
            "phone": "+966 55 123 3048",
            "country": "SA",
            "category": "claim_jkk",
            "kpj": member.kpj,
            "birth_date": member.birth_date.isoformat() if member.birth_date else "",
            "description": "Majikan saya belum melaporkan kecelakaan kerja saya.",
            "language": "id",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    ticket = _db.session.scalar(select(Ticket).order_by(Ticket.id.desc()))
    assert ticket is not None
    agent = _db.session.scalar(select(User).where(User.role == "agent"))
    tickets.reply(ticket.id, "Kami sudah menghubungi pemberi kerja Anda.", actor_id=agent.id)
    tickets.reply(
        ticket.id, "Internal: employer called, waiting for papers.", actor_id=agent.id, public=False
    )
    claim = (
        _db.session.scalar(select(Claim).where(Claim.member_id == ticket.member_id))
        if ticket.member_id
        else None
    )
    if claim is not None:
        tickets.link_claim(ticket.id, claim.id, actor_id=agent.id)
    tickets.change_status(ticket.id, "pending_worker", actor_id=agent.id)
    _db.session.commit()
    return ticket, f"/complaints/{ticket.reference}"


def _check(client: FlaskClient, path: str, codes: set[str], failures: list[str], language: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, f"{path}: {response.status_code}"
    html = response.get_data(as_text=True)
    assert f'lang="{language}"' in html, path
    for code, text in codes_shown(html, codes, words=language != "en"):
        failures.append(f"[{language}] {path}: {code!r} in {text[:120]!r}")
    return html


@pytest.mark.parametrize("language", ["id", "en"])
def test_main_pages_show_labels_not_codes(app: Flask, demo, language: str) -> None:  # type: ignore[no-untyped-def]
    codes = forbidden_codes()
    failures: list[str] = []
    app.test_client_class = RequestScopedClient
    worker = app.test_client()
    worker.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    ticket, case_path = _portal_case(worker)
    for path in ("/", "/complaints/new", "/complaints/done", "/complaints/track", case_path):
        _check(worker, path, codes, failures, language)

    supervisor = app.test_client()
    _sign_in(supervisor, demo, "supervisor", language)
    shown_tickets = [ticket.id] + list(
        _db.session.scalars(
            select(TicketEvent.ticket_id)
            .where(TicketEvent.kind.in_(("status", "member_linked")))
            .distinct()
            .limit(3)
        )
    )
    member_id = ticket.member_id or _db.session.scalar(select(Member.id).order_by(Member.id))
    member = _db.session.get(Member, member_id)
    incomplete = _db.session.scalar(select(Claim).where(Claim.status == "documents_incomplete"))
    assert incomplete is not None and incomplete.missing_documents
    staff_pages = [
        "/staff/",
        "/tickets/?view=all",
        "/tickets/?view=open",
        *[f"/tickets/{ticket_id}" for ticket_id in shown_tickets],
        f"/records/?q={member.kpj}",
        f"/records/?q={member.name.split()[0]}",
        f"/records/members/{member_id}",
        f"/records/members/{incomplete.member_id}",  # a claim missing documents
        "/console/",
        "/supervisor/",
        "/supervisor/wallboard",
        "/supervisor/reports/calls",
        "/supervisor/reports/agents",
        "/supervisor/reports/satisfaction",
        "/supervisor/reports/staffing",
        "/supervisor/sla/",
        "/supervisor/sla/?by=priority",
        "/supervisor/sla/?by=country",
        "/supervisor/sla/?by=channel",
        "/supervisor/sla/breaches",
    ]
    saved = supervisor.post(
        "/tickets/canned",
        data={
            "csrf_token": csrf_token(supervisor, "/tickets/canned"),
            "title": "Dokumen klaim",
            "body": "Mohon kirim dokumen klaim Anda.",
            "language": "id",
            "category": "claim_jkk",
        },
    )
    assert saved.status_code in (200, 302)
    for path in [*staff_pages, "/tickets/canned"]:
        _check(supervisor, path, codes, failures, language)

    agent = app.test_client()
    _sign_in(agent, demo, "agent1", language)
    for path in ("/staff/", "/console/", f"/tickets/{ticket.id}"):
        _check(agent, path, codes, failures, language)

    admin = app.test_client()
    _sign_in(admin, demo, "admin", language)
    calendar_id = _db.session.scalar(select(BusinessCalendar.id).order_by(BusinessCalendar.id))
    for path in ("/admin/users", "/admin/sla/", f"/admin/sla/calendars/{calendar_id}", "/tickets/erasure"):
        _check(admin, path, codes, failures, language)

    assert not failures, "codes shown as text:\n" + "\n".join(failures)
