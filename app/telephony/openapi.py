"""The OpenAPI 3.1 description of the URLs Twilio calls (``GET /telephony/openapi.json``).

These are the stable URLs of SPEC §4, configured in Twilio's console (or sent by us as callback
URLs): every one is a form POST that must carry a valid ``X-Twilio-Signature`` (403 otherwise)
and the id of what it is about (400 otherwise). Twilio sends more parameters than are listed and
adds new ones without notice; those listed are the ones the app reads. URLs that Twilio follows
from our own TwiML (``/telephony/voice/language`` …) are the app's own choice and not listed.
"""

from __future__ import annotations

from typing import Any

_SID = {"type": "string", "pattern": "^[A-Za-z0-9]{2,64}$"}
_TEXT = {"type": "string"}
_SIGNED: list[dict[str, list[str]]] = [{"twilioSignature": []}]
_REFUSED = {
    "400": {"description": "Signed, but without the id it is about or with a malformed one (the body says why)"},
    "403": {"description": "No valid X-Twilio-Signature"},
}
_TWIML = {"content": {"application/xml": {"schema": {"type": "string"}}}}


def _form(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": properties,
                    "additionalProperties": True,
                }
            }
        },
    }


_CALL = {
    "CallSid": _SID,
    "AccountSid": _SID,
    "From": _TEXT,
    "To": _TEXT,
    "CallStatus": {
        "type": "string",
        "enum": ["queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer", "canceled"],
    },
}

_MESSAGE_IN = {
    "MessageSid": {**_SID, "description": "The message's id: a redelivery with the same id adds nothing"},
    "SmsMessageSid": _SID,
    "AccountSid": _SID,
    "From": {
        "type": "string",
        "pattern": r"^(whatsapp:)?\+[1-9][0-9]{6,14}$",
        "description": "The worker: `whatsapp:+…` from a WhatsApp sender, `+…` by SMS",
    },
    "To": {"type": "string", "description": "Our WhatsApp sender or SMS number"},
    "Body": {"type": "string", "maxLength": 10000, "description": "Her text; one word may be a command (STOP…)"},
    "NumMedia": {"type": "string", "pattern": "^([0-9]|10)$"},
    "MediaUrl0": {"type": "string", "format": "uri", "description": "MediaUrl0 … MediaUrl9: files, fetched by a job"},
    "MediaContentType0": {"type": "string", "description": "MediaContentType0 … 9, as Twilio announces them"},
    "ProfileName": {"type": "string", "description": "Her WhatsApp profile name (the case's requester name)"},
    "WaId": {"type": "string"},
}

_MESSAGE_STATUS = {
    "MessageSid": _SID,
    "SmsSid": _SID,
    "MessageStatus": {
        "type": "string",
        "enum": [
            "accepted", "scheduled", "queued", "sending", "sent", "delivered", "undelivered", "failed",
            "canceled", "partially_delivered", "read", "receiving", "received",
        ],
    },
    "ErrorCode": _TEXT,
}  # fmt: skip


def _post(operation_id: str, summary: str, description: str, required: list[str], properties: dict[str, Any],
          answers: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "description": description,
            "security": _SIGNED,
            "requestBody": _form(required, properties),
            "responses": {**answers, **_REFUSED},
        }
    }


PATHS: dict[str, dict[str, Any]] = {
    "/telephony/voice/inbound": _post(
        "voiceInbound", "A call comes in (Voice URL of the phone numbers)",
        "Starts the IVR: language, KPJ by keypad, topic, then the queue (or voicemail outside hours).",
        ["CallSid"], _CALL, {"200": {"description": "TwiML: the language menu", **_TWIML}},
    ),
    "/telephony/voice/client": _post(
        "voiceClient", "A browser or app call (Voice URL of the TwiML App)",
        "Only identities the app issued (`client:worker:…`, `client:agent:<id>`) get anywhere; "
        "`To` is never dialled.",
        ["CallSid"], {**_CALL, "WorkItemId": {"type": "string", "pattern": "^[0-9]+$"}},
        {"200": {"description": "TwiML: the queue, the KPJ menu, or the agent's conference", **_TWIML}},
    ),
    "/telephony/voice/status": _post(
        "voiceStatus", "Call status callback",
        "At least once, in any order: kept raw under its key, applied only forward.",
        ["CallSid"], {**_CALL, "SequenceNumber": _TEXT, "CallDuration": _TEXT},
        {"204": {"description": "Recorded"}, "503": {"description": "The database is unavailable: retry"}},
    ),
    "/telephony/voice/fallback": _post(
        "voiceFallback", "Fallback URL of the phone numbers",
        "Answers without the database: an apology and a voicemail, in the caller's language if known.",
        ["CallSid"], {**_CALL, "ErrorCode": _TEXT, "ErrorUrl": _TEXT},
        {"200": {"description": "TwiML: apology and voicemail", **_TWIML}},
    ),
    "/telephony/messaging/inbound": _post(
        "messagingInbound", "A message comes in (SMS numbers and WhatsApp senders)",
        "The message is stored and committed under its MessageSid before anything else; then it "
        "becomes a reply on her WhatsApp/SMS case, a new case answered with its reference, or a "
        "command (STATUS, AGEN/AGENT, STOP/BERHENTI, START/MULAI, MENU/BANTUAN). Its files are "
        "fetched by a job and checked by type and size. NUL bytes in the text are replaced, not "
        "refused. Answers go out through the outbox, not in the TwiML.",
        ["MessageSid", "From"], _MESSAGE_IN,
        {
            "200": {"description": "Stored (or stored before): empty TwiML", **_TWIML},
            "503": {"description": "The database is unavailable: nothing stored"},
        },
    ),
    "/telephony/messaging/status": _post(
        "messagingStatus", "SMS/WhatsApp delivery status callback (StatusCallback of our messages)",
        "Kept raw under `sms-status:<MessageSid>:<MessageStatus>`; the status only moves forward "
        "(queued → sent → delivered → read); reports that overtake the sending job are replayed.",
        ["MessageSid", "MessageStatus"], _MESSAGE_STATUS,
        {"204": {"description": "Recorded"}, "503": {"description": "The database is unavailable: retry"}},
    ),
}  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "halopmi: URLs Twilio calls",
            "version": "1.0.0",
            "description": (
                "Webhooks configured in Twilio's console (phone numbers, TwiML App, WhatsApp "
                "senders) or sent as callback URLs. Every request is signed: the signature is "
                "checked against PUBLIC_BASE_URL + path + query and the POSTed form."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "twilioSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Twilio-Signature",
                    "description": "HMAC-SHA1 of the URL and the sorted form parameters with the auth token",
                }
            }
        },
    }
