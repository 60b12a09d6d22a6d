"""The KPIs read the call log exactly as the real call path writes it (simulator + webhooks)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.agents.routing.presence import set_skills, set_state
from app.extensions import db
from app.supervisor import kpis
from app.telephony.models import Call
from tests.factories import make_user
from tests.telephony.conftest import clock, sim  # noqa: F401 - fixtures
from tests.telephony.test_end_to_end import TOPICS, _accept, _run_jobs

SETTINGS = kpis.KpiSettings(answer_target=20, short_abandon=5, timezone="Asia/Jakarta")


def _queue(sim, language_key="1", topic_key="4"):  # noqa: F811
    phone = sim.dial_in("+85291234567")
    phone.press(language_key)
    phone.press("#")
    phone.press(topic_key)
    assert phone.state == "queued"
    return phone


def test_answered_abandoned_and_callback_calls_as_the_webhooks_log_them(sim, clock):  # noqa: F811
    start = clock.now() - timedelta(hours=1)
    agent_id = make_user("agent").id  # an id: jobs close the session and detach objects
    set_skills(agent_id, languages=["id", "en"], topics=TOPICS)
    db.session.commit()

    answered = _queue(sim)
    clock.advance(12)
    set_state(agent_id, "available")
    db.session.commit()
    call = db.session.scalar(select(Call).where(Call.call_sid == answered.sid))
    item_id = _accept(agent_id, "call", call.id).id
    _run_jobs("app.telephony.tasks.connect_agent")
    sim.poll()
    softphone = sim.agent_softphone(agent_id, item_id)
    clock.advance(90)
    softphone.hangup()

    hangs_up = _queue(sim, "2")
    clock.advance(45)
    hangs_up.hangup()

    short = _queue(sim)
    clock.advance(3)
    short.hangup()

    wants_callback = _queue(sim, "2")
    clock.advance(30)
    wants_callback.press("1")

    figures = kpis.call_report(
        start, clock.now() + timedelta(hours=1), dimension="all", settings=SETTINGS, now=clock.now()
    ).overall
    assert figures.offered == 4
    assert (figures.answered, figures.answered_within) == (1, 1)
    assert figures.asa == pytest.approx(12)
    assert (figures.abandoned, figures.short_abandoned, figures.callbacks) == (1, 1, 1)
    assert figures.service_level == pytest.approx(1 / 2)
    assert figures.abandon_rate == pytest.approx(1 / 3)
    assert figures.handled == 1 and figures.talk == 90
    by_queue = kpis.call_report(
        start, clock.now() + timedelta(hours=1), dimension="queue", settings=SETTINGS, now=clock.now()
    )
    assert {key: f.offered for key, f in by_queue.totals.items()} == {"id": 2, "en": 2}


def test_a_caller_sent_to_voicemail_waited_until_she_left_the_queue_not_until_her_message_ended(
    sim, clock, app  # noqa: F811
):
    """Asterisk's EXITWITHTIMEOUT waittime is the time in the queue; the message comes after."""
    from app.supervisor.exports import queue_log

    start = clock.now() - timedelta(hours=1)
    max_wait = app.config["TELEPHONY_MAX_WAIT_SECONDS"]  # 900
    phone = _queue(sim)
    clock.advance(max_wait)
    phone.wait_again()  # the hold music asks again: past the maximum wait, <Leave/>
    assert phone.state == "recording"
    clock.advance(40)  # her message
    phone.finish_recording(seconds=38)

    figures = kpis.call_report(
        start, clock.now() + timedelta(hours=1), dimension="all", settings=SETTINGS, now=clock.now()
    ).overall
    assert (figures.offered, figures.timed_out) == (1, 1)
    assert figures.max_wait == max_wait
    assert figures.queued_seconds == max_wait  # the staffing plan's patience exposure
    lines = [line.rstrip("\n").split("|") for line in queue_log(start, clock.now() + timedelta(hours=1))]
    exits = [line for line in lines if line[4] == "EXITWITHTIMEOUT"]
    assert len(exits) == 1 and exits[0][-1] == str(max_wait)
