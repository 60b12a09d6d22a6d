"""The IVR, branch by branch in both languages, asserted on parsed TwiML."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - our own TwiML

import pytest
from sqlalchemy import select

from app.agents.models import WorkItem
from app.extensions import db
from app.telephony.models import Call, CallbackRequest, CallEvent, Recording
from app.telephony.prompts import PROMPTS, VOICES, text
from app.tickets.models import Ticket
from tests.factories import make_member
from tests.telephony.conftest import call_params, parse, verbs

SID = "CA" + "a" * 32
LANG_CODE = {"id": "id-ID", "en": "en-US"}
DIGIT = {"id": "1", "en": "2"}


def _said(root, language=None):
    return [
        el.text for el in root.iter("Say") if language is None or el.get("language") == LANG_CODE[language]
    ]


def test_every_prompt_exists_in_both_languages():
    for key, texts in PROMPTS.items():
        assert set(texts) == {"id", "en"}, key
        assert texts["id"] and texts["en"] and texts["id"] != texts["en"], key
    assert set(VOICES) == {"id", "en"}


def _call_to(post, step, language="id", sid=SID, **form):
    """Walk a call through the IVR up to ``step`` and return that step's TwiML."""
    root = parse(post("/telephony/voice/inbound", call_params(sid)))
    if step == "inbound":
        return root
    root = parse(post("/telephony/voice/language", call_params(sid, Digits=DIGIT[language])))
    if step == "language":
        return root
    root = parse(post(f"/telephony/voice/kpj?lang={language}", call_params(sid, Digits=form.get("kpj", "#"))))
    if step == "kpj":
        return root
    return parse(
        post(f"/telephony/voice/topic?lang={language}", call_params(sid, Digits=form.get("topic", "1")))
    )


def test_inbound_offers_the_language_menu_in_both_languages(post, clock):
    root = _call_to(post, "inbound")
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "/telephony/voice/language"
    assert _said(gather, "id") == [text("language_menu", "id")]
    assert _said(gather, "en") == [text("language_menu", "en")]
    assert root.find("Redirect").text == "/telephony/voice/language"
    call = db.session.scalar(select(Call).where(Call.call_sid == SID))
    assert call.direction == "inbound" and call.from_number == "+85291234567" and call.caller_country == "HK"


def test_inbound_twice_is_one_call(post, clock):
    _call_to(post, "inbound")
    _call_to(post, "inbound")
    assert db.session.scalar(select(db.func.count(Call.id))) == 1
    assert db.session.scalar(select(db.func.count(CallEvent.id)).where(CallEvent.kind == "created")) == 1


@pytest.mark.parametrize("language", ["id", "en"])
def test_language_choice_leads_to_the_kpj_menu_in_that_language(post, clock, language):
    root = _call_to(post, "language", language)
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root.find("Gather")
    assert gather.get("finishOnKey") == "#"
    assert gather.get("numDigits") == "11"
    assert gather.get("action") == f"/telephony/voice/kpj?lang={language}"
    assert _said(gather) == [text("kpj_menu", language)]
    assert gather.find("Say").get("language") == LANG_CODE[language]
    assert db.session.scalar(select(Call.language)) == language


def test_no_key_at_the_language_menu_means_bahasa_indonesia(post, clock):
    _call_to(post, "inbound")
    root = parse(post("/telephony/voice/language", call_params(SID)))
    assert _said(root.find("Gather")) == [text("kpj_menu", "id")]


@pytest.mark.parametrize("language", ["id", "en"])
def test_outside_hours_the_caller_can_leave_a_voicemail_after_choosing_a_topic(post, clock, language):
    clock.advance(13 * 3600)  # 23:00 in Jakarta
    root = _call_to(post, "topic", language, topic="9")
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]
    assert _said(root)[0] == text("closed", language, open="06:00", close="22:00")
    assert db.session.scalar(select(WorkItem)) is None  # nobody to answer: not queued
    record = root.find("Record")
    assert record.get("action") == f"/telephony/voice/voicemail-done?lang={language}"
    assert record.get("recordingStatusCallback") == "/telephony/voice/recording"
    assert record.get("maxLength") == "120"


@pytest.mark.parametrize("language", ["id", "en"])
def test_known_kpj_links_the_member(post, clock, language):
    member = make_member()
    root = _call_to(post, "kpj", language, kpj=member.kpj)
    assert verbs(root) == ["Say", "Gather", "Redirect"]
    assert _said(root)[0] == text("kpj_found", language)
    gather = root.find("Gather")
    assert gather.get("action") == f"/telephony/voice/topic?lang={language}"
    # A member may hear her claim status (self-service) before the topics.
    assert _said(gather) == [text("self_service_offer", language), text("topic_menu", language)]
    call = db.session.scalar(select(Call))
    assert call.member_id == member.id and call.kpj == member.kpj


@pytest.mark.parametrize("language", ["id", "en"])
def test_unknown_kpj_goes_on_unverified(post, clock, language):
    root = _call_to(post, "kpj", language, kpj="99999999999")
    assert _said(root)[0] == text("kpj_not_found", language)
    assert db.session.scalar(select(Call.member_id)) is None


def test_skipping_the_kpj_goes_straight_to_the_topics(post, clock):
    root = _call_to(post, "kpj", "en", kpj="#")
    assert verbs(root) == ["Gather", "Redirect"]


@pytest.mark.parametrize("language", ["id", "en"])
def test_topic_choice_opens_a_ticket_and_enqueues(post, clock, language):
    root = _call_to(post, "topic", language, topic="1")
    assert verbs(root) == ["Say", "Enqueue"]
    assert _said(root) == [text("queued", language)]
    enqueue = root.find("Enqueue")
    assert enqueue.text == f"halopmi-{language}"
    assert enqueue.get("waitUrl") == f"/telephony/voice/wait?lang={language}"
    assert enqueue.get("action") == f"/telephony/voice/queue-exit?lang={language}"
    call = db.session.scalar(select(Call))
    assert call.topic == "claim_jkk" and call.enqueued_at is not None
    ticket = db.session.get(Ticket, call.ticket_id)
    assert ticket.channel == "phone" and ticket.category == "claim_jkk" and ticket.language == language
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "call", WorkItem.ref_id == call.id))
    assert item.status == "waiting" and item.ticket_id == ticket.id and item.language == language
    assert db.session.scalar(select(CallEvent.kind).where(CallEvent.kind == "queued")) == "queued"


@pytest.mark.parametrize("language", ["id", "en"])
def test_emergency_is_acknowledged_and_prioritised(post, clock, language):
    root = _call_to(post, "topic", language, topic="9")
    assert _said(root) == [text("emergency_ack", language), text("queued", language)]
    item = db.session.scalar(select(WorkItem))
    other = _call_to(post, "topic", language, sid="CA" + "b" * 32, topic="4")
    assert other is not None
    items = {i.topic: i for i in db.session.scalars(select(WorkItem))}
    assert item.topic == "emergency" and items["emergency"].priority > items["membership"].priority
    assert db.session.scalar(select(Ticket.priority).where(Ticket.category == "emergency")) == "urgent"


def test_an_unknown_topic_key_is_other(post, clock):
    _call_to(post, "topic", "id", topic="7")
    assert db.session.scalar(select(Call.topic)) == "other"


def test_second_call_from_the_same_number_reuses_the_open_ticket(post, clock):
    _call_to(post, "topic", "id")
    _call_to(post, "topic", "id", sid="CA" + "c" * 32)
    assert db.session.scalar(select(db.func.count(Ticket.id))) == 1
    assert db.session.scalar(select(db.func.count(Call.id))) == 2


@pytest.mark.parametrize("language", ["id", "en"])
def test_hold_tells_position_and_offers_a_callback(post, clock, language):
    _call_to(post, "topic", language)
    root = parse(post(f"/telephony/voice/wait?lang={language}", call_params(SID, QueuePosition="1")))
    assert verbs(root) == ["Gather", "Play"]
    gather = root.find("Gather")
    assert gather.get("action") == f"/telephony/voice/wait-key?lang={language}"
    said = _said(gather, language)
    assert said[0] == text("position", language, position=1)
    assert said[-1] == text("press_for_callback", language)
    assert root.find("Play").text.startswith("http")


@pytest.mark.parametrize(
    ("seconds", "english"),
    [(50, "The estimated wait is about one minute."), (180, "The estimated wait is about 3 minutes.")],
)
def test_the_estimated_wait_is_said_in_good_english(app, seconds, english):
    from app.telephony.twiml import hold

    with app.test_request_context():
        root = ET.fromstring(str(hold("en", 1, seconds, offer_callback=False)))
    assert english in [say.text for say in root.iter("Say")]


def test_past_the_maximum_wait_the_caller_leaves_for_voicemail(post, clock, app):
    _call_to(post, "topic", "en")
    clock.advance(app.config["TELEPHONY_MAX_WAIT_SECONDS"] + 1)
    root = parse(post("/telephony/voice/wait?lang=en", call_params(SID)))
    assert verbs(root) == ["Leave"]
    root = parse(post("/telephony/voice/queue-exit?lang=en", call_params(SID, QueueResult="leave")))
    assert verbs(root) == ["Say", "Say", "Record", "Say", "Hangup"]
    assert _said(root)[0] == text("long_wait", "en")
    assert db.session.scalar(select(WorkItem.status)) == "cancelled"


@pytest.mark.parametrize("language", ["id", "en"])
def test_press_1_while_waiting_books_a_callback_on_the_callers_number(post, clock, language):
    _call_to(post, "topic", language)
    root = parse(post(f"/telephony/voice/wait-key?lang={language}", call_params(SID, Digits="1")))
    assert verbs(root) == ["Leave"]
    root = parse(post(f"/telephony/voice/queue-exit?lang={language}", call_params(SID, QueueResult="leave")))
    assert verbs(root) == ["Say", "Hangup"]
    assert _said(root) == [text("callback_confirmed", language)]
    callback = db.session.scalar(select(CallbackRequest))
    call = db.session.scalar(select(Call))
    assert (
        callback.phone == "+85291234567"
        and callback.source == "queue"
        and callback.ticket_id == call.ticket_id
    )
    items = {(i.kind, i.status) for i in db.session.scalars(select(WorkItem))}
    assert items == {("call", "cancelled"), ("callback", "waiting")}


def test_press_1_delivered_twice_books_one_callback(post, clock):
    _call_to(post, "topic", "id")
    for _ in range(2):
        assert verbs(parse(post("/telephony/voice/wait-key?lang=id", call_params(SID, Digits="1")))) == [
            "Leave"
        ]
    assert db.session.scalar(select(db.func.count(CallbackRequest.id))) == 1


def test_another_key_while_waiting_keeps_the_caller_waiting(post, clock):
    _call_to(post, "topic", "id")
    root = parse(post("/telephony/voice/wait-key?lang=id", call_params(SID, Digits="5")))
    assert "Leave" not in verbs(root) and "Play" in verbs(root)
    assert db.session.scalar(select(CallbackRequest)) is None


def test_hanging_up_in_the_queue_is_abandoned_once(post, clock):
    _call_to(post, "topic", "id")
    clock.advance(42)
    for _ in range(2):
        root = parse(post("/telephony/voice/queue-exit?lang=id", call_params(SID, QueueResult="hangup")))
        assert verbs(root) == []
    events = db.session.scalars(select(CallEvent).where(CallEvent.kind == "abandoned")).all()
    assert len(events) == 1 and events[0].wait_seconds == 42
    assert db.session.scalar(select(WorkItem.status)) == "cancelled"


@pytest.mark.parametrize("language", ["id", "en"])
def test_voicemail_makes_a_ticket_a_callback_and_keeps_only_our_reference(post, clock, language):
    clock.advance(13 * 3600)
    _call_to(post, "topic", language, topic="9")
    form = call_params(
        SID,
        RecordingSid="RE" + "1" * 32,
        RecordingDuration="17",
        RecordingUrl="https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE1",
    )
    root = parse(post(f"/telephony/voice/voicemail-done?lang={language}", form))
    assert verbs(root) == ["Say", "Hangup"]
    assert _said(root) == [text("voicemail_thanks", language)]
    recording = db.session.scalar(select(Recording))
    assert recording.sid == "RE" + "1" * 32 and recording.duration == 17
    assert not hasattr(recording, "url")
    call = db.session.scalar(select(Call))
    ticket = db.session.get(Ticket, call.ticket_id)
    assert (ticket.channel, ticket.category, ticket.priority) == ("voicemail", "emergency", "urgent")
    assert db.session.scalar(select(WorkItem.kind)) == "callback"  # no queued call: it was closed
    assert db.session.scalar(select(CallbackRequest.source)) == "voicemail"
    assert db.session.scalar(select(CallEvent.kind).where(CallEvent.kind == "voicemail")) == "voicemail"


def test_hold_does_not_offer_a_callback_to_a_number_we_cannot_call(post, clock):
    sid = "CA" + "9" * 32
    post("/telephony/voice/inbound", call_params(sid, From="+12015550123"))  # not a placement country
    post("/telephony/voice/language", call_params(sid, Digits="2"))
    post("/telephony/voice/kpj?lang=en", call_params(sid, Digits="#"))
    post("/telephony/voice/topic?lang=en", call_params(sid, Digits="4"))
    root = parse(post("/telephony/voice/wait?lang=en", call_params(sid)))
    assert text("press_for_callback", "en") not in _said(root)


def test_business_hours_are_configurable_and_may_cross_midnight(app, clock):
    from app.telephony.services import business_hours

    assert business_hours()  # 10:00 in Jakarta
    app.config["TELEPHONY_HOURS"] = "20:00-08:00"
    assert not business_hours()
    clock.advance(12 * 3600)  # 22:00 in Jakarta
    assert business_hours()


def test_queue_exit_after_the_agent_redirect_leads_to_the_agents_conference(post, clock):
    _call_to(post, "topic", "en")
    call = db.session.scalar(select(Call))
    root = parse(post("/telephony/voice/queue-exit?lang=en", call_params(SID, QueueResult="redirected")))
    assert verbs(root) == []  # nobody accepted it: nothing to add
    item = _accepted_by_an_agent(call.id)
    root = parse(post("/telephony/voice/queue-exit?lang=en", call_params(SID, QueueResult="redirected")))
    conference = root.find("Dial/Conference")
    assert conference.text == f"call-{call.id}-{item.id}-{item.offers}"
    assert (
        conference.get("startConferenceOnEnter") == "false"
        and conference.get("endConferenceOnExit") == "false"
    )


def make_user_id() -> int:
    from tests.factories import make_user

    return make_user("agent").id


def _accepted_by_an_agent(call_id: int):  # type: ignore[no-untyped-def]
    from app.agents import routing
    from app.agents.models import WorkItem
    from app.agents.routing.presence import set_skills, set_state

    agent_id = make_user_id()
    set_skills(agent_id, languages=["id", "en"])
    set_state(agent_id, "available")
    routing.route()
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == "call", WorkItem.ref_id == call_id))
    routing.accept(agent_id, item.id)
    db.session.commit()
    return item


def test_choosing_a_topic_costs_a_bounded_number_of_statements(app, post, clock):
    """The topic step opens the ticket, starts its SLA clock, queues the call and looks for an
    agent: 16 statements at most besides BEGIN/COMMIT and the tests' savepoints (it was 28:
    the call read twice, the new ticket read again to link the call, three UPDATEs of the
    ticket, its SLA flags re-read, a look-up before the queue's INSERT; bench_webhook_cpu.py)."""
    from sqlalchemy import event

    from app.extensions import db

    _call_to(post, "kpj")
    seen: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if not statement.startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            seen.append(statement.split("\n")[0][:80])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        root = parse(post("/telephony/voice/topic?lang=id", call_params(SID, Digits="1")))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert "Enqueue" in verbs(root)
    assert sum(s.startswith("SELECT calls.") for s in seen) == 1, seen  # the call, read once
    assert sum(s.startswith("UPDATE tickets") for s in seen) == 1, seen  # reference, policy, due: one
    assert len(seen) <= 16, seen  # 16 on SQLite and PostgreSQL (2026-12-04)
