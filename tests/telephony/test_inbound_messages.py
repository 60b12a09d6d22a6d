"""WhatsApp and SMS from workers: the signed inbound webhook, the case each message lands on,
the first answer, the files she sends, and bad input refused without losing a message."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.core.jobs import OutboxIntent
from app.telephony import inbound_messages, integration
from app.telephony.models import CallbackRequest, InboundMessage
from app.telephony.simulated_provider import SimulatorProvider
from app.telephony.twilio_provider import TwilioProvider
from app.tickets import services
from app.tickets.models import Attachment, MessagingContact, Notification, Ticket, TicketEvent
from tests.factories import make_member
from tests.telephony.conftest import INBOUND_PATH, message_params, run_jobs

PHONE = "+85291234567"
SID = "SM" + "1" * 32


def sid(n: int) -> str:
    return f"SM{n:032d}"


@pytest.fixture
def sim_media(app):
    """Media hosted by the simulated Twilio (in memory), fetched by the job as from Twilio."""
    provider = SimulatorProvider(None)
    app.extensions["telephony_provider"] = provider
    yield provider
    app.extensions.pop("telephony_provider", None)


@pytest.fixture
def store_dir(app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path / "attachments")
    return tmp_path / "attachments"


def _count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _tickets(db) -> list[Ticket]:
    db.session.expire_all()
    return list(db.session.scalars(select(Ticket).order_by(Ticket.id)))


def _events(db, ticket_id: int, kind: str | None = None) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if kind:
        query = query.where(TicketEvent.kind == kind)
    return list(db.session.scalars(query.order_by(TicketEvent.id)))


# --- text ---------------------------------------------------------------------------------------


def test_a_first_whatsapp_message_opens_a_case_and_is_answered_with_its_reference(post, db, frozen, messenger):
    response = post(INBOUND_PATH, message_params(SID, "Klaim JKK saya belum dibayar"))
    assert response.status_code == 200 and response.mimetype == "application/xml"
    [ticket] = _tickets(db)
    assert (ticket.channel, ticket.status, ticket.language) == ("whatsapp", "new", "id")
    assert ticket.requester_phone == PHONE and ticket.requester_name == "Siti"
    assert ticket.description == "Klaim JKK saya belum dibayar" and ticket.country == "HK"
    [created] = _events(db, ticket.id, "created")
    assert created.data["message_id"] == SID and created.data["channel"] == "whatsapp"
    inbound = db.session.scalar(select(InboundMessage))
    assert (inbound.outcome, inbound.ticket_id) == ("new_ticket", ticket.id)
    assert inbound.body is None  # her words live on the case now, not in the raw copy
    ticket_id, reference = ticket.id, ticket.reference
    run_jobs("app.tickets.tasks.")
    [(channel, to, body)] = messenger.sent
    assert (channel, to) == ("whatsapp", PHONE)
    assert reference in body
    assert "STATUS" in body and "AGEN" in body and "STOP" in body
    assert "06.00–22.00 WIB" in body  # the call centre's hours, from its business calendar
    note = db.session.scalar(select(Notification))
    assert (note.channel, note.ticket_id, note.status) == ("whatsapp", ticket_id, "sent")


def test_her_next_message_is_a_reply_on_the_same_case(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    frozen.shift(timedelta(minutes=5))
    post(INBOUND_PATH, message_params(sid(2), "Nama saya Siti"))
    [ticket] = _tickets(db)
    [reply] = _events(db, ticket.id, "public_reply")
    assert reply.by_requester and reply.public and reply.body == "Nama saya Siti"
    assert reply.data == {"channel": "whatsapp", "message_id": sid(2)}
    run_jobs("app.tickets.tasks.")
    assert len(messenger.sent) == 1  # one first answer, not one per message


def test_a_duplicate_delivery_adds_nothing(post, db, frozen, messenger):
    params = message_params(SID, "Halo")
    assert post(INBOUND_PATH, params).status_code == 200
    events = _count(db, TicketEvent)
    assert post(INBOUND_PATH, params).status_code == 200
    assert _count(db, InboundMessage) == 1 and len(_tickets(db)) == 1
    assert _count(db, TicketEvent) == events
    run_jobs()
    assert len(messenger.sent) == 1


def test_an_sms_opens_an_sms_case(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(SID, "Tolong bantu", sender=PHONE))
    [ticket] = _tickets(db)
    assert ticket.channel == "sms" and ticket.requester_phone == PHONE
    run_jobs()
    assert messenger.sent[0][0] == "sms"


def test_her_number_and_a_kpj_in_the_text_match_the_member(post, db, frozen):
    member = make_member(kpj="26000000042", phone_abroad=PHONE)
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    [by_phone] = _tickets(db)
    assert (by_phone.member_id, by_phone.match_confidence) == (member.id, "probable")
    other = make_member(kpj="26000000077")
    post(INBOUND_PATH, message_params(sid(2), "KPJ saya 2600 0000 077, tolong cek", sender="+85298765432"))
    by_kpj = _tickets(db)[-1]
    assert (by_kpj.requester_kpj, by_kpj.member_id, by_kpj.match_confidence) == ("26000000077", other.id, "exact")


def test_an_english_speaking_member_is_answered_in_english(post, db, frozen, messenger):
    make_member(phone_abroad=PHONE, preferred_language="en")
    post(INBOUND_PATH, message_params(SID, "Hello, my claim"))
    [ticket] = _tickets(db)
    assert ticket.language == "en"
    run_jobs()
    assert "we received your message" in messenger.sent[0][2]


def test_a_message_after_the_reuse_period_opens_a_new_case(post, db, frozen, app):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    frozen.shift(timedelta(days=app.config["TICKETS_REUSE_DAYS"] + 1))
    post(INBOUND_PATH, message_params(sid(2), "Halo lagi"))
    assert len(_tickets(db)) == 2


def test_a_message_reopens_her_recently_resolved_case(post, db, frozen):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    [ticket] = _tickets(db)
    services.change_status(ticket, "resolved")
    db.session.commit()
    frozen.shift(timedelta(days=2))
    post(INBOUND_PATH, message_params(sid(2), "Belum selesai"))
    [ticket] = _tickets(db)
    assert ticket.status == "open"


def test_an_sms_answering_our_sms_about_a_portal_complaint_joins_that_case(post, db, frozen, messenger):
    portal = services.open_ticket(channel="portal", category="claim_jht", subject="JHT", requester_phone=PHONE)
    services.notify_created(portal)
    db.session.commit()
    portal_id = portal.id
    run_jobs()
    assert messenger.sent[0][0] == "sms"
    post(INBOUND_PATH, message_params(SID, "Terima kasih, ini KPJ saya", sender=PHONE))
    [ticket] = _tickets(db)
    assert ticket.id == portal_id
    assert [e.body for e in _events(db, portal_id, "public_reply")] == ["Terima kasih, ini KPJ saya"]


# --- bad input: refused clearly, no message lost -------------------------------------------------


def test_unsigned_or_forged_messages_are_refused_and_not_stored(client, post, db):
    assert client.post(INBOUND_PATH, data=message_params(SID, "Halo")).status_code == 403
    assert post(INBOUND_PATH, message_params(SID, "Halo"), token="not-the-token").status_code == 403
    assert _count(db, InboundMessage) == 0 and _tickets(db) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"MessageSid": "", "SmsMessageSid": "", "SmsSid": ""}, None),
        ({"MessageSid": "SM/../../etc", "SmsMessageSid": "", "SmsSid": ""}, None),
        ({"From": "whatsapp:Siti"}, "From"),
        ({"From": ""}, "From"),
        ({"NumMedia": "many"}, "NumMedia"),
        ({"NumMedia": "1"}, "MediaUrl0"),
        ({"NumMedia": "1", "MediaUrl0": "file:///etc/passwd"}, "MediaUrl0"),
    ],
)
def test_malformed_messages_are_a_400_that_says_why(post, db, change, reason):
    response = post(INBOUND_PATH, {**message_params(SID, "Halo"), **change})
    assert response.status_code == 400
    if reason:
        assert reason in response.get_data(as_text=True)
    assert _count(db, InboundMessage) == 0 and _tickets(db) == []


def test_a_nul_byte_in_a_signed_message_is_replaced_not_lost(post, db, frozen):
    response = post(INBOUND_PATH, message_params(SID, "Halo\x00 saya Siti"))
    assert response.status_code == 200
    [ticket] = _tickets(db)
    assert ticket.description == "Halo\ufffd saya Siti"
    [created] = _events(db, ticket.id, "created")
    assert created.data["replaced_characters"] == 1


def test_a_nul_byte_in_an_unsigned_post_is_still_refused(client, db):
    response = client.post(INBOUND_PATH, data=message_params(SID, "Halo\x00"))
    assert response.status_code in (400, 403)
    assert _count(db, InboundMessage) == 0


def test_a_message_whose_processing_fails_is_kept_and_processed_by_its_job(post, db, frozen, monkeypatch):
    real = integration.message_received

    def broken(**values):
        raise RuntimeError("the tickets database table is locked")

    monkeypatch.setattr(integration, "message_received", broken)
    assert post(INBOUND_PATH, message_params(SID, "Halo")).status_code == 200
    inbound = db.session.scalar(select(InboundMessage))
    assert inbound.processed_at is None and inbound.body == "Halo" and _tickets(db) == []
    intent = db.session.scalar(select(OutboxIntent).where(OutboxIntent.func.endswith(".process")))
    assert intent.args == [inbound.id] and intent.run_after > inbound.received_at
    monkeypatch.setattr(integration, "message_received", real)
    run_jobs("app.telephony.inbound_messages.process")
    [ticket] = _tickets(db)
    assert ticket.description == "Halo"


def test_the_job_does_nothing_for_a_message_the_request_processed(post, db, frozen):
    post(INBOUND_PATH, message_params(SID, "Halo"))
    events = _count(db, TicketEvent)
    assert run_jobs("app.telephony.inbound_messages.process") == 1
    assert _count(db, TicketEvent) == events and len(_tickets(db)) == 1


# --- commands -------------------------------------------------------------------------------------


def test_stop_is_recorded_confirmed_once_and_honoured(post, db, frozen, messenger, auth):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    run_jobs()
    post(INBOUND_PATH, message_params(sid(2), "Stop"))
    [ticket] = _tickets(db)
    ticket_id = ticket.id
    [event] = _events(db, ticket.id, "opted_out")
    assert event.data == {"channel": "whatsapp"} and event.by_requester
    contact = db.session.scalar(select(MessagingContact))
    assert contact.opted_out_at is not None
    run_jobs()
    assert len(messenger.sent) == 2 and "MULAI" in messenger.sent[1][2]  # START in Indonesian
    # An agent's answer afterwards is recorded but not sent.
    agent = auth.user("agent")
    services.reply(ticket_id, "Kami cek dulu", actor_id=agent.id)
    db.session.commit()
    run_jobs()
    assert len(messenger.sent) == 2
    skipped = db.session.scalars(select(Notification).order_by(Notification.id)).all()[-1]
    assert (skipped.status, skipped.last_error) == ("skipped", "opted_out")
    # START lifts it.
    post(INBOUND_PATH, message_params(sid(3), "MULAI"))
    db.session.expire_all()
    assert db.session.scalar(select(MessagingContact)).opted_out_at is None
    assert _events(db, ticket_id, "opted_in")
    run_jobs()
    assert "STOP" in messenger.sent[-1][2]


def test_stop_by_sms_is_recorded_without_a_confirmation_of_our_own(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(sid(1), "STOP", sender=PHONE))
    assert db.session.scalar(select(MessagingContact)).opted_out_at is not None
    assert _tickets(db) == []  # a command opens no case
    run_jobs()
    assert messenger.sent == []  # Twilio answers STOP on SMS itself


def test_status_answers_with_her_case_in_her_words(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    [ticket] = _tickets(db)
    services.change_status(ticket, "pending_worker")
    db.session.commit()
    post(INBOUND_PATH, message_params(sid(2), "status"))
    ticket_id, reference = ticket.id, ticket.reference
    run_jobs()
    answer = messenger.sent[-1][2]
    assert reference in answer and "Menunggu jawaban Anda" in answer and "pending_worker" not in answer
    assert _events(db, ticket_id, "public_reply") == []  # a command is not a message on her case


def test_status_without_a_case_says_so(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(SID, "STATUS"))
    assert _tickets(db) == []
    run_jobs()
    [(channel, to, body)] = messenger.sent
    assert channel == "whatsapp" and to == PHONE and "tidak memiliki kasus" in body
    note = db.session.scalar(select(Notification))
    assert note.ticket_id is None and note.status == "sent"


def test_agent_asks_for_a_call_back_on_her_case(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(sid(1), "Klaim saya"))
    post(INBOUND_PATH, message_params(sid(2), "agen"))
    [ticket] = _tickets(db)
    callback = db.session.scalar(select(CallbackRequest))
    assert (callback.ticket_id, callback.phone, callback.source, callback.language) == (
        ticket.id, PHONE, "whatsapp", "id"
    )
    [message] = _events(db, ticket.id, "public_reply")
    assert message.body == "agen"  # staff see what she asked for
    run_jobs("app.tickets.tasks.")
    assert "akan menelepon nomor ini" in messenger.sent[-1][2]


def test_agent_as_her_first_message_opens_a_case_in_english_with_the_call_back(post, db, frozen, messenger):
    post(INBOUND_PATH, message_params(SID, "AGENT"))
    [ticket] = _tickets(db)
    callback = db.session.scalar(select(CallbackRequest))
    assert (ticket.language, callback.ticket_id, callback.language) == ("en", ticket.id, "en")
    run_jobs("app.tickets.tasks.")
    [(_channel, _to, body)] = messenger.sent  # the call-back's confirmation, not a first answer too
    assert "will call you" in body


def test_agen_from_a_number_we_may_not_dial_is_told_so(post, db, frozen, messenger, app):
    app.config["PLACEMENT_COUNTRIES"] = ("TW",)
    post(INBOUND_PATH, message_params(SID, "AGEN"))
    assert _count(db, CallbackRequest) == 0
    [ticket] = _tickets(db)
    assert ticket.channel == "whatsapp"
    run_jobs("app.tickets.tasks.")
    assert "tidak dapat menelepon" in messenger.sent[-1][2]


# --- media --------------------------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"x" * 64
OGG = b"OggS" + b"\x00" * 64


def test_a_photo_a_pdf_and_a_voice_note_become_attachments_beside_her_message(
    post, db, frozen, sim_media, store_dir, messenger
):
    media = [
        (sim_media.put_media("image/png", PNG), "image/png"),
        (sim_media.put_media("application/pdf", PDF), "application/pdf"),
        (sim_media.put_media("audio/ogg", OGG), "audio/ogg; codecs=opus"),
    ]
    post(INBOUND_PATH, message_params(SID, "Ini surat dokter", media=media))
    [ticket] = _tickets(db)
    ticket_id = ticket.id
    assert _count(db, Attachment) == 0  # fetched by a job, not in the webhook
    run_jobs("app.telephony.inbound_messages.fetch_media")
    ticket = db.session.get(Ticket, ticket_id)
    attachments = db.session.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [a.content_type for a in attachments] == ["image/png", "application/pdf", "audio/ogg"]
    assert all(a.public and a.ticket_id == ticket.id for a in attachments)
    assert attachments[0].original_filename.endswith(".png") and attachments[2].original_filename.endswith(".ogg")
    [event] = _events(db, ticket.id, "attachment")
    assert event.by_requester and event.data["attachment_ids"] == [a.id for a in attachments]
    assert db.session.scalar(select(InboundMessage)).media_status == "done"
    assert (store_dir / attachments[0].storage_key[:2] / attachments[0].storage_key).read_bytes() == PNG
    run_jobs()
    assert len(messenger.sent) == 1  # the first answer only: nothing was refused


def test_a_photo_alone_is_a_message_without_text(post, db, frozen, sim_media, store_dir):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    media = [(sim_media.put_media("image/jpeg", b"\xff\xd8\xff" + b"\x00" * 32), "image/jpeg")]
    post(INBOUND_PATH, message_params(sid(2), "", media=media))
    run_jobs("app.telephony.inbound_messages.fetch_media")
    [ticket] = _tickets(db)
    [reply] = _events(db, ticket.id, "public_reply")
    assert reply.body is None and reply.data["media"] == 1
    [attachment] = db.session.scalars(select(Attachment)).all()
    assert attachment.event_id == reply.id


def test_an_unknown_media_type_is_not_fetched_and_she_is_told_politely(post, db, frozen, sim_media, store_dir, messenger):
    media = [(sim_media.put_media("video/mp4", b"\x00\x00\x00\x18ftypmp42"), "video/mp4")]
    post(INBOUND_PATH, message_params(SID, "Video kecelakaan", media=media))
    run_jobs()
    [ticket] = _tickets(db)
    assert ticket.description == "Video kecelakaan"  # her words are kept
    assert _count(db, Attachment) == 0
    [refused] = _events(db, ticket.id, "media_refused")
    assert refused.data["reason"] == "unsupported" and refused.data["content_type"] == "video/mp4"
    assert not refused.public
    answer = messenger.sent[-1][2]
    assert "foto" in answer and "PDF" in answer  # in Bahasa Indonesia, saying what to send


def test_a_file_announced_as_a_photo_whose_bytes_are_not_is_refused(post, db, frozen, sim_media, store_dir, messenger):
    media = [(sim_media.put_media("image/jpeg", b"MZ\x90\x00 not a photo"), "image/jpeg")]
    post(INBOUND_PATH, message_params(SID, "foto", media=media))
    run_jobs()
    assert _count(db, Attachment) == 0
    [ticket] = _tickets(db)
    [refused] = _events(db, ticket.id, "media_refused")
    assert refused.data["reason"] == "unsupported"


class FakeMedia:
    """``requests`` as Twilio's media host answers: headers, then the body in chunks."""

    def __init__(self, body: bytes, content_type: str, announce_length: bool = True) -> None:
        self.body = body
        self.content_type = content_type
        self.announce_length = announce_length
        self.requested: list[str] = []
        self.read = 0

    def get(self, url, auth=None, stream=False, timeout=None):  # noqa: ANN001 - requests' signature
        self.requested.append(url)
        fake = self

        class Response:
            status_code = 200
            headers = {"Content-Type": fake.content_type}
            if fake.announce_length:
                headers["Content-Length"] = str(len(fake.body))

            def iter_content(self, size):  # noqa: ANN001
                for start in range(0, len(fake.body), size):
                    fake.read += size
                    yield fake.body[start : start + size]

            def close(self):
                pass

        return Response()


TWILIO = {
    "TWILIO_ACCOUNT_SID": "AC" + "a" * 32,
    "TWILIO_AUTH_TOKEN": "token",
    "TWILIO_API_KEY": "SK" + "b" * 32,
    "TWILIO_API_SECRET": "secret",
}
MEDIA_URL = f"https://api.twilio.com/2010-04-01/Accounts/{'AC' + 'a' * 32}/Messages/MM{'2' * 32}/Media/ME{'3' * 32}"


@pytest.mark.parametrize("announced", [True, False])
def test_a_30_mb_file_is_refused_without_reading_it_all(post, app, db, frozen, store_dir, messenger, announced):
    app.config.update(TWILIO)
    media = FakeMedia(b"\xff\xd8\xff" + b"\x00" * (30 * 1024 * 1024), "image/jpeg", announce_length=announced)
    app.extensions["telephony_provider"] = TwilioProvider(app.config, media_http=media)
    try:
        response = post(INBOUND_PATH, message_params(SID, "Foto besar", media=[(MEDIA_URL, "image/jpeg")]))
        assert response.status_code == 200
        run_jobs()
    finally:
        app.extensions.pop("telephony_provider", None)
    assert media.requested == [MEDIA_URL]
    assert media.read <= app.config["TICKETS_ATTACHMENT_MAX_BYTES"] + 2 * 64 * 1024  # stopped early
    [ticket] = _tickets(db)
    assert ticket.description == "Foto besar" and _count(db, Attachment) == 0
    [refused] = _events(db, ticket.id, "media_refused")
    assert refused.data["reason"] == "too_large" and refused.data["size"] > 5 * 1024 * 1024
    assert "5 MB" in messenger.sent[-1][2]


def test_media_elsewhere_than_this_twilio_account_is_never_fetched(post, app, db, frozen, store_dir, messenger):
    app.config.update(TWILIO)
    media = FakeMedia(PNG, "image/png")
    app.extensions["telephony_provider"] = TwilioProvider(app.config, media_http=media)
    try:
        post(INBOUND_PATH, message_params(SID, "x", media=[("https://attacker.example/x.png", "image/png")]))
        run_jobs()
    finally:
        app.extensions.pop("telephony_provider", None)
    assert media.requested == []
    [ticket] = _tickets(db)
    [refused] = _events(db, ticket.id, "media_refused")
    assert refused.data["reason"] == "failed"


def test_parse_counts_media_and_reads_the_whatsapp_address():
    parsed = inbound_messages.parse(
        message_params(SID, "x", media=[("https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME", "image/png")])
    )
    assert (parsed.channel, parsed.phone, len(parsed.media)) == ("whatsapp", PHONE, 1)


def test_after_her_conversation_was_merged_her_messages_go_to_the_case_it_was_merged_into(post, db, frozen):
    post(INBOUND_PATH, message_params(sid(1), "Halo"))
    [conversation] = _tickets(db)
    portal = services.open_ticket(channel="portal", category="claim_jht", subject="JHT", requester_phone=PHONE)
    services.merge(conversation, portal)
    db.session.commit()
    portal_id = portal.id
    frozen.shift(timedelta(hours=1))
    post(INBOUND_PATH, message_params(sid(2), "Sudah ada kabar?"))
    assert len(_tickets(db)) == 2  # no third case
    assert [e.body for e in _events(db, portal_id, "public_reply")] == ["Sudah ada kabar?"]
