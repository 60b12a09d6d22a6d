"""The agent's softphone without a Twilio account: a leg in this web process's simulator.

With Twilio, the console's ``Twilio.Device`` calls the TwiML App (``/telephony/voice/client``)
with ``WorkItemId`` and the app joins it to the call's conference. Without Twilio, the simulator
plays the Device's part: :func:`join` places that same client call (identity ``agent:<id>``),
signed, against the same webhook, so the app's own rules decide whether the agent may join.

Every function takes the agent's id and acts only on that agent's legs (``client:agent:<id>``);
nothing here accepts a call sid from outside. The simulator is shared by the web process's
request threads: each function holds its lock, and the caller must have ended its database
transaction first (the simulator's webhooks write in their own sessions).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from flask import Flask, current_app
from flask.testing import FlaskClient

from app.telephony.signature import twilio_configured
from app.telephony.simulator import Leg, Simulator, SimulatorError

SIMULATOR_KEY = "telephony_simulator"
DIGITS = re.compile(r"^[0-9*#]{1,32}$")
_create_lock = threading.Lock()


class SoftphoneError(Exception):
    """The leg cannot do that now (``code``: ``refused``, ``no_leg``, ``ended``, ``digits``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _WebhookClient(FlaskClient):
    """Delivers the simulator's webhooks in-process, each in its own application context (its
    own database session and ``g``): they are often sent from inside a staff request (the
    console's softphone), whose session and signed-in user they must not share."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        with self.application.app_context():
            return super().open(*args, **kwargs)


def simulator_active(app: Flask | None = None) -> bool:
    """The simulator plays Twilio's part: no Twilio account, and not in production."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    return not twilio_configured(app) and app.config.get("NAME") != "production"


def get_simulator(app: Flask | None = None) -> Simulator:
    """This web process's simulator (created once, shared by its request threads)."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    sim = app.extensions.get(SIMULATOR_KEY)
    if sim is None:
        with _create_lock:
            sim = app.extensions.get(SIMULATOR_KEY)
            if sim is None:
                client = _WebhookClient(app, app.response_class, use_cookies=False)
                sim = app.extensions[SIMULATOR_KEY] = Simulator(app, client)
    return sim


def identity(agent_id: int) -> str:
    return f"client:agent:{int(agent_id)}"


def current_leg(sim: Simulator, agent_id: int) -> Leg | None:
    """The agent's newest leg that has not ended."""
    with sim.lock:
        mine = [leg for leg in sim.legs.values() if leg.from_ == identity(agent_id) and leg.state != "ended"]
        return mine[-1] if mine else None


def _last_leg(sim: Simulator, agent_id: int, work_item_id: int | None) -> Leg | None:
    mine = [
        leg
        for leg in sim.legs.values()
        if leg.from_ == identity(agent_id)
        and (work_item_id is None or leg.extra.get("WorkItemId") == str(work_item_id))
    ]
    return mine[-1] if mine else None


def join(sim: Simulator, agent_id: int, work_item_id: int) -> Leg:
    """Place the agent's leg for ``work_item_id`` (or return the one already live for it).

    The caller must have checked that the agent holds the item; the client webhook checks it
    again and refuses (hangs up) otherwise: :class:`SoftphoneError` ``refused``."""
    with sim.lock:
        sim.poll()  # the caller may be waiting to be moved into the conference
        live = current_leg(sim, agent_id)
        if live is not None and live.extra.get("WorkItemId") == str(work_item_id):
            return live
        if live is not None:
            live.hangup()  # a leg left over from an earlier contact
        leg = sim.agent_softphone(agent_id, work_item_id)
        if leg.state == "ended":
            raise SoftphoneError("refused")
        return leg


def refresh(sim: Simulator, agent_id: int, holds_call: bool) -> Leg | None:
    """Deliver what the app asked of the provider (the caller moved into the conference) and
    return the agent's leg. A leg left alone in a conference once the agent no longer holds
    the call (the caller hung up: the call was completed) is hung up, as the Twilio softphone
    does on ``call.ended``."""
    with sim.lock:
        sim.poll()
        leg = current_leg(sim, agent_id)
        if leg is not None and not holds_call and not _others(sim, leg):
            leg.hangup()
        return leg


def hang_up(sim: Simulator, agent_id: int) -> Leg:
    with sim.lock:
        leg = current_leg(sim, agent_id)
        if leg is None:
            raise SoftphoneError("no_leg")
        leg.hangup()
        sim.poll()
        return leg


def set_muted(sim: Simulator, agent_id: int, muted: bool) -> Leg:
    with sim.lock:
        leg = current_leg(sim, agent_id)
        if leg is None:
            raise SoftphoneError("no_leg")
        leg.muted = bool(muted)
        return leg


def send_digits(sim: Simulator, agent_id: int, digits: str) -> Leg:
    if not DIGITS.match(digits or ""):
        raise SoftphoneError("digits")
    with sim.lock:
        leg = current_leg(sim, agent_id)
        if leg is None:
            raise SoftphoneError("no_leg")
        try:
            leg.send_digits(digits)
        except SimulatorError:
            raise SoftphoneError("ended") from None
        return leg


def _others(sim: Simulator, leg: Leg) -> list[Leg]:
    """The other parties on the agent's call: a supervisor listening in is not one (the caller
    gone, the agent's leg is alone with them and hangs up)."""
    if leg.conference is None:
        return []
    name = (leg.conference.text or "").strip()
    return [
        other
        for other in sim.in_conference(name)
        if other.sid != leg.sid and not other.from_.startswith(SUPERVISOR_PREFIX)
    ]


# --- a supervisor's softphone ------------------------------------------------------------------

SUPERVISOR_PREFIX = "client:supervisor:"


def supervisor_identity(user_id: int) -> str:
    return f"{SUPERVISOR_PREFIX}{int(user_id)}"


def supervisor_leg(sim: Simulator, user_id: int) -> Leg | None:
    """The supervisor's newest leg that has not ended."""
    with sim.lock:
        mine = [
            leg for leg in sim.legs.values() if leg.from_ == supervisor_identity(user_id) and leg.state != "ended"
        ]
        return mine[-1] if mine else None


def supervisor_join(sim: Simulator, user_id: int, supervision_id: int) -> Leg:
    """Place the supervisor's leg for ``supervision_id`` through the TwiML App, as their
    ``Twilio.Device`` would (a leg left from an earlier supervision is hung up first). The
    client webhook decides: :class:`SoftphoneError` ``refused`` when it hangs up."""
    with sim.lock:
        sim.poll()
        live = supervisor_leg(sim, user_id)
        if live is not None and live.extra.get("SupervisionId") == str(supervision_id):
            return live
        if live is not None:
            live.hangup()
        leg = sim.browser_call(f"supervisor:{int(user_id)}", {"SupervisionId": str(supervision_id)})
        if leg.state == "ended":
            raise SoftphoneError("refused")
        return leg


def supervisor_hang_up(sim: Simulator, user_id: int) -> None:
    with sim.lock:
        leg = supervisor_leg(sim, user_id)
        if leg is not None:
            leg.hangup()
        sim.poll()


def supervisor_view(sim: Simulator, user_id: int) -> dict[str, Any] | None:
    """What the supervisor's softphone shows: ``connecting``, ``in_call`` (in the agent's
    conference), or ``ended``; and who they hear (``caller``/``agent`` by participant label)."""
    with sim.lock:
        sim.poll()
        leg = supervisor_leg(sim, user_id)
        if leg is None:
            mine = [s for s in sim.legs.values() if s.from_ == supervisor_identity(user_id)]
            leg = mine[-1] if mine else None
        if leg is None:
            return None
        state = "ended" if leg.state == "ended" else ("in_call" if leg.state == "conference" else "connecting")
        heard = []
        for sid in sorted(sim.hears(leg)):
            other = sim.legs[sid]
            noun = other.conference
            heard.append((noun.get("participantLabel") if noun is not None else None) or "")
        raw = leg.extra.get("SupervisionId") or ""
        return {
            "state": state,
            "supervision_id": int(raw) if raw.isdigit() else None,
            "hears": sorted("agent" if h.startswith("agent") else h for h in heard),
            "heard_by": sorted(
                "agent" if label.startswith("agent") else label
                for label in (
                    (o.conference.get("participantLabel") if o.conference is not None else "") or ""
                    for o in sim.legs.values()
                    if o.sid != leg.sid and sim.audible(leg, o)
                )
            ),
        }


def view(sim: Simulator, agent_id: int, work_item_id: int | None = None) -> dict[str, Any] | None:
    """What the console shows of the agent's leg: ``connecting`` (placed, or in the conference
    before the caller), ``in_call`` (the caller is in the conference too) or ``ended``.
    None when the agent has never had a leg (for that item)."""
    with sim.lock:
        leg = current_leg(sim, agent_id) or _last_leg(sim, agent_id, work_item_id)
        if leg is None:
            return None
        if leg.state == "ended":
            state = "ended"
        elif leg.state == "conference" and _others(sim, leg):
            state = "in_call"
        else:
            state = "connecting"
        raw_item = leg.extra.get("WorkItemId") or ""
        return {
            "state": state,
            "work_item_id": int(raw_item) if raw_item.isdigit() else None,
            "muted": leg.muted,
            "conference": (leg.conference.text or "").strip() if leg.conference is not None else None,
            "started_at": leg.started_at.isoformat(),
        }
