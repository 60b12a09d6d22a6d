"""Timeline entries read as sentences with labels and names, never as their stored data."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_babel import force_locale

from app.tickets.sentences import event_sentence
from tests.factories import make_claim, make_member, make_user


def _event(kind: str, **data):  # type: ignore[no-untyped-def]
    return SimpleNamespace(kind=kind, data=data)


@pytest.fixture
def request_context(app):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        yield


def test_an_automatic_member_link_names_the_member_and_the_match(db, request_context) -> None:  # type: ignore[no-untyped-def]
    member = make_member(name="Siti Aminah", kpj="12345678901")
    event = _event("member_linked", member_id=member.id, confidence="exact", automatic=True)
    with force_locale("en"):
        assert (
            event_sentence(event)
            == "Linked to member Siti Aminah (KPJ 12345678901), exact match, automatically."
        )
    with force_locale("id"):
        assert event_sentence(event) == (
            "Ditautkan ke peserta Siti Aminah (KPJ 12345678901), cocok persis, secara otomatis."
        )


def test_creation_names_channel_topic_and_priority(db, request_context) -> None:  # type: ignore[no-untyped-def]
    event = _event("created", channel="browser_call", category="claim_jkm", priority="urgent")
    with force_locale("en"):
        assert event_sentence(event) == (
            "Received by: Call from the browser. Topic: JKM claim (death benefit). Priority: Urgent."
        )


def test_a_claim_link_names_program_and_status(db, request_context) -> None:  # type: ignore[no-untyped-def]
    claim = make_claim(make_member(), claim_number="CLM-2026-000001", program="JHT", status="paid")
    with force_locale("id"):
        assert event_sentence(_event("claim_linked", claim_id=claim.id)) == (
            "Ditautkan ke klaim CLM-2026-000001 (JHT (Jaminan Hari Tua), Dibayar)."
        )


def test_status_changes_say_why_and_escalations_say_so(db, request_context) -> None:  # type: ignore[no-untyped-def]
    lead = make_user("supervisor", name="Dewi")
    with force_locale("en"):
        assert event_sentence(
            _event("status", to="open", reason="worker_replied", **{"from": "pending_worker"})
        ) == ("From “Waiting for the worker” to “Open”. Because the worker replied.")
        assert event_sentence(_event("status", fields={"priority": ["normal", "high"]}, escalation=True)) == (
            "Priority: Normal → High. Escalated because an SLA target was missed."
        )
        assert event_sentence(_event("assigned", to=lead.id, escalation=True, **{"from": None})) == (
            "Assigned to Dewi. Escalated because an SLA target was missed."
        )


def test_an_sla_breach_names_the_target_and_its_due_time_in_wib(db, request_context) -> None:  # type: ignore[no-untyped-def]
    event = _event("sla_breach", target="first_response", due_at="2026-12-02T07:05:00+00:00", cycle=0)
    with force_locale("en"):
        assert event_sentence(event) == "First response target missed (due 2 Dec 2026 14:05 WIB)."


def test_unknown_data_is_told_in_words_not_python(db, request_context) -> None:  # type: ignore[no-untyped-def]
    sentence = event_sentence(_event("disposition_recorded", wrap_up_note="called back"))
    assert sentence == "wrap up note: called back"
