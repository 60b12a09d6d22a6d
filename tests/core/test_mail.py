"""Email goes out over real SMTP (a minimal SMTP server on loopback stands in for the gateway)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from email import message_from_bytes

import pytest

from app.core.mail import MailNotConfigured, send_email
from app.telephony.messaging import SmsMessenger


class _SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        self.wfile.write(b"220 test ESMTP\r\n")
        data: list[bytes] = []
        in_data = False
        for raw in self.rfile:
            if in_data:
                if raw == b".\r\n":
                    in_data = False
                    self.server.messages.append(b"".join(data))  # type: ignore[attr-defined]
                    self.wfile.write(b"250 queued\r\n")
                else:
                    data.append(raw[1:] if raw.startswith(b"..") else raw)
                continue
            verb = raw[:4].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250 test\r\n")
            elif verb == b"DATA":
                in_data, data = True, []
                self.wfile.write(b"354 go\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:  # MAIL, RCPT, RSET, NOOP
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.messages = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _config(server, **extra):  # type: ignore[no-untyped-def]
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": server.server_address[1], "SMTP_STARTTLS": False,
            "MAIL_FROM": "BPJS Ketenagakerjaan <no-reply@halopmi.example>", **extra}


def test_an_email_reaches_the_smtp_gateway(smtp_server):
    message_id = send_email(_config(smtp_server), "siti@example.org", "Pengaduan Anda", "Nomor referensi PMI-2026-000001")

    [raw] = smtp_server.messages
    message = message_from_bytes(raw)
    assert message["To"] == "siti@example.org" and message["Subject"] == "Pengaduan Anda"
    assert message["Message-ID"] == message_id
    assert "PMI-2026-000001" in message.get_payload()


def test_without_a_gateway_nothing_is_pretended():
    with pytest.raises(MailNotConfigured):
        send_email({}, "siti@example.org", "s", "b")
    assert SmsMessenger({}).send_email("siti@example.org", "s", "b") == "log-email"


def test_the_notification_messenger_sends_email_through_smtp(smtp_server):
    messenger = SmsMessenger(_config(smtp_server))
    assert messenger.send_email("siti@example.org", "Subject", "Body").startswith("<")
    assert len(smtp_server.messages) == 1
