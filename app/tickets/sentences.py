"""Timeline entries told as sentences for staff ("Linked to member Siti A. (KPJ …), exact match,
automatically") instead of their stored data (``member_id: 44 · confidence: exact · automatic: True``).

Each event kind stores a small dict (see ``app.tickets.services``); :func:`event_sentence` reads
it with the vocabulary's labels and the names of the members, claims and staff it points to.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.core.dates import format_when
from app.core.vocabulary import label
from app.extensions import db
from app.records.models import Claim, Member
from app.staff.models import User

# Why a status moved without a person choosing it (``data["reason"]`` of a status event).
STATUS_REASONS = {
    "worker_replied": _l("the worker replied"),
    "merged": _l("merged into another case"),
    "reopen_period_over": _l("the time to reopen it passed"),
}
PII_FIELDS = {
    "requester_phone": _l("phone number"),
    "requester_email": _l("email address"),
    "requester_nik": _l("NIK"),
    "requester_passport": _l("passport number"),
    # free text whose identifiers were masked (app.tickets.services.workspace.reveal_text)
    "description": _l("personal data in the description"),
    "message": _l("personal data in a message"),
}


def _member(member_id: Any) -> str:
    member = db.session.get(Member, member_id) if isinstance(member_id, int) else None
    if member is None:
        return _("a member record that no longer exists")
    return _("%(name)s (KPJ %(kpj)s)", name=member.name, kpj=member.kpj)


def _user(user_id: Any) -> str:
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    return user.name if user is not None else _("a former colleague")


def _created(data: dict[str, Any]) -> str:
    parts = []
    if data.get("channel"):
        parts.append(_("Received by: %(channel)s.", channel=label(data["channel"], "channel")))
    if data.get("category"):
        parts.append(_("Topic: %(category)s.", category=label(data["category"], "category")))
    if data.get("priority"):
        parts.append(_("Priority: %(priority)s.", priority=label(data["priority"], "priority")))
    return " ".join(parts)


def _member_linked(data: dict[str, Any]) -> str:
    if data.get("erased"):
        return _("The link was removed with the personal data.")
    if not data.get("member_id"):
        return _("Unlinked from the member record.")
    who = _member(data["member_id"])
    confidence = label(data.get("confidence"), "confidence")
    if data.get("automatic"):
        return _("Linked to member %(who)s, %(confidence)s, automatically.", who=who, confidence=confidence)
    if confidence:
        return _("Linked to member %(who)s, %(confidence)s.", who=who, confidence=confidence)
    return _("Linked to member %(who)s.", who=who)


def _claim_linked(data: dict[str, Any]) -> str:
    if data.get("erased"):
        return _("The link was removed with the personal data.")
    claim = db.session.get(Claim, data["claim_id"]) if isinstance(data.get("claim_id"), int) else None
    if claim is None:
        return _("Unlinked from the claim.")
    return _(
        "Linked to claim %(number)s (%(program)s, %(status)s).",
        number=claim.claim_number,
        program=label(claim.program, "program"),
        status=label(claim.status, "claim_status"),
    )


def _status(data: dict[str, Any]) -> str:
    parts = []
    if data.get("to"):
        parts.append(
            _(
                "From “%(old)s” to “%(new)s”.",
                old=label(data.get("from"), "ticket_status"),
                new=label(data["to"], "ticket_status"),
            )
        )
        if data.get("reason") in STATUS_REASONS:
            parts.append(_("Because %(reason)s.", reason=STATUS_REASONS[data["reason"]]))
    for name, pair in (data.get("fields") or {}).items():
        old, new = (list(pair) + [None, None])[:2]
        if name == "category":
            parts.append(
                _("Category: %(old)s → %(new)s.", old=label(old, "category"), new=label(new, "category"))
            )
        elif name == "priority":
            parts.append(
                _("Priority: %(old)s → %(new)s.", old=label(old, "priority"), new=label(new, "priority"))
            )
        else:
            parts.append(_("%(field)s changed.", field=name.replace("_", " ").capitalize()))
    if data.get("escalation"):
        parts.append(_("Escalated because an SLA target was missed."))
    return " ".join(parts)


def _assigned(data: dict[str, Any]) -> str:
    parts = [
        _("Assigned to %(name)s.", name=_user(data["to"])) if data.get("to") else _("Nobody is assigned now.")
    ]
    if data.get("team"):
        parts.append(_("Team: %(team)s.", team=data["team"]))
    if data.get("escalation"):
        parts.append(_("Escalated because an SLA target was missed."))
    return " ".join(parts)


def _sla(kind: str, data: dict[str, Any]) -> str:
    target = label(data.get("target"), "sla_target") or _("SLA")
    due = data.get("due_at")
    when = ""
    if isinstance(due, str):
        try:
            when = format_when(datetime.fromisoformat(due))
        except ValueError:
            when = ""
    if kind == "sla_breach":
        return (
            _("%(target)s target missed (due %(due)s).", target=target, due=when)
            if when
            else _("%(target)s target missed.", target=target)
        )
    return (
        _("%(target)s target due soon (%(due)s).", target=target, due=when)
        if when
        else _("%(target)s target due soon.", target=target)
    )


def _merged(data: dict[str, Any]) -> str:
    if data.get("into_reference"):
        return _("Merged into case %(ref)s.", ref=data["into_reference"])
    if data.get("from_reference"):
        return _("Case %(ref)s was merged into this one.", ref=data["from_reference"])
    return ""


def _erased(data: dict[str, Any]) -> str:
    text = _(
        "Removed %(messages)d messages, %(files)d files and %(notices)d notifications.",
        messages=int(data.get("messages") or 0),
        files=int(data.get("attachments") or 0),
        notices=int(data.get("notifications") or 0),
    )
    if data.get("reason"):
        text += " " + _("Reason: %(reason)s", reason=data["reason"])
    return text


# What the IVR's self-service established about the caller before she reached an agent.
SELF_SERVICE_NOTES = {
    "verified": lambda: _(
        "In the voice menu the caller confirmed her birth date and heard her claim status, then asked for an agent."
    ),
    "tries": lambda: _(
        "In the voice menu the caller entered a wrong birth date three times: her identity is not confirmed."
    ),
    "locked": lambda: _(
        "Claim status by phone is locked for this KPJ after wrong birth dates: the caller's identity is not "
        "confirmed."
    ),
    "no_birth_date": lambda: _(
        "The caller asked for her claim status, but the member record has no birth date to confirm her identity."
    ),
    "unverified": lambda: _(
        "The caller asked for her claim status but did not enter her birth date: her identity is not confirmed."
    ),
}


def _messaged(data: dict[str, Any]) -> str:
    parts = [_("Sent by %(channel)s.", channel=label(data["channel"], "channel"))]
    if data.get("media"):
        parts.append(_("With %(n)d file(s).", n=int(data["media"])))
    if data.get("replaced_characters"):
        parts.append(_("Characters that cannot be stored were replaced (�)."))
    return " ".join(parts)


def _media_refused(data: dict[str, Any]) -> str:
    size = data.get("size")
    megabytes = _("%(mb).1f MB", mb=int(size) / (1024 * 1024)) if isinstance(size, int) else ""
    what = ", ".join(part for part in (str(data.get("content_type") or ""), megabytes) if part)
    reason = label(data.get("reason"), "media_refusal")
    if what:
        return _("A file the worker sent (%(what)s) was not kept: %(reason)s.", what=what, reason=reason)
    return _("A file the worker sent was not kept: %(reason)s.", reason=reason)


def event_sentence(event: Any) -> str:
    """What happened, in the page's language, for a timeline entry (``''`` when the entry's
    own text says it all)."""
    if isinstance(event, dict):  # a change listed by a Conflict
        kind, data = event.get("kind"), dict(event.get("data") or {})
    else:
        kind, data = event.kind, dict(event.data or {})
    if kind == "created":
        return _created(data)
    if kind == "member_linked":
        return _member_linked(data)
    if kind == "claim_linked":
        return _claim_linked(data)
    if kind == "status":
        return _status(data)
    if kind == "assigned":
        return _assigned(data)
    if kind in ("sla_warning", "sla_breach"):
        return _sla(kind, data)
    if kind == "merged":
        return _merged(data)
    if kind == "viewed_pii":
        field = data.get("field")
        return _("Viewed the %(field)s.", field=PII_FIELDS.get(field, label(field, "event"))) if field else ""
    if kind == "erased":
        return _erased(data)
    if kind == "csat" and data.get("score") is not None:
        return _("Rated the service %(score)s of 5.", score=data["score"])
    if kind == "internal_note" and "voicemail_recording_id" in data:  # app/telephony/voicemail.py
        if data.get("call_id"):
            return _("The caller left a voicemail (call #%(call)s).", call=data["call_id"])
        return _("The caller left a voicemail.")
    if kind == "internal_note" and "self_service" in data:  # app/telephony/services.py
        return SELF_SERVICE_NOTES.get(str(data["self_service"]), SELF_SERVICE_NOTES["unverified"])()


    if kind == "public_reply" and data.get("channel"):
        return _messaged(data)
    if kind == "media_refused":
        return _media_refused(data)
    if kind == "opted_out":
        return _(
            "The worker sent STOP by %(channel)s: nothing more is sent to this number until she sends START.",
            channel=label(data.get("channel"), "channel"),
        )
    if kind == "opted_in":
        return _("The worker sent START by %(channel)s: messages may be sent again.", channel=label(data.get("channel"), "channel"))
    if kind in ("public_reply", "internal_note", "csat", "tagged", "attachment", "call_linked"):
        return ""  # their body, tags, files or call are shown as such
    # A kind this module does not know yet: its data in words, never as code.
    return " · ".join(
        f"{str(key).replace('_', ' ')}: {value}"
        for key, value in data.items()
        if value not in (None, "", [], {})
    )
