"""Exports: the call log as an Asterisk ``queue_log``, and every report as CSV (both streamed).

``queue_log`` lines are ``epoch|callid|queuename|agent|event|data…`` (Asterisk's
docs/Operation/Logging/Queue-Logs). Our call log maps onto it like this:

=================================  ========================================================
call log                           queue_log
=================================  ========================================================
``queued``                         ``ENTERQUEUE|url|callerid|origposition``
``ring_no_answer``                 ``RINGNOANSWER|ringtime (ms)``
``answered``                       ``CONNECT|holdtime|bridged channel|ringtime``
``transferred``                    ``TRANSFER|extension|context|holdtime|calltime|origposition``
``completed`` after an answer      ``COMPLETECALLER|holdtime|calltime|origposition``
                                   (``COMPLETEAGENT`` when the log says the agent hung up)
``abandoned`` (hangup)             ``ABANDON|position|origposition|waittime``
``abandoned`` (callback)           ``EXITWITHKEY|key|position|origposition|waittime``
``left_queue`` (to voicemail)      ``EXITWITHTIMEOUT|position|origposition|waittime``
``voicemail`` while queued         the same, for calls logged before ``left_queue`` existed
presence: logged in / out          ``AGENTLOGIN|channel`` / ``AGENTLOGOFF|channel|logintime``
presence: away / back              ``PAUSE|reason`` / ``UNPAUSE|reason``
=================================  ========================================================

``callid`` is the provider's call id (CallSid), the queue is the call's language, the agent is
``Agent/<user id>``. Queue positions are not logged by the ACD and are left empty, as is the
caller id (a phone number: personal data stays out of exports). Only calls that entered the
queue are exported; the ACD's outbound callback legs are not queue calls.
"""

from __future__ import annotations

import csv
import heapq
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, type_coerce

from app.agents.models import AgentStateEvent
from app.core.types import UTCDateTime
from app.extensions import db
from app.telephony.models import Call, CallEvent

BATCH = 5000
_EXPORTED_KINDS = (
    "queued",
    "offered",
    "ring_no_answer",
    "answered",
    "transferred",
    "completed",
    "abandoned",
    "left_queue",
    "voicemail",
)


def agent_channel(agent_id: int | None) -> str:
    return f"Agent/{agent_id}" if agent_id else "NONE"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _line(at: datetime, callid: str, queue: str, agent: str, event: str, *data: Any) -> tuple[datetime, str]:
    fields = [str(_epoch(at)), callid, queue, agent, event, *("" if d is None else str(d) for d in data)]
    return at, "|".join(field.replace("|", "/").replace("\n", " ") for field in fields) + "\n"


class _CallState:
    __slots__ = ("agent_id", "answered_at", "offered_at", "wait")

    def __init__(self) -> None:
        self.wait: int | None = None
        self.answered_at: datetime | None = None
        self.offered_at: datetime | None = None
        self.agent_id: int | None = None


def _call_lines(start: datetime, end: datetime) -> Iterator[tuple[datetime, str]]:
    """The queue calls' events in ``[start, end)`` in time order, streamed in batches."""
    stmt = (
        select(
            CallEvent.call_id,
            CallEvent.kind,
            type_coerce(CallEvent.at, UTCDateTime),
            CallEvent.agent_id,
            CallEvent.wait_seconds,
            CallEvent.talk_seconds,
            CallEvent.data,
            Call.call_sid,
            Call.language,
            type_coerce(Call.enqueued_at, UTCDateTime),
        )
        .join(Call, Call.id == CallEvent.call_id)
        .where(
            CallEvent.at >= start,
            CallEvent.at < end,
            CallEvent.kind.in_(_EXPORTED_KINDS),
            Call.enqueued_at.is_not(None),
        )
        .order_by(CallEvent.at, CallEvent.id)
        .execution_options(yield_per=BATCH)
    )
    calls: dict[int, _CallState] = {}
    exited: set[int] = set()  # calls whose queue exit was logged (their voicemail is not one)
    for call_id, kind, at, agent_id, wait, talk, data, sid, queue, enqueued_at in db.session.execute(stmt):
        data = data or {}
        state = calls.setdefault(call_id, _CallState())
        queue = queue or "id"
        if kind == "queued":
            yield _line(at, sid, queue, "NONE", "ENTERQUEUE", "", "", "")
        elif kind == "offered":
            state.offered_at, state.agent_id = at, agent_id
        elif kind == "ring_no_answer":
            yield _line(at, sid, queue, agent_channel(agent_id), "RINGNOANSWER", data.get("ring_ms", 0))
        elif kind == "answered":
            state.answered_at, state.agent_id = at, agent_id or state.agent_id
            state.wait = wait if wait is not None else _seconds(enqueued_at, at)
            ring = _seconds(state.offered_at, at) if state.offered_at else 0
            yield _line(at, sid, queue, agent_channel(state.agent_id), "CONNECT", state.wait, "", ring)
        elif kind == "transferred":
            calltime = _seconds(state.answered_at, at)
            to = data.get("to_agent_id")
            yield _line(
                at,
                sid,
                queue,
                agent_channel(agent_id),
                "TRANSFER",
                agent_channel(to) if to else "",
                "",
                state.wait,
                calltime,
                "",
            )
            if to:
                state.agent_id = to
        elif kind == "completed":
            if state.answered_at is None and wait is None:
                continue  # a completed leg that was never answered in the queue
            event = "COMPLETEAGENT" if data.get("hung_up_by") == "agent" else "COMPLETECALLER"
            hold = wait if wait is not None else state.wait
            yield _line(at, sid, queue, agent_channel(agent_id or state.agent_id), event, hold, talk or 0, "")
            calls.pop(call_id, None)
        elif kind == "abandoned":
            waited = wait if wait is not None else _seconds(enqueued_at, at)
            if data.get("reason") == "callback":
                yield _line(at, sid, queue, "NONE", "EXITWITHKEY", "1", "", "", waited)
            else:
                yield _line(at, sid, queue, "NONE", "ABANDON", "", "", waited)
            calls.pop(call_id, None)
        elif kind == "left_queue" and state.answered_at is None:
            waited = wait if wait is not None else _seconds(enqueued_at, at)
            yield _line(at, sid, queue, "NONE", "EXITWITHTIMEOUT", "", "", waited)
            calls.pop(call_id, None)
            exited.add(call_id)
        elif kind == "voicemail" and state.answered_at is None and call_id not in exited:
            # An older log without ``left_queue``: the message's end is the best we know.
            yield _line(at, sid, queue, "NONE", "EXITWITHTIMEOUT", "", "", _seconds(enqueued_at, at))
            calls.pop(call_id, None)


def _seconds(start: datetime | None, end: datetime | None) -> int:
    if start is None or end is None:
        return 0
    return max(0, int(round((end - start).total_seconds())))


def _agent_lines(start: datetime, end: datetime) -> Iterator[tuple[datetime, str]]:
    """Logins, logouts and pauses from the presence log."""
    stmt = (
        select(
            AgentStateEvent.agent_id,
            AgentStateEvent.from_state,
            AgentStateEvent.to_state,
            AgentStateEvent.reason,
            type_coerce(AgentStateEvent.at, UTCDateTime),
        )
        .where(AgentStateEvent.at >= start, AgentStateEvent.at < end)
        .where(
            (AgentStateEvent.from_state == "offline")
            | (AgentStateEvent.to_state.in_(("offline", "away")))
            | (AgentStateEvent.from_state == "away")
        )
        .order_by(AgentStateEvent.at, AgentStateEvent.id)
        .execution_options(yield_per=BATCH)
    )
    logged_in: dict[int, datetime] = {}
    for agent_id, before, after, reason, at in db.session.execute(stmt):
        channel = agent_channel(agent_id)
        if before == "offline" and after != "offline":
            logged_in[agent_id] = at
            yield _line(at, "NONE", "NONE", channel, "AGENTLOGIN", channel)
        if after == "away":
            yield _line(at, "NONE", "NONE", channel, "PAUSE", reason or "")
        elif before == "away" and after != "offline":
            yield _line(at, "NONE", "NONE", channel, "UNPAUSE", reason or "")
        if after == "offline" and before != "offline":
            since = logged_in.pop(agent_id, None)
            yield _line(
                at, "NONE", "NONE", channel, "AGENTLOGOFF", channel, _seconds(since, at) if since else ""
            )


def queue_log(start: datetime, end: datetime) -> Iterator[str]:
    """The ``queue_log`` lines of ``[start, end)``, oldest first."""
    for _, line in heapq.merge(_call_lines(start, end), _agent_lines(start, end), key=lambda item: item[0]):
        yield line


# --- CSV -------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Neutralise text a spreadsheet would run as a formula (OWASP CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """CSV text, one line at a time (for a streamed download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush(row: Sequence[Any]) -> str:
        writer.writerow([safe_cell(cell) for cell in row])
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate(0)
        return text

    yield flush(header)
    for row in rows:
        yield flush(row)


def number(value: Any, places: int = 4) -> Any:
    """A figure for CSV: empty when undefined, floats rounded."""
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, places)
    return value
