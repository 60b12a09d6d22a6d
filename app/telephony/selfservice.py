"""IVR self-service: a caller hears the status of her claims (SPEC §3.1 item 7, issue 15).

The path (webhooks in :mod:`app.telephony.routes`, TwiML in :mod:`app.telephony.twiml`, every
word in :mod:`app.telephony.prompts`):

1. the topic menu offers key 8 to a caller whose KPJ was found (:func:`offered`);
2. she enters her birth date, DDMMYYYY (``/telephony/voice/self-service/birth-date``);
3. she hears each open or recently settled claim: program and benefit, status, last change and
   the payment target the law sets (:mod:`app.records.claim_status`), then a menu
   (``/telephony/voice/self-service/menu``): 1 again, 2 by SMS to the calling number (once),
   0 an agent, or she hangs up. A call that ends there, verified and without asking for an
   agent, is *contained* (call-log fact ``contained``, counted apart in the KPIs).

Wrong birth dates are counted per KPJ in the database (:class:`SelfServiceGuard`), across calls
and processes: ``SELF_SERVICE_MAX_TRIES`` of them within ``SELF_SERVICE_LOCK_HOURS`` end
self-service for that KPJ until the window is over; the caller is then put through to an agent
as a claims call. Silence or something that is not a date is asked again (not counted), three
times at most, then an agent.

Webhooks arrive at least once and in any order: the call's state (``Call.self_service``) only
moves forward (verifying → verified | refused | agent; verified → agent); each birth-date try is
numbered in its URL and logged under that number, so a replayed try counts once; a webhook that
arrives after the state moved on is answered from the current state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date
from flask import current_app
from sqlalchemy import bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from app.core import audit
from app.core.jobs import record_intent
from app.core.types import UTCDateTime
from app.extensions import db
from app.records.claim_status import (
    ClaimStatus,
    birth_date_matches,
    claims_to_tell,
    claims_topic,
    has_birth_date,
)
from app.telephony import calllog, services
from app.telephony.calllog import log_event
from app.telephony.models import TERMINAL_STATUSES, Call, CallEvent, SelfServiceGuard
from app.telephony.prompts import MENU_AGENT, MENU_REPEAT, MENU_SMS, PROMPTS, SELF_SERVICE_KEY, text

MAX_REPROMPTS = 3  # silences or non-dates at the birth-date prompt before an agent takes over
SMS_JOB = "app.telephony.tasks.send_self_service_sms"
REFUSALS = {
    "tries": "self_service_refused",
    "locked": "self_service_locked",
    "no_birth_date": "self_service_unavailable",
}


@dataclass(frozen=True)
class Step:
    """What the caller hears next; the route turns it into TwiML.

    ``action``: ``birth_date`` (ask for it: try ``attempt``, ``again`` re-prompts so far),
    ``statuses`` (the claims read out in ``sentences``, then the menu), ``menu`` (the menu only),
    ``agent`` (on to an agent: the queue, the recording notice, or voicemail when closed),
    ``goodbye``, ``topic`` (the topic menu), or ``end`` (the call is over: nothing to say).
    """

    action: str
    prefix: tuple[str, ...] = ()
    attempt: int = 1
    again: int = 0
    sentences: tuple[str, ...] = ()
    repeat: bool = False
    sms: bool = False


def _setting(name: str) -> int:
    return int(current_app.config[name])


def _today() -> date:
    zone = ZoneInfo(str(current_app.config.get("TELEPHONY_TIMEZONE") or "Asia/Jakarta"))
    return calllog.now().astimezone(zone).date()


def offered(call: Call) -> bool:
    """The topic menu offers self-service: it is on and her KPJ matched a member."""
    return bool(
        current_app.config.get("SELF_SERVICE_ENABLED")
        and call.member_id is not None
        and call.kpj
        and call.status not in TERMINAL_STATUSES
    )


def chosen(call: Call, form: Mapping[str, str]) -> bool:
    """The key pressed at the topic menu is the self-service one (and it was offered, or she is
    in self-service already: a replayed topic webhook)."""
    if (form.get("Digits") or "")[:1] != SELF_SERVICE_KEY:
        return False
    return call.self_service is not None or offered(call)


# --- the per-KPJ guard ----------------------------------------------------------------------


def _window() -> timedelta:
    return timedelta(hours=_setting("SELF_SERVICE_LOCK_HOURS"))


def locked(kpj: str, now: datetime | None = None) -> bool:
    """Self-service is locked for ``kpj``: too many wrong birth dates inside the window."""
    now = now or calllog.now()
    row = db.session.get(SelfServiceGuard, kpj)
    if row is None:
        return False
    return row.failures >= _setting("SELF_SERVICE_MAX_TRIES") and row.window_start > now - _window()


def count_failure(kpj: str, now: datetime | None = None) -> int:
    """One more wrong birth date for ``kpj``; returns the failures in the current window.

    One statement, atomic on PostgreSQL and SQLite: insert the counter at 1, or add one to it
    (starting a new window at 1 when the old one is over). Two calls failing at the same moment
    queue on the row, so neither count is lost.
    """
    now = now or calllog.now()
    guard = SelfServiceGuard
    expired = guard.window_start <= bindparam("cutoff", now - _window(), type_=UTCDateTime)
    at = bindparam("at", now, type_=UTCDateTime)
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(guard)
        .values(kpj=kpj, failures=1, window_start=now)
        .on_conflict_do_update(
            index_elements=[guard.kpj],
            set_={
                "failures": case((expired, 1), else_=guard.failures + 1),
                "window_start": case((expired, at), else_=guard.window_start),
            },
        )
        .returning(guard.failures)
    )
    return int(db.session.execute(statement).scalar_one())


def forget_expired_guards(now: datetime | None = None) -> int:
    """Drop the counters whose window is over (telephony housekeeping; the caller commits):
    they would start afresh anyway, and a KPJ is not kept longer than it is needed."""
    cutoff = (now or calllog.now()) - _window()
    result = db.session.execute(delete(SelfServiceGuard).where(SelfServiceGuard.window_start <= cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def clear_failures(kpj: str) -> None:
    """A right birth date: the count starts again."""
    row = db.session.get(SelfServiceGuard, kpj)
    if row is not None:
        db.session.delete(row)


# --- the steps ----------------------------------------------------------------------------------


def start(call: Call) -> Step:
    """She pressed 8 at the topic menu: ask for her birth date (unless the KPJ is locked, or
    the record has no birth date to check against)."""
    if call.status in TERMINAL_STATUSES:
        return Step("end")
    if call.self_service is not None:
        return current(call)
    call.self_service = "verifying"
    log_event(call, "ss_started", data={"language": call.language})
    assert call.kpj is not None and call.member_id is not None  # offered() said so
    if locked(call.kpj):
        return refuse(call, "locked")
    if not has_birth_date(call.member_id):
        return refuse(call, "no_birth_date")
    return Step("birth_date")


def current(call: Call) -> Step:
    """The step for the state the call is in (a webhook replayed or arriving late)."""
    state = call.self_service
    if state == "verifying":
        return Step("birth_date", attempt=_failed_tries(call) + 1)
    if state == "verified":
        return statuses(call)
    if state in ("refused", "agent"):
        return Step("agent")
    return Step("topic")


def _failed_tries(call: Call) -> int:
    return int(
        db.session.scalar(
            select(func.count()).select_from(CallEvent).where(CallEvent.call_id == call.id, CallEvent.kind == "ss_failed")
        )
        or 0
    )


def parse_birth_date(digits: str) -> date | None:
    """DDMMYYYY as a calendar date, else None."""
    if len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return date(int(digits[4:]), int(digits[2:4]), int(digits[:2]))
    except ValueError:
        return None


def enter_birth_date(form: Mapping[str, str], attempt: int, again: int) -> tuple[Call, Step]:
    """Her answer to the birth-date prompt (``attempt``: this call's try, ``again``: re-prompts)."""
    call = services.require_call(form)
    if call.status in TERMINAL_STATUSES:
        return call, Step("end")  # a replay after she hung up changes nothing
    if call.self_service is None:
        return call, (start(call) if offered(call) else Step("topic"))
    if call.self_service != "verifying":
        return call, current(call)
    assert call.kpj is not None and call.member_id is not None
    digits = "".join(ch for ch in (form.get("Digits") or "") if ch.isdigit())
    entered = parse_birth_date(digits)
    if entered is None:
        if again + 1 >= MAX_REPROMPTS:
            return call, to_agent(call, "no_entry", prefix=("self_service_to_agent",))
        prompt = "birth_date_invalid" if digits else "birth_date_silence"
        return call, Step("birth_date", prefix=(prompt,), attempt=attempt, again=again + 1)
    if locked(call.kpj):  # by wrong dates in another call meanwhile: no more guesses here
        return call, refuse(call, "locked")
    match = birth_date_matches(call.member_id, entered)
    if match is None:
        return call, refuse(call, "no_birth_date")
    if match:
        clear_failures(call.kpj)
        call.self_service = "verified"
        told, more = _claims(call)
        log_event(call, "ss_verified", data={"claims": len(told) + more})
        return call, statuses(call)
    if not log_event(call, "ss_failed", suffix=str(attempt), data={"attempt": attempt}):
        return call, current(call)  # this try was counted already (a replayed webhook)
    failures = count_failure(call.kpj)
    if failures >= _setting("SELF_SERVICE_MAX_TRIES"):
        return call, refuse(call, "tries")
    return call, Step("birth_date", prefix=("birth_date_wrong",), attempt=attempt + 1)


def refuse(call: Call, reason: str) -> Step:
    """Self-service ends unverified (``reason``: tries, locked, no_birth_date): on to an agent
    as a claims call. Audited against the member, as a failed identity check."""
    call.self_service = "refused"
    log_event(call, "ss_refused", data={"reason": reason})
    audit.record("self_service.refused", "member", call.member_id, {"reason": reason, "call_id": call.id})
    _hand_over(call)
    return Step("agent", prefix=(REFUSALS[reason],))


def to_agent(call: Call, reason: str, prefix: tuple[str, ...] = ()) -> Step:
    """She asked for an agent (``reason`` asked) or gave no birth date (no_entry)."""
    call.self_service = "agent"
    _hand_over(call)
    log_event(call, "ss_agent", data={"topic": call.topic, "reason": reason})
    return Step("agent", prefix=prefix)


def _hand_over(call: Call) -> None:
    """Into the live queue as a claims call (the topic of her claims, so the priority routing
    gives claims), as the topic menu would: the recording notice first when it is on, and a
    voicemail under that topic outside hours."""
    assert call.member_id is not None
    call.topic = claims_topic(call.member_id, _today(), recent_days=_setting("SELF_SERVICE_RECENT_DAYS"))
    if services.business_hours():
        if not services.needs_consent(call):
            services.queue_call(call)
    elif call.exit_reason is None:
        call.exit_reason = "closed"


def _claims(call: Call) -> tuple[list[ClaimStatus], int]:
    assert call.member_id is not None
    return claims_to_tell(
        call.member_id,
        _today(),
        recent_days=_setting("SELF_SERVICE_RECENT_DAYS"),
        limit=_setting("SELF_SERVICE_MAX_CLAIMS"),
    )


def statuses(call: Call, prefix: tuple[str, ...] = ()) -> Step:
    """Her claims read out, then the menu."""
    told, more = _claims(call)
    return Step(
        "statuses",
        prefix=prefix,
        sentences=tuple(spoken(told, more, call.language)),
        repeat=bool(told),
        sms=bool(told) and sms_possible(call),
    )


def _menu(call: Call, *, prefix: tuple[str, ...] = (), again: int = 0) -> Step:
    told, _more = _claims(call)
    return Step("menu", prefix=prefix, again=again, repeat=bool(told), sms=bool(told) and sms_possible(call))


def choose(form: Mapping[str, str], again: int) -> tuple[Call, Step]:
    """Her key at the closing menu: 1 again, 2 SMS, 0 an agent; silence twice ends the call."""
    call = services.require_call(form)
    if call.status in TERMINAL_STATUSES:
        return call, Step("end")  # a replay after she hung up: contained stays contained
    if call.self_service != "verified":
        return call, current(call)
    key = (form.get("Digits") or "").strip()[:1]
    if not key:
        return call, (Step("goodbye") if again >= 1 else _menu(call, again=again + 1))
    if key == MENU_REPEAT:
        return call, statuses(call)
    if key == MENU_AGENT:
        return call, to_agent(call, "asked", prefix=("self_service_to_agent",))
    if key == MENU_SMS and (sms_possible(call) or sms_requested(call)):
        first = request_sms(call)
        return call, _menu(call, prefix=("sms_on_its_way" if first else "sms_already_sent",))
    return call, _menu(call, prefix=("invalid_choice",))


# --- the SMS ------------------------------------------------------------------------------------


def sms_requested(call: Call) -> bool:
    key = f"{call.id}:ss_sms"
    return db.session.scalar(select(CallEvent.id).where(CallEvent.key == key)) is not None


def sms_possible(call: Call) -> bool:
    """The SMS can be offered: a number we may text (as for call-backs) and not asked yet."""
    return services.callback_possible(call) and not sms_requested(call)


def request_sms(call: Call) -> bool:
    """Ask for the status by SMS: True the first time; False after (never sent twice: the
    call-log fact and the outbox intent both have one key per call)."""
    if not services.callback_possible(call) or not log_event(call, "ss_sms"):
        return False
    record_intent(SMS_JOB, call.id, queue="notifications", key=f"self-service-sms:{call.id}")
    return True


def sms_body(call: Call) -> str | None:
    """The SMS: her claims in her language (the same ones she heard), or None if nothing to say."""
    if call.member_id is None or not call.kpj:
        return None
    told, more = _claims(call)
    language = call.language
    lines = [text("sms_claims_header", language, kpj=call.kpj[-4:])]
    for claim in told:
        values = _words(claim, language)
        target = (
            text("sms_target", language, days=claim.target_days)
            if claim.target_days is not None
            else text("sms_no_target", language)
        )
        key = "sms_claim_line" if claim.last_change else "sms_claim_line_undated"
        lines.append(text(key, language, code=claim.program, number=claim.claim_number, target=target, **values))
    if not told:
        lines.append(text("sms_claims_none", language))
    if more:
        lines.append(text("sms_claims_more", language, count=more))
    return "\n".join(lines)


# --- words ----------------------------------------------------------------------------------------


def spoken_date(value: date, language: str) -> str:
    """A date as said in her language: "12 Maret 2026", "12 March 2026"."""
    return str(format_date(value, "d MMMM y", locale="en" if language == "en" else "id"))


def _words(claim: ClaimStatus, language: str) -> dict[str, str]:
    benefit = f"benefit_{claim.benefit_type}"
    status = f"claim_status_{claim.status}"
    return {
        "program": text(f"program_{claim.program}", language) if f"program_{claim.program}" in PROMPTS else claim.program,
        "benefit": text(benefit if benefit in PROMPTS else "benefit_other", language),
        "status": text(status, language) if status in PROMPTS else claim.status,
        "date": spoken_date(claim.last_change, language) if claim.last_change else "",
    }


def spoken(told: list[ClaimStatus], more: int, language: str) -> list[str]:
    """What she hears about her claims: how many, then each claim and its legal payment target."""
    if not told:
        return [text("claims_none", language)]
    total = len(told) + more
    sentences = [text("claims_count_one", language) if total == 1 else text("claims_count", language, count=total)]
    for number, claim in enumerate(told, 1):
        values = _words(claim, language)
        key = "claim_line" if claim.last_change else "claim_line_undated"
        sentences.append(text(key, language, number=number, **values))
        if claim.target_days is not None:
            sentences.append(text("claim_target", language, program=values["program"], days=claim.target_days))
        else:
            sentences.append(text("claim_no_target", language, program=values["program"]))
    if more:
        sentences.append(text("claims_more", language, count=more))
    return sentences
