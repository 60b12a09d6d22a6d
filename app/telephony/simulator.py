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

import itertools
import threading
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own app's TwiML
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

from flask import Flask

from app.core.time import utcnow
from app.telephony.provider import SimulatorProvider
from app.telephony.signature import public_url, sign, webhook_token

INBOUND_URL = "/telephony/voice/inbound"
CLIENT_URL = "/telephony/voice/client"
STATUS_URL = "/telephony/voice/status"
CENTRE_NUMBER = "+622150001234"


class HttpClient(Protocol):
    def post(self, path: str, *, data: dict[str, str], headers: dict[str, str]) -> Any: ...


@dataclass
class Heard:
    verb: str
    text: str = ""
    attrs: dict[str, str] = field(default_factory=dict)


class SimulatorError(AssertionError):
    pass


@dataclass
class Room:
    """A conference as Twilio runs it: it starts when a participant with startConferenceOnEnter
    joins, and that participant's recording and status-callback settings are the conference's."""

    name: str
    sid: str
    started_at: datetime | None = None
    record_callback: str | None = None
    status_callback: str | None = None
    events: set[str] = field(default_factory=set)
    sequence: Any = field(default_factory=itertools.count)


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
        self.messages: list[dict[str, Any]] = []
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
                Muted="false",
                Hold="false",
                Coaching="false",
                EndConferenceOnExit=noun.get("endConferenceOnExit", "false"),
                StartConferenceOnEnter=noun.get("startConferenceOnEnter", "true"),
            )
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


class Leg:
    """One call leg: where it is in its TwiML, what the caller heard."""

    def __init__(
        self,
        sim: Simulator,
        sid: str,
        from_: str,
        to: str,
        direction: str,
        status_callback: str,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.sim, self.sid, self.from_, self.to, self.direction = sim, sid, from_, to, direction
        self.status_callback = status_callback
        self.extra = extra or {}
        self.heard: list[Heard] = []
        self.state = "new"  # new, running, gather, queued, conference, recording, dialing, ended
        self.pending: list[ET.Element] = []
        self.url = ""
        self.gather: ET.Element | None = None
        self.queue: dict[str, str] = {}
        self.wait_gather: ET.Element | None = None
        self.wait_pending: list[ET.Element] = []
        self.record: ET.Element | None = None
        self.conference: ET.Element | None = None
        self.dialled: list[Heard] = []
        self.answer_url = ""
        self.muted = False
        self.sent_digits = ""  # DTMF sent during a bridged call (nobody gathers them)
        self.started_at = sim.clock()
        self._sequence = itertools.count()
        sim.legs[sid] = self

    # --- what the caller heard ------------------------------------------------------------

    def said(self) -> list[str]:
        return [h.text for h in self.heard if h.verb == "Say"]

    def last_said(self) -> str:
        said = self.said()
        return said[-1] if said else ""

    # --- running TwiML -------------------------------------------------------------------

    def params(self, **more: str) -> dict[str, str]:
        values = {
            "CallSid": self.sid,
            "AccountSid": "AC" + "0" * 32,
            "From": self.from_,
            "Caller": self.from_,
            "To": self.to,
            "Called": self.to,
            "CallStatus": "in-progress",
            "Direction": self.direction,
            "ApiVersion": "2010-04-01",
        }
        values.update(self.extra)
        values.update(more)
        return values

    def start(self, url: str) -> None:
        self.state = "running"
        self.url = url
        self._run(self.sim.fetch(url, self.params(CallStatus="ringing")), url)

    def _run(self, root: ET.Element | None, url: str) -> None:
        self.url = url
        self.pending = list(root) if root is not None else []
        self._continue()

    def _post(self, url: str, **params: str) -> None:
        absolute = urljoin(urljoin("http://localhost/", self.url), url)
        self._run(self.sim.fetch(absolute, self.params(**params)), absolute)

    def _continue(self) -> None:
        while self.pending and self.state not in ("ended",):
            verb = self.pending.pop(0)
            if not self._execute(verb):
                return
        if not self.pending and self.state == "running":
            self._ended("completed")  # the document ran out: Twilio hangs up

    def _execute(self, verb: ET.Element) -> bool:
        """Run one verb; False when the call now waits for something (input, queue, bridge)."""
        tag = verb.tag
        if tag in ("Say", "Play"):
            self.heard.append(Heard(tag, (verb.text or "").strip(), dict(verb.attrib)))
        elif tag == "Pause":
            self.heard.append(Heard(tag, attrs=dict(verb.attrib)))
        elif tag == "Gather":
            for child in verb:
                self._execute(child)
            self.gather, self.state = verb, "gather"
            return False
        elif tag == "Redirect":
            self._post((verb.text or "").strip())
            return False
        elif tag in ("Hangup", "Reject"):
            self.heard.append(Heard(tag))
            self._ended("completed")
            return False
        elif tag == "Enqueue":
            self._enter_queue(verb)
            return False
        elif tag == "Leave":
            raise SimulatorError("<Leave> outside a queue's wait URL")
        elif tag == "Record":
            self.record, self.state = verb, "recording"
            return False
        elif tag == "Dial":
            return self._dial(verb)
        else:
            raise SimulatorError(f"unsupported verb <{tag}>")
        return True

    def _dial(self, verb: ET.Element) -> bool:
        for noun in verb:
            self.dialled.append(Heard(noun.tag, (noun.text or "").strip(), dict(noun.attrib)))
            if noun.tag == "Conference":
                self.conference, self.state = noun, "conference"
                self.sim.join(self, noun)
                return False
        self.state = "dialing"  # Number/Client/Queue: the simulator connects no PSTN or clients
        return False

    # --- the caller's actions --------------------------------------------------------------

    def press(self, digits: str) -> None:
        if self.state == "gather" and self.gather is not None:
            gather, self.gather = self.gather, None
            self.state = "running"
            self._post(gather.get("action") or self.url, Digits=digits)
            return
        if self.state == "queued" and self.wait_gather is not None:
            gather, self.wait_gather = self.wait_gather, None
            self._run_wait(
                self.sim.fetch(self._abs(gather.get("action") or ""), self._queue_params(Digits=digits))
            )
            return
        raise SimulatorError(f"no key is being listened for (state {self.state})")

    def send_digits(self, digits: str) -> None:
        """Keys pressed on a bridged call: they reach the other party as tones, not the app."""
        if self.state == "ended":
            raise SimulatorError("the call has ended")
        if self.state in ("gather",) or (self.state == "queued" and self.wait_gather is not None):
            self.press(digits)
            return
        self.sent_digits += digits

    def timeout(self) -> None:
        """Say nothing at a Gather: Twilio goes on with the verbs after it."""
        if self.state != "gather":
            raise SimulatorError("not gathering")
        self.gather, self.state = None, "running"
        self._continue()

    def finish_recording(self, seconds: int = 12) -> None:
        if self.state != "recording" or self.record is None:
            raise SimulatorError("not recording")
        record, self.record = self.record, None
        sid = "RE" + uuid.uuid4().hex
        values = {
            "RecordingSid": sid,
            "RecordingDuration": str(seconds),
            "RecordingStatus": "completed",
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/{sid}",
        }
        callback = record.get("recordingStatusCallback")
        if callback:
            self.sim.request(self._abs(callback), self.params(**values))
        self.state = "running"
        self._post(record.get("action") or self.url, **values)

    def hangup(self) -> None:
        if self.state == "ended":
            return
        if self.state == "queued":
            self._queue_exit("hangup")
        self._ended("completed")

    # --- queues ------------------------------------------------------------------------------

    def _abs(self, url: str) -> str:
        return urljoin(urljoin("http://localhost/", self.url), url)

    def _queue_params(self, **more: str) -> dict[str, str]:
        waited = int((self.sim.clock() - self.queue_entered).total_seconds())
        return self.params(
            QueueSid="QU" + "0" * 32,
            QueuePosition="1",
            QueueTime=str(waited),
            AvgQueueTime="0",
            CurrentQueueSize="1",
            MaxQueueSize="1000",
            **more,
        )

    def _enter_queue(self, verb: ET.Element) -> None:
        self.state = "queued"
        self.queue_entered = self.sim.clock()
        self.queue = {
            "name": (verb.text or "").strip(),
            "action": self._abs(verb.get("action") or ""),
            "wait_url": self._abs(verb.get("waitUrl") or ""),
        }
        self.after_queue = list(self.pending)
        self.wait_again()

    def wait_again(self) -> None:
        """The hold document ran out: Twilio fetches the wait URL again."""
        if self.state != "queued":
            raise SimulatorError("not in a queue")
        if self.queue.get("wait_url"):
            self._run_wait(self.sim.fetch(self.queue["wait_url"], self._queue_params()))

    def _run_wait(self, root: ET.Element | None) -> None:
        for verb in list(root) if root is not None else []:
            if verb.tag in ("Say", "Play", "Pause"):
                self._execute(verb)
            elif verb.tag == "Gather":
                for child in verb:
                    self._execute(child)
                self.wait_gather = verb
            elif verb.tag == "Leave":
                self._queue_exit("leave")
                return
            elif verb.tag == "Hangup":
                self.hangup()
                return
            elif verb.tag == "Redirect":
                self._run_wait(self.sim.fetch(self._abs((verb.text or "").strip()), self._queue_params()))
                return
            else:
                raise SimulatorError(f"<{verb.tag}> is not allowed in a wait URL")

    def _queue_exit(self, result: str) -> None:
        action = self.queue.get("action")
        self.wait_gather = None
        if result == "hangup":
            if action:
                self.sim.request(action, self._queue_params(QueueResult=result, CallStatus="completed"))
            return
        self.state = "running"
        if action:
            self._post(
                action,
                **{k: v for k, v in self._queue_params(QueueResult=result).items() if k.startswith("Queue")},
            )
        else:
            self.pending = self.after_queue
            self._continue()

    # --- REST from the app -------------------------------------------------------------------

    def redirected(self, document: str) -> None:
        """The app updated this call with new TwiML (REST): leave whatever it was doing."""
        if self.state == "queued":
            action = self.queue.get("action")
            if action:  # Twilio reports the redirect; the new TwiML is what runs
                self.sim.request(action, self._queue_params(QueueResult="redirected"))
            self.wait_gather = None
        self._leave_conference()
        self.state = "running"
        self._run(ET.fromstring(document), self.url)  # noqa: S314 - our own app's TwiML

    def answer(self) -> None:
        """An outbound leg is picked up."""
        self.send_status("in-progress")
        self.start(self.answer_url)

    def no_answer(self, status: str = "no-answer") -> None:
        self.state = "ended"
        self.send_status(status)

    # --- ending ----------------------------------------------------------------------------

    def _leave_conference(self) -> None:
        if self.conference is None:
            return
        noun = self.conference
        name = (noun.text or "").strip()
        others = [sid for sid in self.sim.conferences.get(name, []) if sid != self.sid]
        self.sim.leave(self, noun)
        self.conference = None
        for sid in others:  # dropped by the conference's end: their TwiML goes on after <Dial>
            other = self.sim.legs[sid]
            if other.conference is None and other.state == "running":
                other._continue()

    def _ended(self, status: str) -> None:
        if self.state == "ended":
            return
        self._leave_conference()
        self.state = "ended"
        self.send_status(status)

    def send_status(self, status: str) -> None:
        duration = int((self.sim.clock() - self.started_at).total_seconds())
        self.sim.request(
            self.status_callback,
            self.params(
                CallStatus=status,
                SequenceNumber=str(next(self._sequence)),
                CallDuration=str(duration),
                CallbackSource="call-progress-events",
                Timestamp=self.sim.clock().strftime("%a, %d %b %Y %H:%M:%S +0000"),
            ),
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
