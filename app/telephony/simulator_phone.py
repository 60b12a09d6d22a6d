"""The simulator's messaging phone: a worker's WhatsApp or SMS conversation with the centre.

It plays Twilio's part as the telephony simulator does for calls: a message typed on the page
is posted, signed, to the real webhook (``/telephony/messaging/inbound``) with Twilio's
parameters (``From`` ``whatsapp:+…`` or ``+…``, ``Body``, ``MediaUrl0`` for a file, hosted by the
simulated account at a URL of Twilio's shape); what the app sends her (through the simulator
provider) appears in the thread, and a WhatsApp message shown there is reported ``read`` to its
status callback, as her phone would. Every function holds the simulator's lock.
"""

from __future__ import annotations

import re
import struct
import uuid
import zlib
from typing import Any

from app.core.time import utcnow
from app.telephony.simulator import CENTRE_NUMBER, Simulator, SimulatorError

INBOUND_MESSAGE_URL = "/telephony/messaging/inbound"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
CHANNELS = ("whatsapp", "sms")
MAX_BODY = 1600


def _png(size: int = 24, rgb: tuple[int, int, int] = (37, 163, 90)) -> bytes:
    """A small, real PNG (a green square) standing in for a photo."""
    row = b"\x00" + bytes(rgb) * size
    raw = zlib.compress(row * size)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


# What the phone can attach: (announced type, bytes, announced size when larger than the bytes).
SAMPLES: dict[str, tuple[str, bytes, int | None]] = {
    "photo": ("image/png", _png(), None),
    "pdf": ("application/pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", None),
    "voice": ("audio/ogg", b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + b"\x00" * 11, None),
    "video": ("video/mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16, None),
    "large_photo": ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\x00" * 16, 30 * 1024 * 1024),
}


def send(sim: Simulator, *, phone: str, channel: str, body: str, attach: str | None = None) -> dict[str, Any]:
    """Her phone sends a message (and maybe a file) to the centre, signed, as Twilio would."""
    phone = (phone or "").strip()
    if channel not in CHANNELS:
        raise SimulatorError("channel must be whatsapp or sms")
    if not E164.match(phone):
        raise SimulatorError("the phone number must be in E.164 form (+…)")
    if len(body) > MAX_BODY or (not body.strip() and not attach):
        raise SimulatorError(f"write a message (at most {MAX_BODY} characters) or attach a file")
    if attach and attach not in SAMPLES:
        raise SimulatorError("unknown file")
    with sim.lock:
        sid = ("MM" if attach else "SM") + uuid.uuid4().hex
        prefix = "whatsapp:" if channel == "whatsapp" else ""
        params = {
            "MessageSid": sid,
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "AccountSid": "AC" + "0" * 32,
            "From": prefix + phone,
            "To": prefix + CENTRE_NUMBER,
            "Body": body,
            "NumMedia": "1" if attach else "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        if channel == "whatsapp":
            params.update(ProfileName="Pekerja (simulator)", WaId=phone.lstrip("+"))
        if attach:
            content_type, data, size = SAMPLES[attach]
            params["MediaUrl0"] = sim.provider.put_media(content_type, data, size)
            params["MediaContentType0"] = content_type
        response = sim.request(INBOUND_MESSAGE_URL, params)
        record = {
            "sid": sid,
            "direction": "out",
            "channel": channel,
            "phone": phone,
            "body": body,
            "attach": attach,
            "at": utcnow().isoformat(),
            "answered": response.status_code,
            "seq": _next(sim),
        }
        sim.phone_messages.append(record)
        return record


def thread(sim: Simulator, phone: str) -> list[dict[str, Any]]:
    """Her conversation, oldest first: what she sent and what the app sent her. A WhatsApp
    message shown here for the first time is reported ``read`` (signed), as her phone would."""
    with sim.lock:
        sim.poll()
        received = [m for m in sim.messages if m.get("to") == phone]
        for message in received:
            if "seq" not in message:  # in the order they reached her phone
                message["seq"] = _next(sim)
            if message.get("channel") == "whatsapp" and not message.get("read") and message.get("status_callback"):
                message["read"] = True
                _report_read(sim, message)
        mine = [m for m in sim.phone_messages if m["phone"] == phone]
        shown = [
            {
                "direction": "in",
                "channel": m.get("channel") or "sms",
                "body": m.get("body") or "",
                "at": m.get("at") or "",
                "template": bool(m.get("content_sid")),
                "seq": m["seq"],
            }
            for m in received
        ] + [{k: m[k] for k in ("direction", "channel", "body", "at", "attach", "seq")} for m in mine]
        return sorted(shown, key=lambda m: m["seq"])


def _next(sim: Simulator) -> int:
    sim.phone_sequence = getattr(sim, "phone_sequence", 0) + 1
    return int(sim.phone_sequence)


def _report_read(sim: Simulator, message: dict[str, Any]) -> None:
    try:
        sim.request(
            message["status_callback"],
            {
                "MessageSid": message["sid"],
                "SmsSid": message["sid"],
                "MessageStatus": "read",
                "SmsStatus": "read",
                "AccountSid": "AC" + "0" * 32,
                "From": "whatsapp:" + CENTRE_NUMBER,
                "To": "whatsapp:" + str(message.get("to") or ""),
                "ChannelPrefix": "whatsapp",
                "ApiVersion": "2010-04-01",
            },
        )
    except Exception:  # noqa: BLE001 - a lost read report changes nothing on her phone
        message["read"] = False
