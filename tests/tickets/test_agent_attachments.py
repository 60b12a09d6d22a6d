"""Agents attach files to replies and internal notes; an internal note's files never reach the worker."""

from __future__ import annotations

import io
import os
from datetime import date

import pytest
from sqlalchemy import select

from app.tickets import attachments, services
from app.tickets.models import Attachment, Ticket, TicketEvent
from tests.conftest import csrf_token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n" + b"1 0 obj\n" * 8
BIRTH = "1990-05-17"


@pytest.fixture
def store_dir(app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path / "attachments")
    return tmp_path / "attachments"


@pytest.fixture
def ticket(db):
    ticket = services.open_ticket(
        channel="portal",
        category="claim_jkk",
        subject="accident",
        requester_phone="+85291234567",
        requester_birth_date=date.fromisoformat(BIRTH),
    )
    db.session.commit()
    return ticket


def _post_reply(client, ticket_id, *, body, kind, files):
    db_ticket = services.get_ticket(ticket_id)
    token = csrf_token(client, f"/tickets/{ticket_id}")
    data = {
        "csrf_token": token,
        "version": db_ticket.version,
        "seen_event": services.timeline(db_ticket)[-1].id,
        "body": body,
        "kind": kind,
        "attachments": [(io.BytesIO(content), name) for name, content in files],
    }
    return client.post(f"/tickets/{ticket_id}/reply", data=data, content_type="multipart/form-data")


def _fresh(db, model, ident):
    db.session.expire_all()
    return db.session.get(model, ident)


def _worker(app, reference):
    worker = app.test_client()
    worker.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    token = csrf_token(worker, "/complaints/track")
    response = worker.post(
        "/complaints/track", data={"csrf_token": token, "reference": reference, "verification": BIRTH}
    )
    assert response.status_code == 302
    return worker


def test_a_public_reply_carries_files_the_worker_can_download(app, client, auth, db, store_dir, ticket):
    auth.login_as("agent")
    response = _post_reply(
        client, ticket.id, body="Please fill in this form.", kind="public_reply", files=[("form.pdf", PDF)]
    )
    assert response.status_code == 302
    [item] = db.session.scalars(select(Attachment)).all()
    reply = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "public_reply"))
    assert (item.public, item.event_id, item.content_type) == (True, reply.id, "application/pdf")
    path = attachments.path_of(item)
    assert path.startswith(str(store_dir)) and open(path, "rb").read() == PDF
    attachment_event = db.session.scalar(select(TicketEvent).where(TicketEvent.kind == "attachment"))
    assert attachment_event.public and not attachment_event.by_requester
    assert attachment_event.actor_id is not None

    staff_page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert f"/tickets/{ticket.id}/attachments/{item.id}" in staff_page
    assert client.get(f"/tickets/{ticket.id}/attachments/{item.id}").data == PDF

    worker = _worker(app, ticket.reference)
    case = worker.get(f"/complaints/{ticket.reference}").get_data(as_text=True)
    assert "form.pdf" in case and f"/complaints/{ticket.reference}/files/{item.id}" in case
    download = worker.get(f"/complaints/{ticket.reference}/files/{item.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"

    api = app.test_client()
    body = api.get(f"/api/v1/complaints/{ticket.reference}", query_string={"verification": BIRTH}).get_json()
    reply_entry = next(e for e in body["timeline"] if e.get("message") == "Please fill in this form.")
    assert reply_entry["attachments"] == ["form.pdf"] and reply_entry["attachment_ids"] == [item.id]
    file = api.get(
        f"/api/v1/complaints/{ticket.reference}/attachments/{item.id}", query_string={"verification": BIRTH}
    )
    assert file.status_code == 200 and file.data == PDF and file.mimetype == "application/pdf"
    wrong = api.get(
        f"/api/v1/complaints/{ticket.reference}/attachments/{item.id}",
        query_string={"verification": "1991-01-01"},
    )
    assert wrong.status_code == 404 and wrong.get_json()["error"]["code"] == "not_found"


def test_an_internal_notes_files_stay_internal(app, client, auth, db, store_dir, ticket):
    auth.login_as("agent")
    response = _post_reply(
        client,
        ticket.id,
        body="Employer letter, do not share",
        kind="internal_note",
        files=[("employer-letter.png", PNG)],
    )
    assert response.status_code == 302
    [item] = db.session.scalars(select(Attachment)).all()
    assert item.public is False
    events = db.session.scalars(select(TicketEvent).where(TicketEvent.kind == "attachment")).all()
    assert [e.public for e in events] == [False]
    staff_page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    assert "employer-letter.png" in staff_page
    assert client.get(f"/tickets/{ticket.id}/attachments/{item.id}").status_code == 200

    # The portal: not listed, not downloadable even by guessing the id.
    worker = _worker(app, ticket.reference)
    case = worker.get(f"/complaints/{ticket.reference}").get_data(as_text=True)
    assert "employer-letter" not in case and "do not share" not in case
    assert worker.get(f"/complaints/{ticket.reference}/files/{item.id}").status_code == 404

    # The API: not in the timeline, not downloadable.
    api = app.test_client()
    body = api.get(f"/api/v1/complaints/{ticket.reference}", query_string={"verification": BIRTH}).get_json()
    assert "employer-letter" not in str(body)
    assert item.id not in [i for entry in body["timeline"] for i in entry["attachment_ids"]]
    hidden = api.get(
        f"/api/v1/complaints/{ticket.reference}/attachments/{item.id}", query_string={"verification": BIRTH}
    )
    assert hidden.status_code == 404
    garbage = api.get(
        f"/api/v1/complaints/{ticket.reference}/attachments/1%20OR%201", query_string={"verification": BIRTH}
    )
    assert garbage.status_code == 404 and garbage.get_json()["error"]["code"] == "not_found"


def test_another_cases_file_is_not_served_to_this_worker(app, db, store_dir, ticket):
    other = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85290000000")
    db.session.commit()
    from app.tickets import intake

    intake.attach(other, [attachments.Upload("theirs.png", "image/png", PNG)])
    db.session.commit()
    theirs = db.session.scalar(select(Attachment.id))
    worker = _worker(app, ticket.reference)
    assert worker.get(f"/complaints/{ticket.reference}/files/{theirs}").status_code == 404
    api = app.test_client()
    response = api.get(
        f"/api/v1/complaints/{ticket.reference}/attachments/{theirs}", query_string={"verification": BIRTH}
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("notes.html", b"<script>alert(1)</script>")], 415, "is not an image or a PDF"),
        ([("a.png", PNG), ("b.png", PNG), ("c.png", PNG), ("d.png", PNG)], 413, "At most 3 files"),
        ([("huge.png", PNG + b"\x00" * 2048)], 413, "is too large"),
    ],
)
def test_a_refused_file_saves_nothing_and_keeps_the_draft(
    app, client, auth, db, store_dir, ticket, files, status, message
):
    app.config["TICKETS_ATTACHMENT_MAX_BYTES"] = 1024
    auth.login_as("agent")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    events_before = len(services.timeline(ticket))
    response = _post_reply(client, ticket.id, body="My draft answer", kind="public_reply", files=files)
    assert response.status_code == status
    html = response.get_data(as_text=True)
    assert message in html and "My draft answer" in html
    assert len(services.timeline(_fresh(db, Ticket, ticket.id))) == events_before
    assert db.session.scalar(select(Attachment.id)) is None
    assert not os.path.exists(store_dir) or not any(os.scandir(store_dir))
