"""The worker's side of the telephony simulator, for the public Click-to-Call page.

Without a Twilio account (the embedded default) the page places its call through the simulator
as the Voice SDK would (``client:<identity>`` to the TwiML App's URL, with the same params), shows
the prompts as text and sends the keys pressed on its keypad. For a call-back, the simulator
"rings" her number: the status page shows it and she answers there.

Every function takes the process's one :class:`Simulator` and holds its lock: the dev server is
threaded, and the staff's simulator page and the agents' softphones use the same instance. The
routes decide *which* leg a browser may touch (only the one its session created).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.telephony.simulator import Leg, Simulator, SimulatorError

MAX_PROMPTS = 20
# Keys typed into a Gather that has not finished yet (Twilio collects them until numDigits or
# finishOnKey; the simulator takes a Gather's answer in one piece). Guarded by the sim's lock.
_typed: dict[str, str] = {}


def place_call(sim: Simulator, identity: str, params: dict[str, str]) -> Leg:
    with sim.lock:
        return sim.browser_call(identity, params)


def _agent_in(sim: Simulator, leg: Leg) -> bool:
    """Whether ``leg`` is in a conference with an agent's leg."""
    if leg.state != "conference" or leg.conference is None:
        return False
    name = (leg.conference.text or "").strip()
    return any(
        other.sid != leg.sid and other.from_.startswith("client:agent:") for other in sim.in_conference(name)
    )


def view(sim: Simulator, sid: str) -> dict[str, Any] | None:
    """The leg as the page shows it: prompts heard, whether keys are listened for, connected."""
    with sim.lock:
        sim.poll()
        leg = sim.legs.get(sid)
        if leg is None:
            return None
        said = leg.said()
        return {
            "state": leg.state,
            "prompts": said[-MAX_PROMPTS:],
            "heard": len(said),
            "listening": leg.state == "gather" or (leg.state == "queued" and leg.wait_gather is not None),
            "typed": _typed.get(sid, ""),
            "connected": _agent_in(sim, leg),
            "ringing": leg.direction == "outbound-api" and leg.state == "new",
            "ended": leg.state == "ended",
        }


def _gather(leg: Leg) -> Any:
    if leg.state == "gather":
        return leg.gather
    if leg.state == "queued":
        return leg.wait_gather
    return None


def press(sim: Simulator, sid: str, key: str) -> bool:
    """One key on the page's keypad. Collected as Twilio's <Gather> does: sent when its
    ``finishOnKey`` (default ``#``) is pressed or ``numDigits`` are typed. False when nothing
    is listening for keys (the key is dropped, as it is on a real call)."""
    if len(key) != 1 or key not in "0123456789*#":
        raise ValueError("not a key")
    with sim.lock:
        leg = sim.legs.get(sid)
        gather = _gather(leg) if leg is not None else None
        if leg is None or gather is None:
            return False
        finish = gather.get("finishOnKey", "#")
        typed = _typed.get(sid, "")
        if finish and key == finish:
            _typed.pop(sid, None)
        else:
            typed += key
            wanted = int(gather.get("numDigits") or 0)
            if not wanted or len(typed) < wanted:
                _typed[sid] = typed
                return True
            _typed.pop(sid, None)
        leg.press(typed)
        return True


def hang_up(sim: Simulator, sid: str) -> None:
    with sim.lock:
        leg = sim.legs.get(sid)
        _typed.pop(sid, None)
        if leg is not None:
            leg.hangup()


def ringing_leg(sim: Simulator, callback_id: int) -> Leg | None:
    """The latest leg the app dialled for call-back ``callback_id`` (its answer URL names it)."""
    with sim.lock:
        sim.poll()
        found = None
        for leg in sim.legs.values():
            if leg.direction != "outbound-api" or not leg.answer_url:
                continue
            values = parse_qs(urlsplit(leg.answer_url).query).get("callback", [])
            if values == [str(callback_id)]:
                found = leg
        return found


def answer(sim: Simulator, sid: str) -> None:
    with sim.lock:
        leg = sim.legs.get(sid)
        if leg is None or leg.direction != "outbound-api" or leg.state != "new":
            raise SimulatorError("this phone is not ringing")
        leg.answer()
