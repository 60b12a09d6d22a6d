"""IVR self-service (issue 15): claim status by keypad after the KPJ and the birth date,
through the real, signed webhook URLs, asserted on the TwiML the caller would hear."""

from __future__ import annotations

from datetime import date

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from app.agents import routing
from app.agents.models import WorkItem
from app.agents.routing.presence import set_skills, set_state
from app.core.audit import AuditEvent
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.records.claim_status import PAYMENT_TARGETS
from app.telephony.models import Call, CallEvent, SelfServiceGuard
from app.telephony.prompts import PROMPTS, text
from app.telephony.selfservice import spoken_date
from app.tickets.models import TicketEvent
from app.tickets.sentences import event_sentence
from tests.factories import make_claim, make_member, make_user
from tests.telephony.conftest import call_params, parse, verbs

SID = "CA" + "5" * 32
LANG_CODE = {"id": "id-ID", "en": "en-US"}
DIGIT = {"id": "1", "en": "2"}
BIRTH = date(1990, 5, 17)  # the factory's birth date
RIGHT, WRONG = "17051990", "18051990"
BIRTH_URL = "/telephony/voice/self-service/birth-date"
MENU_URL = "/telephony/voice/self-service/menu"


def _said(root, language=None):
    return [el.text for el in root.iter("Say") if language is None or el.get("language") == LANG_CODE[language]]


def _member_with_claims():
    """Open claims of each program, one recently paid, one paid long ago (not told)."""
    member = make_member()
    make_claim(
        member, program="JKM", benefit_type="death_benefit", status="verifying",
        incident_date=date(2026, 10, 30), submitted_on=date(2026, 11, 10),
    )  # fmt: skip
    make_claim(
        member, program="JKK", benefit_type="medical_abroad", status="medical_assessment",
        incident_date=date(2026, 9, 1), submitted_on=date(2026, 10, 5),
    )  # fmt: skip
    make_claim(
        member, program="JHT", benefit_type="balance", status="paid", incident_date=date(2026, 9, 1),
        submitted_on=date(2026, 10, 1), decided_on=date(2026, 10, 20), paid_on=date(2026, 10, 24),
    )  # fmt: skip
    make_claim(
        member, program="JKK", benefit_type="transport", status="paid", incident_date=date(2025, 12, 1),
        submitted_on=date(2025, 12, 5), decided_on=date(2026, 1, 5), paid_on=date(2026, 1, 10),
    )  # fmt: skip
    db.session.commit()
    return member


def _to_self_service(post, member, language="id", sid=SID, **more):
    """Dial, choose the language, enter the KPJ, press 8: the birth-date prompt's TwiML."""
    parse(post("/telephony/voice/inbound", call_params(sid, **more)))
    parse(post("/telephony/voice/language", call_params(sid, Digits=DIGIT[language], **more)))
    root = parse(post(f"/telephony/voice/kpj?lang={language}", call_params(sid, Digits=member.kpj, **more)))
    assert text("self_service_offer", language) in _said(root)
    return parse(post(f"/telephony/voice/topic?lang={language}", call_params(sid, Digits="8", **more)))


def _birth(post, digits, language="id", attempt=1, again=0, sid=SID):
    url = f"{BIRTH_URL}?lang={language}&attempt={attempt}&again={again}"
    return parse(post(url, call_params(sid, Digits=digits)))


def _call(sid=SID) -> Call:
    return db.session.scalar(select(Call).where(Call.call_sid == sid))


def _facts(sid=SID) -> list[str]:
    call = _call(sid)
    return [e.kind for e in db.session.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.id))]


def _self_service_notes(call) -> list[str]:
    events = db.session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == call.ticket_id, TicketEvent.kind == "internal_note")
    )
    return [e.data["self_service"] for e in events if "self_service" in e.data]


def _hang_up(post, sid=SID):
    post("/telephony/voice/status", call_params(sid, CallStatus="completed", SequenceNumber="9"))


# --- the words -------------------------------------------------------------------------------


def test_every_claim_status_program_and_benefit_has_spoken_words_in_both_languages():
    from app.core.vocabulary import BENEFIT
    from app.records.models import CLAIM_STATUSES, PROGRAMS

    for status in CLAIM_STATUSES:
        assert f"claim_status_{status}" in PROMPTS, status
    for program in PROGRAMS:
        assert f"program_{program}" in PROMPTS and program in PAYMENT_TARGETS, program
    for benefit in BENEFIT:
        assert f"benefit_{benefit}" in PROMPTS, benefit


def test_the_payment_targets_are_the_laws():
    assert PAYMENT_TARGETS["JKM"].working_days == 3  # PP 44/2015
    assert PAYMENT_TARGETS["JHT"].working_days == 5  # PP 46/2015 Pasal 31
    assert PAYMENT_TARGETS["JKK"].working_days is None  # none set: never made up


def test_dates_are_spoken_in_the_callers_language():
    assert spoken_date(date(2026, 3, 12), "id") == "12 Maret 2026"
    assert spoken_date(date(2026, 3, 12), "en") == "12 March 2026"


# --- the path -------------------------------------------------------------------------------


def test_self_service_is_offered_only_to_a_caller_whose_kpj_was_found(post, clock):
    parse(post("/telephony/voice/inbound", call_params(SID)))
    parse(post("/telephony/voice/language", call_params(SID, Digits="1")))
    root = parse(post("/telephony/voice/kpj?lang=id", call_params(SID, Digits="99999999999")))
    assert text("self_service_offer", "id") not in _said(root)
    # "8" from a caller who was not offered it is an ordinary topic choice ("other"), queued.
    root = parse(post("/telephony/voice/topic?lang=id", call_params(SID, Digits="8")))
    assert "Enqueue" in verbs(root)
    assert _call().self_service is None and _call().topic == "other"


@pytest.mark.parametrize("language", ["id", "en"])
def test_right_birth_date_reads_each_claim_in_her_language(post, clock, language):
    member = _member_with_claims()
    root = _to_self_service(post, member, language)
    gather = root.find("Gather")
    assert gather.get("numDigits") == "8" and gather.get("finishOnKey") == "#"
    assert gather.get("action") == f"{BIRTH_URL}?lang={language}&attempt=1&again=0"
    assert _said(gather, language) == [text("birth_date_prompt", language)]

    root = _birth(post, RIGHT, language)
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather.get("action") == f"{MENU_URL}?lang={language}&again=0"
    said = _said(gather, language)
    assert said == _said(gather)  # every sentence in her language's voice
    t = lambda key, **values: text(key, language, **values)  # noqa: E731
    jkm, jkk, jht = t("program_JKM"), t("program_JKK"), t("program_JHT")
    assert said == [
        t("claims_count", count=3),
        # open claims first, newest change first; then the recently paid one
        t("claim_line", number=1, program=jkm, benefit=t("benefit_death_benefit"),
          status=t("claim_status_verifying"), date=spoken_date(date(2026, 11, 10), language)),
        t("claim_target", program=jkm, days=3),
        t("claim_line", number=2, program=jkk, benefit=t("benefit_medical_abroad"),
          status=t("claim_status_medical_assessment"), date=spoken_date(date(2026, 10, 5), language)),
        t("claim_no_target", program=jkk),
        t("claim_line", number=3, program=jht, benefit=t("benefit_balance"),
          status=t("claim_status_paid"), date=spoken_date(date(2026, 10, 24), language)),
        t("claim_target", program=jht, days=5),
        t("menu_repeat"),
        t("menu_sms"),
        t("menu_agent"),
    ]  # fmt: skip
    assert _call().self_service == "verified"
    assert _facts()[-2:] == ["ss_started", "ss_verified"]
    assert db.session.scalar(select(WorkItem)) is None  # nobody rings: she is served by the IVR

    # 1 hears it again; silence twice says goodbye.
    assert _said(parse(post(f"{MENU_URL}?lang={language}&again=0", call_params(SID, Digits="1"))))[0] == said[0]
    root = parse(post(f"{MENU_URL}?lang={language}&again=0", call_params(SID)))
    assert verbs(root) == ["Gather", "Redirect"] and root.find("Gather").get("action").endswith("again=1")
    root = parse(post(f"{MENU_URL}?lang={language}&again=1", call_params(SID)))
    assert verbs(root) == ["Say", "Hangup"] and _said(root) == [t("goodbye")]


def test_a_caller_with_no_claims_hears_that(post, clock):
    member = make_member()
    db.session.commit()
    _to_self_service(post, member, "en")
    root = _birth(post, RIGHT, "en")
    assert _said(root.find("Gather")) == [text("claims_none", "en"), text("menu_agent", "en")]  # nothing to repeat or text
    assert db.session.scalar(select(CallEvent.data).where(CallEvent.kind == "ss_verified")) == {"claims": 0}


def test_three_wrong_birth_dates_end_self_service_and_send_her_to_an_agent(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member, "en")
    for attempt in (1, 2):
        root = _birth(post, WRONG, "en", attempt=attempt)
        assert _said(root)[0] == text("birth_date_wrong", "en")
        assert root.find("Gather").get("action") == f"{BIRTH_URL}?lang=en&attempt={attempt + 1}&again=0"
    root = _birth(post, WRONG, "en", attempt=3)
    assert "Enqueue" in verbs(root)
    assert _said(root)[0] == text("self_service_refused", "en")
    assert not any(text("claims_count", "en", count=3) == s for s in _said(root))  # nothing told
    call = _call()
    assert call.self_service == "refused" and call.topic == "claim_jkm"
    item = db.session.scalar(select(WorkItem))
    assert item.topic == "claim_jkm" and item.priority == routing.topic_priority("claim_jkm")
    assert db.session.get(SelfServiceGuard, member.kpj).failures == 3
    assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == str(member.id))) == (
        "self_service.refused"
    )
    # The agent is told she is not verified (the ticket's timeline, in words).
    assert _self_service_notes(call) == ["tries"]
    note = {"kind": "internal_note", "data": {"self_service": "tries"}}
    with force_locale("en"):
        assert "her identity is not confirmed" in event_sentence(note)
    with force_locale("id"):
        assert "identitasnya belum terkonfirmasi" in event_sentence(note)
    # The right date now changes nothing: the call has moved on.
    assert "Enqueue" in verbs(_birth(post, RIGHT, "en", attempt=4))
    assert _call().self_service == "refused"


def test_the_limit_holds_across_calls_until_the_window_ends(post, clock):
    member = _member_with_claims()
    first, second, third, fourth = ("CA" + d * 32 for d in "6789")
    _to_self_service(post, member, "id", sid=first)
    _birth(post, WRONG, attempt=1, sid=first)
    _birth(post, WRONG, attempt=2, sid=first)
    _hang_up(post, first)  # she hangs up and calls again for fresh tries: she gets one
    clock.advance(600)
    _to_self_service(post, member, "id", sid=second)
    root = _birth(post, WRONG, attempt=1, sid=second)
    assert _said(root)[0] == text("self_service_refused", "id") and "Enqueue" in verbs(root)
    _hang_up(post, second)

    clock.advance(3600)  # a third call is refused before she types anything
    root = _to_self_service(post, member, "id", sid=third)
    assert _said(root)[0] == text("self_service_locked", "id") and "Enqueue" in verbs(root)
    assert "Gather" not in verbs(root)
    _hang_up(post, third)

    clock.advance(24 * 3600)  # the window is over: she may try again
    root = _to_self_service(post, member, "id", sid=fourth)
    assert _said(root.find("Gather")) == [text("birth_date_prompt", "id")]
    root = _birth(post, RIGHT, attempt=1, sid=fourth)
    assert _call(fourth).self_service == "verified"
    assert db.session.get(SelfServiceGuard, member.kpj) is None  # a right date clears the count


def test_a_replayed_wrong_try_counts_once(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member)
    _birth(post, WRONG, attempt=1)
    root = _birth(post, WRONG, attempt=1)  # Twilio delivers the same request again
    assert root.find("Gather").get("action").endswith("attempt=2&again=0")
    assert db.session.get(SelfServiceGuard, member.kpj).failures == 1
    # And a replayed "8" at the topic menu does not start over.
    root = parse(post("/telephony/voice/topic?lang=id", call_params(SID, Digits="8")))
    assert root.find("Gather").get("action").endswith("attempt=2&again=0")
    assert _facts().count("ss_started") == 1


def test_bad_keypad_input_is_asked_again_never_a_500(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member, "en")
    root = _birth(post, "31021990", "en")  # no 31 February: not a date, not a wrong try
    assert _said(root)[:2] == [text("birth_date_invalid", "en"), text("birth_date_prompt", "en")]
    assert root.find("Gather").get("action").endswith("attempt=1&again=1")
    assert db.session.get(SelfServiceGuard, member.kpj) is None
    for url in (f"{BIRTH_URL}?lang=en&attempt=abc&again=-1", f"{BIRTH_URL}?attempt=99999999999999999999"):
        assert post(url, call_params(SID, Digits="1*#")).status_code == 200
    root = parse(post(f"{BIRTH_URL}?lang=en&attempt=1&again=1", call_params(SID)))
    assert _said(root)[0] == text("birth_date_silence", "en")
    root = parse(post(f"{BIRTH_URL}?lang=en&attempt=1&again=2", call_params(SID)))  # third: an agent
    assert _said(root)[0] == text("self_service_to_agent", "en") and "Enqueue" in verbs(root)
    assert db.session.get(SelfServiceGuard, member.kpj) is None  # silence never locks her out
    assert _self_service_notes(_call()) == ["unverified"]

    other = "CA" + "4" * 32
    _to_self_service(post, member, "en", sid=other)
    _birth(post, RIGHT, "en", sid=other)
    root = parse(post(f"{MENU_URL}?lang=en&again=x", call_params(other, Digits="7")))
    assert _said(root)[0] == text("invalid_choice", "en") and _call(other).self_service == "verified"


def test_talk_to_an_agent_keeps_the_claim_topic_and_its_priority(post, clock):
    agent = make_user("agent")
    set_skills(agent.id, languages=["id", "en"], topics=["membership", "claim_jkm"])
    db.session.commit()
    # A general call waits already.
    general = "CA" + "3" * 32
    parse(post("/telephony/voice/inbound", call_params(general)))
    parse(post("/telephony/voice/language", call_params(general, Digits="1")))
    parse(post("/telephony/voice/kpj?lang=id", call_params(general, Digits="#")))
    parse(post("/telephony/voice/topic?lang=id", call_params(general, Digits="4")))
    clock.advance(60)

    member = _member_with_claims()
    _to_self_service(post, member)
    _birth(post, RIGHT)
    root = parse(post(f"{MENU_URL}?lang=id&again=0", call_params(SID, Digits="0")))
    assert _said(root)[0] == text("self_service_to_agent", "id")
    assert "Enqueue" in verbs(root)
    call = _call()
    assert call.self_service == "agent" and call.topic == "claim_jkm" and call.ticket_id is not None
    item = db.session.scalar(select(WorkItem).where(WorkItem.ref_id == call.id))
    waiting = db.session.scalar(select(WorkItem).where(WorkItem.ref_id == _call(general).id))
    assert item.topic == "claim_jkm" and item.priority == routing.topic_priority("claim_jkm") > waiting.priority
    set_state(agent.id, "available")
    routing.route()
    db.session.refresh(item)
    assert item.status == "offered" and item.agent_id == agent.id  # ahead of the earlier general call
    assert _self_service_notes(call) == ["verified"]
    _hang_up(post)
    assert "contained" not in _facts() and "ss_agent" in _facts()


def test_outside_hours_an_agent_request_becomes_a_voicemail_under_the_claim_topic(post, clock):
    clock.advance(13 * 3600)  # 23:00 in Jakarta: self-service still answers
    member = _member_with_claims()
    _to_self_service(post, member, "en")
    assert "Hangup" not in verbs(_birth(post, RIGHT, "en"))
    root = parse(post(f"{MENU_URL}?lang=en&again=0", call_params(SID, Digits="0")))
    assert "Record" in verbs(root) and db.session.scalar(select(WorkItem)) is None
    assert _call().topic == "claim_jkm"


def test_sms_follow_up_once_in_her_language(post, clock, sim):
    member = _member_with_claims()
    kpj = member.kpj  # run_intent ends the session: keep what the test reads afterwards
    _to_self_service(post, member, "en")
    _birth(post, RIGHT, "en")
    root = parse(post(f"{MENU_URL}?lang=en&again=0", call_params(SID, Digits="2")))
    gather = root.find("Gather")
    assert _said(root)[0] == text("sms_on_its_way", "en")
    assert text("menu_sms", "en") not in _said(gather)  # offered once
    root = parse(post(f"{MENU_URL}?lang=en&again=0", call_params(SID, Digits="2")))
    assert _said(root)[0] == text("sms_already_sent", "en")
    intents = db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.func == "app.telephony.tasks.send_self_service_sms")
    ).all()
    assert len(intents) == 1
    db.session.commit()
    assert run_intent(intents[0]) == "done"
    sim.poll()
    [message] = sim.messages
    assert message["to"] == "+85291234567"
    body = message["body"]
    assert body.splitlines()[0] == text("sms_claims_header", "en", kpj=kpj[-4:])
    assert "JKM (death benefit payment), claim no. CLM-" in body and "3 working days" in body
    assert "last change 10 November 2026" in body and "No payment deadline set by law." in body
    assert run_intent(intents[0]) == "already-done"
    _hang_up(post)
    assert _facts().count("ss_sms") == 1 and "contained" in _facts()


def test_no_sms_is_offered_to_a_number_that_cannot_be_texted(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member, "id", From="client:anonymous")
    root = _birth(post, RIGHT)
    assert text("menu_sms", "id") not in _said(root)
    root = parse(post(f"{MENU_URL}?lang=id&again=0", call_params(SID, Digits="2", From="client:anonymous")))
    assert _said(root)[0] == text("invalid_choice", "id")
    assert db.session.scalar(select(func.count(OutboxIntent.id))) == 0


def test_contained_only_when_she_heard_her_status_and_hung_up_without_an_agent(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member, "id")
    _birth(post, RIGHT)
    clock.advance(40)
    _hang_up(post)
    assert _facts()[-1] == "contained"
    # Hanging up before her birth date was checked is not contained.
    other = "CA" + "2" * 32
    _to_self_service(post, member, "id", sid=other)
    _hang_up(post, other)
    assert "contained" not in _facts(other)


def test_the_simulator_plays_self_service_by_keypad(sim, clock):
    member = _member_with_claims()
    phone = sim.dial_in("+85291234567")
    phone.press("2")
    phone.press(member.kpj)
    assert text("self_service_offer", "en") in phone.said()
    phone.press("8")
    assert phone.last_said() == text("birth_date_prompt", "en")
    phone.press(RIGHT)
    assert text("claims_count", "en", count=3) in phone.said()
    assert phone.last_said() == text("menu_agent", "en")
    phone.press("2")
    assert text("sms_on_its_way", "en") in phone.said()
    phone.hangup()
    assert _facts(phone.sid)[-1] == "contained"


def test_a_demo_caller_tries_it_in_the_simulator_with_the_published_kpj_and_birth_date(sim, clock, client, auth):
    import random

    from app.demo import seed_self_service_callers
    from app.demo_people import SELF_SERVICE_CALLERS

    report = seed_self_service_callers(random.Random(1), clock.now().date())  # noqa: S311
    assert report.members == len(SELF_SERVICE_CALLERS) and report.claims == 4
    assert seed_self_service_callers(random.Random(1), clock.now().date()).members == 0  # once
    db.session.commit()
    auth.login_as("agent")
    html = client.get("/telephony/simulator").get_data(as_text=True)
    with_claims, _jkk, without = SELF_SERVICE_CALLERS
    assert with_claims.kpj in html and with_claims.keypad_birth_date == "17081990" and "17081990" in html

    phone = sim.dial_in(with_claims.phone_abroad)
    phone.press("1")
    phone.press(with_claims.kpj)
    phone.press("8")
    phone.press(with_claims.keypad_birth_date)
    said = phone.said()
    assert text("claims_count", "id", count=2) in said
    assert text("claim_target", "id", program=text("program_JKM", "id"), days=3) in said
    phone.hangup()

    phone = sim.dial_in(without.phone_abroad)
    phone.press("2")
    phone.press(without.kpj)
    phone.press("8")
    phone.press(without.keypad_birth_date)
    assert text("claims_none", "en") in phone.said()


def test_housekeeping_forgets_the_counters_whose_window_is_over(post, clock):
    from app.telephony import tasks

    member = _member_with_claims()
    kpj = member.kpj
    _to_self_service(post, member)
    _birth(post, WRONG)
    db.session.commit()
    tasks.housekeeping()
    assert db.session.get(SelfServiceGuard, kpj).failures == 1  # inside the window: kept
    clock.advance(24 * 3600)
    assert tasks.housekeeping()["self_service_guards_dropped"] == 1
    assert db.session.get(SelfServiceGuard, kpj) is None


@pytest.mark.postgres
@pytest.mark.committed  # several connections race on one committed row
def test_simultaneous_wrong_tries_for_one_kpj_are_each_counted(app, db):
    from app.telephony.selfservice import count_failure, locked
    from tests.tickets.test_concurrency import race

    results, errors = race(app, 6, lambda n: None, lambda n, _: count_failure("26099990009"))
    assert not errors and sorted(results) == [1, 2, 3, 4, 5, 6]  # none lost, none twice
    db.session.rollback()
    assert db.session.get(SelfServiceGuard, "26099990009").failures == 6 and locked("26099990009")


def test_a_member_without_a_birth_date_on_file_goes_to_an_agent_at_once(post, clock):
    member = make_member(birth_date=None)
    make_claim(member, program="JHT", benefit_type="balance", status="submitted", submitted_on=date(2026, 11, 1))
    db.session.commit()
    root = _to_self_service(post, member, "en")
    assert _said(root)[0] == text("self_service_unavailable", "en") and "Enqueue" in verbs(root)
    assert _call().topic == "claim_jht" and _self_service_notes(_call()) == ["no_birth_date"]


def test_no_more_guesses_once_another_call_locked_the_kpj(post, clock):
    member = _member_with_claims()
    other = "CA" + "1" * 32
    _to_self_service(post, member, "id")  # she (or someone) is at the prompt in one call …
    _to_self_service(post, member, "id", sid=other)  # … while three wrong dates lock it in another
    for attempt in (1, 2, 3):
        _birth(post, WRONG, attempt=attempt, sid=other)
    root = _birth(post, RIGHT)  # even the right date is no longer checked
    assert _said(root)[0] == text("self_service_locked", "id") and _call().self_service == "refused"


def test_a_key_replayed_after_she_hung_up_changes_nothing(post, clock):
    member = _member_with_claims()
    _to_self_service(post, member)
    _birth(post, RIGHT)
    _hang_up(post)
    assert _facts()[-1] == "contained"
    root = parse(post(f"{MENU_URL}?lang=id&again=0", call_params(SID, Digits="0")))
    assert verbs(root) == []
    assert _call().self_service == "verified" and "ss_agent" not in _facts()
    assert db.session.scalar(select(WorkItem)) is None
    assert verbs(_birth(post, WRONG)) == [] and db.session.get(SelfServiceGuard, member.kpj) is None
