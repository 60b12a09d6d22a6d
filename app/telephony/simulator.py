"""A telephony simulator that plays Twilio's part against the real webhook URLs.

It sends *signed* requests (same token and URL rules as Twilio) and interprets the TwiML the app
returns: Say, Play, Pause, Gather, Enqueue (+ waitUrl, Leave, action), Dial (Client, Queue,
Conference, Number), Record, Redirect, Hangup, Reject. REST requests that the app sends to the
simulator provider (redirect a call, dial out, SMS) are picked up by :meth:`Simulator.poll`;
SMS delivery reports are also sent by :func:`sms_status_step` in the worker, so the embedded
default records "delivered" without anyone watching the simulator page.

Used by end-to-end tests and, through ``/telephony/simulator``, by people trying the call path
without a Twilio account. Time does not pass by itself: the caller decides when keys are
pressed, when hold music runs out (:meth:`Leg.wait_again`) and when someone hangs up.
"""

from __future__ import annotations

import threading
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own app's TwiML
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from flask import Flask

from app.core.time import utcnow
from app.telephony.signature import public_url, sign, webhook_token
from app.telephony.simulated_provider import SimulatorProvider
from app.telephony.simulator_leg import (
    CENTRE_NUMBER,
    CLIENT_URL,
    INBOUND_URL,
    STATUS_URL,
    Heard,
    HttpClient,
    Leg,
    Room,
    SimulatorError,
)

__all__ = [
    "CENTRE_NUMBER",
    "CLIENT_URL",
    "INBOUND_URL",
    "STATUS_URL",
    "Heard",
    "HttpClient",
    "Leg",
    "Room",
    "Simulator",
    "SimulatorError",
    "sms_status_step",
]

class Simulator:
    """One simulated Twilio account: call legs, queues, conferences, messages."""

    def __init__(self, app: Flask, client: HttpClient, clock: Callable[[], datetime] = utcnow) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self.legs: dict[str, Leg] = {}
        self.conferences: dict[str, list[str]] = {}
        self.rooms: dict[str, Room] = {}
        self.recordings: list[dict[str, str]] = []
        self.messages: list[dict[str, Any]] = []  # what the app sent (SMS, WhatsApp), as received
        self.phone_messages: list[dict[str, Any]] = []  # what the workers' phones sent (simulator_phone)
        self.phone_sequence = 0  # the order messages reached or left her phone
        self.provider = SimulatorProvider(app.config.get("REDIS_URL"))
        # One instance serves every request thread of a web process (app.extensions): whoever
        # reads or moves legs holds this lock. Re-entrant, because a leg's webhook may be
        # answered in the same thread while the lock is held.
        self.lock = threading.RLock()

    # --- HTTP as Twilio does it ---------------------------------------------------------

    def request(self, url: str, params: dict[str, str]) -> Any:
        parts = urlsplit(urljoin("http://localhost/", url))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        with self.app.app_context():
            signed_url = public_url(parts.path, parts.query, self.app) or f"http://localhost{path}"
            signature = sign(signed_url, params, webhook_token(self.app))
        return self.client.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def fetch(self, url: str, params: dict[str, str]) -> ET.Element | None:
        response = self.request(url, params)
        if response.status_code >= 400:
            raise SimulatorError(f"{url} answered {response.status_code}")
        body = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
        if not body.strip():
            return None
        return ET.fromstring(body)  # noqa: S314 - our own app's TwiML

    # --- placing calls --------------------------------------------------------------------

    def dial_in(self, from_number: str, to: str = CENTRE_NUMBER) -> Leg:
        """A worker's phone calls the centre's number."""
        leg = Leg(self, "CA" + uuid.uuid4().hex, from_number, to, "inbound", STATUS_URL)
        leg.start(INBOUND_URL)
        return leg

    def browser_call(self, identity: str, params: dict[str, str] | None = None) -> Leg:
        """A Voice SDK client (a worker's browser, an agent's softphone) calls the TwiML App."""
        leg = Leg(
            self,
            "CA" + uuid.uuid4().hex,
            f"client:{identity}",
            "",
            "inbound",
            STATUS_URL,
            extra=dict(params or {}),
        )
        leg.start(CLIENT_URL)
        return leg

    def agent_softphone(self, agent_id: int, work_item_id: int) -> Leg:
        return self.browser_call(f"agent:{agent_id}", {"WorkItemId": str(work_item_id)})

    def poll(self) -> list[Leg]:
        """Deliver what the app asked of the provider's REST API; returns new outbound legs."""
        for leg in list(self.legs.values()):
            for update in self.provider.pop_all(f"redirect:{leg.sid}"):
                leg.redirected(update["twiml"])
        new = []
        for request in self.provider.pop_all("outbound"):
            leg = Leg(
                self,
                request["sid"],
                request["from"],
                request["to"],
                "outbound-api",
                request["status_callback"],
            )
            leg.answer_url = request["url"]
            self.legs[leg.sid] = leg
            leg.send_status("initiated")
            leg.send_status("ringing")
            new.append(leg)
        for update in self.provider.pop_all("participant"):
            self.update_participant(update)
        self.messages.extend(self.provider.pop_all("sms"))
        self.deliver_sms_statuses()
        return new

    def deliver_sms_statuses(self) -> int:
        """Report delivery of the SMS the app sent with a ``StatusCallback``, as Twilio does:
        signed ``sent`` then ``delivered`` callbacks. Returns how many messages were reported."""
        reports = self.provider.pop_all("sms-status")
        for report in reports:
            for status in ("sent", "delivered"):
                self.request(
                    report["url"],
                    {
                        "MessageSid": report["sid"],
                        "SmsSid": report["sid"],
                        "MessageStatus": status,
                        "SmsStatus": status,
                        "AccountSid": "AC" + "0" * 32,
                        "From": report.get("from") or "",
                        "To": report.get("to") or "",
                        "ApiVersion": "2010-04-01",
                    },
                )
        return len(reports)

    def in_conference(self, name: str) -> list[Leg]:
        return [
            self.legs[sid] for sid in self.conferences.get(name, []) if self.legs[sid].state == "conference"
        ]

    # --- who hears whom ----------------------------------------------------------------------

    @staticmethod
    def _room_of(leg: Leg) -> str | None:
        if leg.state != "conference" or leg.conference is None:
            return None
        return (leg.conference.text or "").strip()

    def audible(self, speaker: Leg, listener: Leg) -> bool:
        """Whether ``listener`` hears ``speaker``, as Twilio mixes a conference: both in the same
        one; a muted participant is heard by nobody; a coaching one only by the leg it coaches."""
        room = self._room_of(speaker)
        if speaker is listener or room is None or room != self._room_of(listener):
            return False
        if speaker.muted:
            return False
        if speaker.coaching:
            return speaker.coach == listener.sid
        return True

    def hears(self, listener: Leg) -> set[str]:
        """The sids of the legs ``listener`` hears now."""
        room = self._room_of(listener)
        if room is None:
            return set()
        return {leg.sid for leg in self.in_conference(room) if self.audible(leg, listener)}

    def update_participant(self, update: dict[str, Any]) -> None:
        """A participant update or removal the app asked for (REST), applied to the leg if it
        is still in that conference (Twilio would answer 404 otherwise; nothing changes)."""
        room = next((r for r in self.rooms.values() if r.sid == update.get("conference_sid")), None)
        leg = self.legs.get(str(update.get("call_sid") or ""))
        if room is None or leg is None or self._room_of(leg) != room.name:
            return
        if update.get("remove"):
            leg.removed()
            return
        leg.muted = bool(update.get("muted"))
        leg.coaching = bool(update.get("coaching"))
        leg.coach = update.get("coach") if leg.coaching else None

    # --- conferences -----------------------------------------------------------------------

    def conference_event(self, room: Room, event: str, leg: Leg | None = None, **more: str) -> None:
        """A conference status callback (``statusCallbackEvent`` names the ones asked for)."""
        if not room.status_callback or event.partition("-")[2] not in room.events:
            return
        params = {
            "AccountSid": "AC" + "0" * 32,
            "ConferenceSid": room.sid,
            "FriendlyName": room.name,
            "StatusCallbackEvent": event,
            "SequenceNumber": str(next(room.sequence)),
            "Timestamp": self.clock().strftime("%a, %d %b %Y %H:%M:%S +0000"),
            **more,
        }
        if leg is not None and leg.conference is not None:
            noun = leg.conference
            params.update(
                CallSid=leg.sid,
                Muted="true" if leg.muted else "false",
                Hold="false",
                Coaching="true" if leg.coaching else "false",
                EndConferenceOnExit=noun.get("endConferenceOnExit", "false"),
                StartConferenceOnEnter=noun.get("startConferenceOnEnter", "true"),
            )
            if leg.coaching and leg.coach:
                params["CallSidToCoach"] = leg.coach
            if noun.get("participantLabel"):
                params["ParticipantLabel"] = noun.get("participantLabel", "")
        self.request(room.status_callback, params)

    def join(self, leg: Leg, noun: ET.Element) -> None:
        name = (noun.text or "").strip()
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = Room(name, "CF" + uuid.uuid4().hex)
        if room.status_callback is None and noun.get("statusCallback"):
            room.status_callback = leg._abs(noun.get("statusCallback") or "")
            room.events = set((noun.get("statusCallbackEvent") or "start end").split())
        members = self.conferences.setdefault(name, [])
        if leg.sid not in members:
            members.append(leg.sid)
        # The participant's own settings from the noun (a supervisor listening or coaching).
        if noun.get("muted") is not None:
            leg.muted = noun.get("muted") == "true"
        leg.coach = noun.get("coach") or None
        leg.coaching = leg.coach is not None
        self.conference_event(room, "participant-join", leg)
        if room.started_at is None and noun.get("startConferenceOnEnter", "true") != "false":
            room.started_at = self.clock()
            if noun.get("record") == "record-from-start" and noun.get("recordingStatusCallback"):
                room.record_callback = leg._abs(noun.get("recordingStatusCallback") or "")
            self.conference_event(room, "conference-start")

    def leave(self, leg: Leg, noun: ET.Element) -> None:
        """``leg`` leaves; the conference ends when it was its moderator or the last one in."""
        name = (noun.text or "").strip()
        members = self.conferences.get(name, [])
        room = self.rooms.get(name)
        if leg.sid in members:
            members.remove(leg.sid)
        if room is not None:
            self.conference_event(room, "participant-leave", leg)
        ends = noun.get("endConferenceOnExit") == "true"
        if not ends and members:
            return
        for sid in list(members):  # the others drop out and go on with their TwiML
            other = self.legs[sid]
            members.remove(sid)
            if room is not None:
                self.conference_event(room, "participant-leave", other)
            other.conference, other.state = None, "running"
        if room is not None:
            self.end_room(room, leg.sid, ends)

    def end_room(self, room: Room, ending_sid: str, by_moderator: bool) -> None:
        self.rooms.pop(room.name, None)
        if room.started_at is not None and room.record_callback:
            sid = "RE" + uuid.uuid4().hex
            seconds = int((self.clock() - room.started_at).total_seconds())
            values = {
                "AccountSid": "AC" + "0" * 32,
                "ConferenceSid": room.sid,
                "RecordingSid": sid,
                "RecordingStatus": "completed",
                "RecordingDuration": str(seconds),
                "RecordingChannels": "1",
                "RecordingSource": "DialConference",
                "RecordingStartTime": room.started_at.strftime("%a, %d %b %Y %H:%M:%S +0000"),
                "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{sid}",
            }
            self.recordings.append({"conference": room.name, **values})
            self.request(room.record_callback, values)
        reason = "participant-with-end-conference-on-exit-left" if by_moderator else "last-participant-left"
        self.conference_event(
            room, "conference-end", ReasonConferenceEnded=reason, CallSidEndingConference=ending_sid
        )


def sms_status_step(app: Flask) -> Callable[[], int] | None:
    """Without a Twilio account (the embedded default), play Twilio's asynchronous part: deliver
    the SMS status callbacks of messages the app sent (the periodic job ``telephony-simulator``
    of `flask jobs worker`, every ``TELEPHONY_SIMULATOR_SECONDS``). None where Twilio is
    configured, and in production. Its requests get an application context each: run it
    outside one."""
    from app.telephony.signature import twilio_configured

    if twilio_configured(app) or app.config.get("NAME") == "production":
        return None
    return Simulator(app, app.test_client()).deliver_sms_statuses
