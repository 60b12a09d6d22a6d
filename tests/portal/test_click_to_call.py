"""The public Click-to-Call page: the browser call (simulator and Twilio), and "call me back".

Access is by the worker's own session (her call) or a signed link (her call-back): another
browser sees neither. The clock is moved to a fixed Monday morning before anything is signed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
import time_machine
from sqlalchemy import select

from app.agents import routing
from app.agents.models import WorkItem
from app.agents.routing.presence import set_skills, set_state
from app.core.jobs import OutboxIntent, run_intent
from app.extensions import db
from app.telephony.models import Call, CallbackRequest, CallRequest
from app.telephony.prompts import text
from app.telephony.simulator_routes import SIMULATOR_KEY
from tests.conftest import csrf_token
from tests.factories import make_user

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 11:00 in Hong Kong, a Monday
API_SECRET = "test-api-secret-of-thirty-two-bytes!"  # noqa: S105
TOPICS = [
    "membership",
    "contribution",
    "claim_jkk",
    "claim_jkm",
    "claim_jht",
    "benefit_info",
    "other",
    "emergency",
]


@pytest.fixture(autouse=True)
def _monday_morning(redis_conn: Any):  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=True):
        yield


def _json_post(client: Any, path: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Accept": "application/json"}
    if token:
        headers["X-CSRFToken"] = token
    return client.post(path, json=body or {}, headers=headers)


@pytest.fixture
def page_token(client: Any) -> str:
    return csrf_token(client, "/call")


def _twilio(app: Any) -> None:
    app.config.update(
        TWILIO_ACCOUNT_SID="AC" + "1" * 32,
        TWILIO_AUTH_TOKEN="auth-token",  # noqa: S106
        TWILIO_API_KEY="SK" + "1" * 32,
        TWILIO_API_SECRET=API_SECRET,
        TWILIO_TWIML_APP_SID="AP" + "2" * 32,
    )


def _agent() -> int:
    agent = make_user("agent")
    set_skills(agent.id, languages=["id", "en"], topics=TOPICS)
    set_state(agent.id, "available")
    db.session.commit()
    return int(agent.id)


def _accept(agent_id: int, kind: str, ref_id: int) -> int:
    item = db.session.scalar(select(WorkItem).where(WorkItem.kind == kind, WorkItem.ref_id == ref_id))
    routing.route()
    db.session.refresh(item)
    assert item.status == "offered" and item.agent_id == agent_id
    routing.accept(agent_id, item.id)
    db.session.commit()
    return int(item.id)


def _run_jobs(func: str) -> int:
    ids = db.session.scalars(
        select(OutboxIntent.id).where(OutboxIntent.func == func, OutboxIntent.status == "pending")
    ).all()
    for intent_id in ids:
        assert run_intent(intent_id) == "done"
    return len(ids)


# --- the page -------------------------------------------------------------------------------------


def test_home_page_links_click_to_call_first(client):
    html = client.get("/").get_data(as_text=True)
    main = html.split("<main", 1)[1]
    first_link = re.search(r'href="([^"]+)"', main).group(1)
    assert first_link == "/call"


def test_call_page_asks_language_and_topic_and_loads_no_voice_sdk(client):
    html = client.get("/call").get_data(as_text=True)
    assert 'name="language" value="id"' in html and 'name="language" value="en"' in html
    assert '<label for="call-topic">What is your call about?</label>' in html
    assert "Work accident claim (JKK)" in html or "JKK" in html
    assert re.search(r"<script[^>]+twilio-voice", html) is None  # only injected on press
    assert 'data-provider="simulator"' in html


def test_call_page_is_indonesian_by_default(client):
    client.environ_base.pop("HTTP_ACCEPT_LANGUAGE", None)
    html = client.get("/call").get_data(as_text=True)
    assert '<html lang="id">' in html
    assert "Telepon sekarang" in html


# --- call now: the session's own call -----------------------------------------------------------


def test_starting_a_call_needs_the_csrf_token(client):
    response = _json_post(client, "/call/start", {"language": "en", "topic": "other"})
    assert response.status_code == 400
    assert db.session.scalar(select(CallRequest)) is None


def test_a_bad_topic_is_refused_in_the_workers_language(client, page_token):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "id"
    token = csrf_token(client, "/call")
    response = _json_post(client, "/call/start", {"language": "en", "topic": "lottery"}, token)
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"topic": "Pilih topik panggilan Anda."}


def test_with_twilio_the_page_gets_a_token_for_its_own_call_request(client, app):
    _twilio(app)
    token = csrf_token(client, "/call")
    body = _json_post(client, "/call/start", {"language": "en", "topic": "claim_jht"}, token).get_json()
    assert body["provider"] == "twilio"
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    request_ = db.session.scalar(select(CallRequest))
    assert claims["grants"]["identity"] == request_.identity == body["identity"]
    assert (request_.language, request_.topic) == ("en", "claim_jht")


def test_simulator_endpoints_are_not_there_with_twilio(client, app):
    _twilio(app)
    token = csrf_token(client, "/call")
    _json_post(client, "/call/start", {"language": "en", "topic": "other"}, token)
    assert _json_post(client, "/call/sim/dial", {}, token).status_code == 404


def test_in_production_without_twilio_there_is_no_call_to_place(client, app):
    app.config["NAME"] = "production"
    html = client.get("/call").get_data(as_text=True)
    assert "Calls from the browser are not available yet." in html
    assert re.search(r'id="call-button"[^>]*disabled', html)
    token = csrf_token(client, "/call")
    assert _json_post(client, "/call/start", {"language": "en", "topic": "other"}, token).status_code == 503
    assert _json_post(client, "/call/sim/dial", {}, token).status_code == 404


def _start_simulated_call(
    client: Any, language: str = "en", topic: str = "claim_jkm"
) -> tuple[str, dict[str, Any]]:
    token = csrf_token(client, "/call")
    body = _json_post(client, "/call/start", {"language": language, "topic": topic}, token).get_json()
    assert body["provider"] == "simulator" and "token" not in body
    leg = _json_post(client, "/call/sim/dial", {"language": language, "topic": topic}, token)
    assert leg.status_code == 200, leg.get_data(as_text=True)
    return token, leg.get_json()


def test_simulated_call_shows_the_kpj_prompt_and_takes_keys_then_queues(client):
    token, leg = _start_simulated_call(client)
    assert leg["prompts"] == [text("kpj_menu", "en")] and leg["listening"]
    assert client.get("/call/status").get_json()["phase"] == "ivr"
    for key in "2600":
        assert _json_post(client, "/call/sim/key", {"key": key}, token).get_json() == {"accepted": True}
    assert client.get("/call/status").get_json()["leg"]["typed"] == "2600"
    _json_post(client, "/call/sim/key", {"key": "#"}, token)
    status = client.get("/call/status").get_json()
    assert text("kpj_not_found", "en") in status["leg"]["prompts"]
    assert text("queued", "en") in status["leg"]["prompts"]
    assert (status["phase"], status["position"]) == ("queued", 1)
    call = db.session.scalar(select(Call))
    assert (call.direction, call.language, call.topic) == ("browser", "en", "claim_jkm")


def test_queue_position_counts_the_calls_ahead(client, app):
    first = app.test_client()
    first_token, _leg = _start_simulated_call(first)
    _json_post(first, "/call/sim/key", {"key": "#"}, first_token)
    token, _leg = _start_simulated_call(client)
    _json_post(client, "/call/sim/key", {"key": "#"}, token)
    assert client.get("/call/status").get_json()["position"] == 2
    assert first.get("/call/status").get_json()["position"] == 1


def test_another_browser_sees_and_touches_nothing_of_her_call(client, app):
    token, _leg = _start_simulated_call(client)
    stranger = app.test_client()
    stranger_token = csrf_token(stranger, "/call")
    assert stranger.get("/call/status", headers={"Accept": "application/json"}).status_code == 404
    assert _json_post(stranger, "/call/sim/key", {"key": "#"}, stranger_token).status_code == 404
    assert _json_post(stranger, "/call/sim/hangup", {}, stranger_token).status_code == 404
    assert client.get("/call/status").get_json()["leg"]["state"] == "gather"  # untouched


def test_a_session_dials_its_call_request_once(client):
    token, _leg = _start_simulated_call(client)
    assert _json_post(client, "/call/sim/dial", {}, token).status_code == 409


def test_keys_other_than_the_keypads_are_refused(client):
    token, _leg = _start_simulated_call(client)
    assert _json_post(client, "/call/sim/key", {"key": "12"}, token).status_code == 400
    assert _json_post(client, "/call/sim/key", {"key": "a"}, token).status_code == 400


def test_the_simulator_api_is_rate_limited(client, app):
    app.config["PORTAL_CALL_RATE_LIMIT"] = "3 per minute"
    token, _leg = _start_simulated_call(client)
    codes = [_json_post(client, "/call/sim/key", {"key": "1"}, token).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_agent_joins_the_page_says_connected_and_then_the_agent_hangs_up(client, app):
    agent_id = _agent()
    token, _leg = _start_simulated_call(client)
    _json_post(client, "/call/sim/key", {"key": "#"}, token)
    call_id = db.session.scalar(select(Call.id))
    item_id = _accept(agent_id, "call", call_id)
    assert _run_jobs("app.telephony.tasks.connect_agent") == 1
    sim = app.extensions[SIMULATOR_KEY]
    assert client.get("/call/status").get_json()["phase"] != "connected"  # no agent leg yet
    with sim.lock:
        softphone = sim.agent_softphone(agent_id, item_id)
    assert client.get("/call/status").get_json()["phase"] == "connected"
    with sim.lock:
        softphone.hangup()
    status = client.get("/call/status").get_json()
    assert (status["phase"], status["reason"]) == ("ended", "completed")


def test_she_hangs_up_from_the_page(client):
    token, _leg = _start_simulated_call(client)
    assert _json_post(client, "/call/sim/hangup", {}, token).status_code == 200
    assert client.get("/call/status").get_json()["phase"] == "ended"


# --- call me back ---------------------------------------------------------------------------------


def _ask(client: Any, **values: str) -> Any:
    form = {
        "country": "HK",
        "number": "9123 4567",
        "language": "en",
        "topic": "claim_jkm",
        "kpj": "",
        "window_start": "",
        "window_end": "",
        "csrf_token": csrf_token(client, "/call/back"),
    }
    form.update(values)
    return client.post("/call/back", data=form)


def test_call_back_is_requested_confirmed_by_sms_and_shown_to_her(client):
    response = _ask(client)
    assert response.status_code == 302
    status_url = response.headers["Location"]
    callback = db.session.scalar(select(CallbackRequest))
    assert (callback.phone, callback.status, callback.source) == ("+85291234567", "pending", "portal")
    assert db.session.scalar(select(WorkItem.status).where(WorkItem.kind == "callback")) == "waiting"
    sms = db.session.scalar(
        select(OutboxIntent).where(
            OutboxIntent.key == f"ticket-notify:{callback.ticket_id}:callback:{callback.id}:sms"
        )
    )
    assert sms is not None and sms.func == "app.tickets.tasks.notify_worker"
    page = client.get(status_url)
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "Waiting for an agent" in html
    assert "+852•••••567" in html and "9123 4567" not in html
    assert "Hong Kong Time" in html


def test_sms_confirmation_text_is_in_her_language(client, app):
    from app.tickets.models import Notification

    app.config["TICKETS_MESSENGER"] = None
    _ask(client, language="id")
    assert _run_jobs("app.tickets.tasks.notify_worker") == 1
    body = db.session.scalar(select(Notification.body))
    assert body.startswith("BPJS Ketenagakerjaan: permintaan telepon balik Anda kami terima")


def test_outside_her_window_the_page_says_when_in_her_time(client):
    # 11:00 in Hong Kong; she wants 19:00-21:00.
    status_url = _ask(client, window_start="19:00", window_end="21:00").headers["Location"]
    html = client.get(status_url).get_data(as_text=True)
    assert "We will call you from Monday 23 November, 19:00 (Hong Kong Time)." in html
    assert db.session.scalar(select(CallbackRequest.status)) == "scheduled"


@pytest.mark.parametrize(
    ("values", "field_message"),
    [
        ({"number": "12"}, "This is not a valid phone number for the country you chose."),
        (
            {"country": "HK", "number": "+1 900 555 0123"},
            "We cannot call premium-rate or shared-cost numbers.",
        ),
        ({"country": "US", "number": "+1 212 555 0123"}, "We cannot call numbers in this country."),
        ({"kpj": "123"}, "A KPJ number has 11 digits."),
        (
            {"window_start": "19:00", "window_end": "19:00"},
            "Choose a start and an end time that are different",
        ),
    ],
)
def test_refusals_are_explained_not_coded(client, values, field_message):
    response = _ask(client, **values)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_message in html
    assert "country_not_served" not in html and "premium_rate" not in html and "invalid_kpj" not in html
    assert db.session.scalar(select(CallbackRequest)) is None


def test_refusal_in_indonesian(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "id"
    html = _ask(client, kpj="123").get_data(as_text=True)
    assert "Nomor KPJ terdiri dari 11 digit." in html


def test_the_daily_limit_per_number_is_explained(client, app):
    app.config["CALLBACK_LIMIT_PER_NUMBER_PER_DAY"] = 1
    assert _ask(client).status_code == 302
    response = _ask(client)
    assert response.status_code == 429
    assert "This number has asked for too many call-backs today." in response.get_data(as_text=True)


def test_a_forged_or_altered_status_link_shows_nothing(client):
    status_url = _ask(client).headers["Location"]
    assert client.get(status_url[:-2] + "xx").status_code == 404
    assert client.get("/call/back/1").status_code == 404


def test_the_status_link_expires(client):
    status_url = _ask(client).headers["Location"]
    with time_machine.travel(datetime(2026, 12, 8, 3, 0, tzinfo=UTC)):
        assert client.get(status_url).status_code == 404


def test_she_cancels_and_nobody_is_offered_the_call(client):
    status_url = _ask(client).headers["Location"]
    token = csrf_token(client, status_url)
    response = client.post(status_url + "/cancel", data={"csrf_token": token})
    assert response.status_code == 302
    assert db.session.scalar(select(CallbackRequest.status)) == "cancelled"
    assert db.session.scalar(select(WorkItem.status).where(WorkItem.kind == "callback")) == "cancelled"
    html = client.get(status_url).get_data(as_text=True)
    assert "Your call-back request is cancelled." in html and "Cancel the call-back" not in html


def test_cancel_needs_the_csrf_token(client):
    status_url = _ask(client).headers["Location"]
    assert client.post(status_url + "/cancel").status_code == 400
    assert db.session.scalar(select(CallbackRequest.status)) == "pending"


def test_a_call_back_being_dialled_cannot_be_cancelled(client):
    agent_id = _agent()
    status_url = _ask(client).headers["Location"]
    _accept(agent_id, "callback", db.session.scalar(select(CallbackRequest.id)))
    assert _run_jobs("app.telephony.tasks.place_callback") == 1
    token = csrf_token(client, status_url)
    client.post(status_url + "/cancel", data={"csrf_token": token})
    assert db.session.scalar(select(CallbackRequest.status)) == "dialing"
    assert "can no longer be cancelled" in client.get(status_url).get_data(as_text=True)


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_simulated_phone_rings_she_answers_talks_to_the_agent_and_it_is_done(client, app):
    agent_id = _agent()
    status_url = _ask(client).headers["Location"]
    callback_id = db.session.scalar(select(CallbackRequest.id))
    item_id = _accept(agent_id, "callback", callback_id)
    assert _run_jobs("app.telephony.tasks.place_callback") == 1
    state = client.get(status_url + "/state").get_json()
    assert state["phase"] == "calling" and state["leg"]["ringing"]
    sim = app.extensions[SIMULATOR_KEY]
    with sim.lock:
        softphone = sim.agent_softphone(agent_id, item_id)
    token = csrf_token(client, status_url)
    assert _json_post(client, status_url + "/answer", {}, token).status_code == 200
    state = client.get(status_url + "/state").get_json()
    assert state["phase"] == "connected" and state["leg"]["connected"]
    with sim.lock:
        softphone.hangup()
    state = client.get(status_url + "/state").get_json()
    assert state["phase"] == "done"
    assert "Done: we spoke with you" in client.get(status_url).get_data(as_text=True)


@pytest.mark.committed  # the simulator's webhooks write in their own sessions
def test_she_hangs_up_the_simulated_phone_and_the_call_back_is_done(client, app):
    agent_id = _agent()
    status_url = _ask(client).headers["Location"]
    item_id = _accept(agent_id, "callback", db.session.scalar(select(CallbackRequest.id)))
    _run_jobs("app.telephony.tasks.place_callback")
    assert client.get(status_url + "/state").get_json()["leg"]["ringing"]
    sim = app.extensions[SIMULATOR_KEY]
    with sim.lock:
        sim.agent_softphone(agent_id, item_id)
    token = csrf_token(client, status_url)
    _json_post(client, status_url + "/answer", {}, token)
    assert _json_post(client, status_url + "/hangup", {}, token).status_code == 200
    assert client.get(status_url + "/state").get_json()["phase"] == "done"


def test_answering_needs_a_ringing_phone(client):
    status_url = _ask(client).headers["Location"]
    token = csrf_token(client, status_url)
    assert _json_post(client, status_url + "/answer", {}, token).status_code == 409
