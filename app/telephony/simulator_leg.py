"""The simulator's call legs: one leg runs the TwiML the app returns, verb by verb, as Twilio
would (say, gather, queue, dial, record, redirect), and the conference rooms legs meet in. The
account that owns them is :class:`app.telephony.simulator.Simulator`."""

from __future__ import annotations

import itertools
import uuid
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own app's TwiML
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urljoin

if TYPE_CHECKING:
    from app.telephony.simulator import Simulator

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
        # As a conference participant: muted (nobody hears it), coaching (only ``coach``, the
        # leg it coaches, hears it). Set by the <Conference> noun and by participant updates.
        self.muted = False
        self.coaching = False
        self.coach: str | None = None
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

    def removed(self) -> None:
        """The app took this leg out of its conference (REST): like Twilio, the call goes on
        with the verbs after its <Dial> (none, for a softphone's leg: it ends)."""
        if self.conference is None or self.state != "conference":
            return
        self._leave_conference()
        self.state = "running"
        self._continue()

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
