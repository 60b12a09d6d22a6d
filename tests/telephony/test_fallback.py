"""The fallback URL answers with useful TwiML even when the database is down."""

from __future__ import annotations

import pytest

from app import create_app
from app.telephony.prompts import text
from config import TestingConfig
from tests.telephony.conftest import call_params, parse, twilio_post, verbs

FALLBACK = "/telephony/voice/fallback"


@pytest.fixture
def dead_db_app(redis_url, tmp_path):
    # A database that cannot be opened: any query fails.
    url = f"sqlite:///{tmp_path}/missing-dir/nothing.db"
    return create_app(
        TestingConfig, REDIS_URL=redis_url, SQLALCHEMY_DATABASE_URI=url, PROPAGATE_EXCEPTIONS=False
    )


def test_the_database_really_is_down_and_the_webhook_answers_the_fallback_itself(dead_db_app):
    client = dead_db_app.test_client()
    response = twilio_post(client, dead_db_app, "/telephony/voice/inbound", call_params())
    # Not a 500 left to Twilio's Fallback URL: the caller hears the apology and may leave a message.
    assert response.status_code == 200
    assert verbs(parse(response))[-4:] == ["Record", "Say", "Say", "Hangup"]


def test_fallback_apologises_in_both_languages_and_offers_voicemail(dead_db_app):
    client = dead_db_app.test_client()
    form = call_params(ErrorCode="11200", ErrorUrl="https://calls.example.org/telephony/voice/inbound")
    root = parse(twilio_post(client, dead_db_app, FALLBACK, form))
    said = [el.text for el in root.iter("Say")]
    assert said[:4] == [
        text("apology", "id"),
        text("voicemail", "id"),
        text("apology", "en"),
        text("voicemail", "en"),
    ]
    assert verbs(root)[4:] == ["Record", "Say", "Say", "Hangup"]
    assert root.find("Record").get("action") == "/telephony/voice/fallback-done?lang=id"


def test_fallback_uses_the_callers_language_from_the_failed_url(dead_db_app):
    client = dead_db_app.test_client()
    form = call_params(ErrorCode="11200", ErrorUrl="https://calls.example.org/telephony/voice/wait?lang=en")
    root = parse(twilio_post(client, dead_db_app, FALLBACK, form))
    assert [el.text for el in root.iter("Say")][:2] == [text("apology", "en"), text("voicemail", "en")]
    assert all(el.get("language") == "en-US" for el in root.iter("Say"))
    assert root.find("Record").get("action") == "/telephony/voice/fallback-done?lang=en"


def test_fallback_still_needs_a_signature(dead_db_app):
    assert dead_db_app.test_client().post(FALLBACK, data=call_params()).status_code == 403


def test_message_left_while_the_database_is_down_still_gets_thanks(dead_db_app):
    client = dead_db_app.test_client()
    form = call_params(RecordingSid="RE" + "9" * 32, RecordingDuration="20")
    root = parse(twilio_post(client, dead_db_app, "/telephony/voice/fallback-done?lang=en", form))
    assert verbs(root) == ["Say", "Hangup"]
    assert root.find("Say").text == text("voicemail_thanks", "en")


def test_with_the_database_up_the_fallback_message_makes_a_ticket(post, clock):
    from sqlalchemy import select

    from app.extensions import db
    from app.telephony.models import Call, Recording

    form = call_params(RecordingSid="RE" + "8" * 32, RecordingDuration="20")
    parse(post("/telephony/voice/fallback-done?lang=id", form))
    call = db.session.scalar(select(Call))
    assert call.ticket_id is not None
    assert db.session.scalar(select(Recording.sid)) == "RE" + "8" * 32
