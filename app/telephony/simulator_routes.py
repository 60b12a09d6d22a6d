"""Staff-facing telephony routes: recording playback and the development simulator page.

These use the staff session, so unlike the webhooks (signature-checked, CSRF-exempt blueprint)
they check the CSRF token themselves where they change something.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, jsonify, render_template, request, stream_with_context
from flask_login import current_user

from app.core.policy import require
from app.extensions import csrf, db
from app.telephony import playback, simulator_phone
from app.telephony.blueprint import bp
from app.telephony.models import Recording
from app.telephony.provider import ProviderError
from app.telephony.simulator import Leg, Simulator, SimulatorError
from app.telephony.softphone import SIMULATOR_KEY, get_simulator, simulator_active

__all__ = ["SIMULATOR_KEY", "bp"]


# The staff navigation links the simulator only when it can be used.
bp.add_app_template_global(simulator_active, "simulator_available")


def _simulator() -> Simulator:
    if not simulator_active():
        abort(404)  # a development tool: with a real Twilio account there is nothing to simulate
    return get_simulator()


def _leg_state(leg: Leg) -> dict[str, Any]:
    return {
        "sid": leg.sid,
        "from": leg.from_,
        "state": leg.state,
        "heard": [{"verb": h.verb, "text": h.text} for h in leg.heard[-30:]],
        "listening": leg.state == "gather" or (leg.state == "queued" and leg.wait_gather is not None),
        "conference": (leg.conference.text or "").strip() if leg.conference is not None else None,
    }


DEFAULT_PHONE = "+85291234567"


def _state(sim: Simulator, phone: str | None = None) -> dict[str, Any]:
    """The legs, the app's latest messages, and the messaging phone's conversation (``phone``)."""
    with sim.lock:
        sim.poll()
        number = phone or request.args.get("phone") or DEFAULT_PHONE
        return {
            "legs": [_leg_state(leg) for leg in sim.legs.values()],
            "messages": sim.messages[-10:],
            "phone": number,
            "conversation": simulator_phone.thread(sim, number),
        }


def _demo_self_service_callers() -> list[Any]:
    """The demo's fixed self-service callers that are loaded here (synthetic people whose KPJ
    and birth date are published in the demo, so the page can say what to type)."""
    from sqlalchemy import select

    from app.demo_people import SELF_SERVICE_CALLERS
    from app.records.models import Member

    loaded = set(db.session.scalars(select(Member.kpj).where(Member.kpj.in_([c.kpj for c in SELF_SERVICE_CALLERS]))))
    return [caller for caller in SELF_SERVICE_CALLERS if caller.kpj in loaded]


@bp.get("/simulator")
@require("staff.home")
def simulator_page():
    _simulator()
    return render_template("telephony/simulator.html", self_service_callers=_demo_self_service_callers())


@bp.get("/simulator/state")
@require("staff.home")
def simulator_state():
    sim = _simulator()
    with sim.lock:
        return jsonify(_state(sim))


@bp.post("/simulator/action")
@require("staff.home")
def simulator_action():
    """One action of the simulated phone or softphone; answers with the whole state."""
    csrf.protect()
    sim = _simulator()
    data = request.get_json(silent=True) or {}
    db.session.commit()  # the simulator's webhooks write in their own sessions
    with sim.lock:  # one action at a time on the process's shared simulator
        return _simulator_act(sim, str(data.get("action") or ""), data)


def _simulator_act(sim: Simulator, action: str, data: dict[str, Any]):
    try:
        if action == "message":
            phone = str(data.get("from") or DEFAULT_PHONE)
            simulator_phone.send(
                sim,
                phone=phone,
                channel=str(data.get("channel") or "whatsapp"),
                body=str(data.get("body") or ""),
                attach=str(data.get("attach") or "") or None,
            )
            return jsonify(_state(sim, phone))
        if action == "dial":
            sim.dial_in(str(data.get("from") or "+85291234567"))
        elif action == "agent":
            sim.agent_softphone(int(current_user.id), int(data.get("work_item_id") or 0))
        else:
            leg = sim.legs.get(str(data.get("sid") or ""))
            if leg is None:
                abort(404)
            if action == "press":
                leg.press(str(data.get("digits") or ""))
            elif action == "timeout":
                leg.timeout()
            elif action == "wait":
                leg.wait_again()
            elif action == "record":
                leg.finish_recording()
            elif action == "answer":
                leg.answer()
            elif action == "hangup":
                leg.hangup()
            else:
                abort(400)
    except (SimulatorError, ValueError) as exc:
        state = _state(sim, str(data.get("from") or "") or None)
        return jsonify(error={"code": "simulator", "message": str(exc), "fields": {}}, **state), 409
    return jsonify(_state(sim))


@bp.get("/recordings/<int:recording_id>/audio")
@require("recordings.play")
def recording_audio(recording_id: int):
    """Stream a recording from the provider to someone allowed to hear it; every play audited."""
    recording = db.session.get(Recording, recording_id)
    if recording is None:
        abort(404)
    if not playback.may_play(current_user, recording):
        abort(403)
    try:
        media = playback.open_for(int(current_user.id), recording)
    except ProviderError:
        db.session.commit()  # the attempt stays audited
        current_app.logger.warning("recording %s: media unavailable from the provider", recording.id)
        abort(502)
    db.session.commit()
    headers = {
        "Cache-Control": "no-store, private",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'inline; filename="recording-{recording.id}"',
    }
    if media.length is not None:
        headers["Content-Length"] = str(media.length)
    response = Response(stream_with_context(media.chunks), mimetype=media.content_type, headers=headers)
    response.call_on_close(media.close)
    return response


@bp.app_template_global("call_recordings")
def call_recordings(call_id: Any) -> list[dict[str, Any]]:
    """For templates (the ticket page's call entries): the recordings of a call the signed-in
    user may play, with their in-app audio URL."""
    from flask import url_for

    return [
        {
            "id": r.id,
            "kind": r.kind,
            "duration": r.duration,
            "url": url_for("telephony.recording_audio", recording_id=r.id),
        }
        for r in playback.playable_for_call(current_user, call_id)
    ]
