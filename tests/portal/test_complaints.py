"""The public complaint form and "follow your case" pages."""

from __future__ import annotations

import io
import re

import pytest

from app.core.jobs import OutboxIntent
from app.tickets import services
from app.tickets.models import Attachment, Ticket
from tests.conftest import csrf_token
from tests.factories import TicketFactory, make_member

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%%EOF\n"


def _form(client, **overrides):
    data = {
        "csrf_token": csrf_token(client, "/complaints/new"),
        "name": "Siti Aminah",
        "phone": "+852 9123 4567",
        "country": "HK",
        "category": "claim_jkk",
        "description": "My employer has not reported my accident at work.",
        "language": "en",
    }
    data.update(overrides)
    return data


def _post(client, **overrides):
    return client.post("/complaints/new", data=_form(client, **overrides), content_type="multipart/form-data")


def test_form_renders_with_csrf_and_categories(client):
    html = client.get("/complaints/new", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'name="csrf_token"' in html
    assert 'value="claim_jkm"' in html and 'value="HK"' in html


def test_index_links_to_the_complaint_pages(client):
    html = client.get("/").get_data(as_text=True)
    assert "/complaints/new" in html and "/complaints/track" in html


def test_valid_complaint_is_stored_and_shows_its_reference(client, db):
    response = _post(client)
    assert response.status_code == 302
    done = client.get(response.headers["Location"]).get_data(as_text=True)
    ticket = db.session.query(Ticket).one()
    assert ticket.reference in done
    assert ticket.channel == "portal" and ticket.requester_phone == "+85291234567" and ticket.country == "HK"
    intent = db.session.query(OutboxIntent).filter_by(func="app.tickets.tasks.notify_worker").one()
    assert intent.args == [ticket.id, "created", "0", "sms"]  # one intent per channel


def test_local_number_is_read_in_the_chosen_country(client, db):
    assert _post(client, phone="9123 4567").status_code == 302
    assert db.session.query(Ticket).one().requester_phone == "+85291234567"


def test_missing_csrf_is_refused(client, db):
    data = _form(client)
    data.pop("csrf_token")
    assert client.post("/complaints/new", data=data).status_code == 400
    assert db.session.query(Ticket).count() == 0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Please enter your name."),
        ("phone", "12", "This is not a valid phone number"),
        ("phone", "", "Please enter a phone number"),
        ("country", "", "Please choose the country"),
        ("country", "XX", "Please choose a country from the list."),
        ("category", "weather", "Please choose a category from the list."),
        ("description", "short", "Please describe your problem"),
        ("kpj", "123", "KPJ must be 11 letters or digits"),
        ("nik", "1234", "NIK"),
        ("passport", "B1", "Passport number must be 6 to 9"),
        ("email", "not-an-email", "This is not an email address."),
        ("birth_date", "17/05/1990", "YYYY-MM-DD"),
    ],
)
def test_each_field_has_its_own_message(client, db, field, value, message):
    response = _post(client, **{field: value})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    match = re.search(rf'id="e-{field}"[^>]*>([^<]*)<', html)
    assert match, f"no error shown for {field}"
    assert message in match.group(1)
    assert db.session.query(Ticket).count() == 0


def test_entered_values_are_kept_after_an_error(client):
    html = _post(client, phone="12", name="Dewi Lestari").get_data(as_text=True)
    assert 'value="Dewi Lestari"' in html


def test_attachments_are_stored_outside_the_web_root(client, db, app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    data = _form(client)
    data["attachments"] = [(io.BytesIO(PNG), "wound.png"), (io.BytesIO(PDF), "letter.pdf")]
    assert client.post("/complaints/new", data=data, content_type="multipart/form-data").status_code == 302
    stored = db.session.query(Attachment).order_by(Attachment.id).all()
    assert [(a.original_filename, a.content_type) for a in stored] == [
        ("wound.png", "image/png"),
        ("letter.pdf", "application/pdf"),
    ]
    assert (tmp_path / stored[0].storage_key[:2] / stored[0].storage_key).read_bytes() == PNG


def test_a_renamed_executable_is_refused_with_415(client, db, app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    data = _form(client)
    data["attachments"] = [(io.BytesIO(b"MZ\x90\x00 not an image"), "photo.jpg", "image/jpeg")]
    response = client.post("/complaints/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 415
    assert "is not an image or a PDF" in response.get_data(as_text=True)
    assert db.session.query(Ticket).count() == 0


def test_a_too_large_file_is_refused_with_413(client, db, app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    app.config["TICKETS_ATTACHMENT_MAX_BYTES"] = 1024
    data = _form(client)
    data["attachments"] = [(io.BytesIO(PNG + b"\x00" * 2048), "big.png")]
    response = client.post("/complaints/new", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    assert db.session.query(Ticket).count() == 0


def test_html_in_a_complaint_is_rendered_as_text(client, db):
    payload = '<script>alert("x")</script> my employer took my passport'
    assert _post(client, description=payload, name="<b>Siti</b>").status_code == 302
    ticket = db.session.query(Ticket).one()
    services.reply(ticket, "<img src=x onerror=alert(1)> we are on it", actor_id=_agent_id())
    db.session.commit()
    html = client.get(f"/complaints/{ticket.reference}").get_data(as_text=True)
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def _agent_id() -> int:
    from tests.factories import make_user

    return make_user().id




def _track(client, reference, verification):
    return client.post(
        "/complaints/track",
        data={
            "csrf_token": csrf_token(client, "/complaints/track"),
            "reference": reference,
            "verification": verification,
        },
    )


def test_tracking_with_the_phone_on_file_shows_the_case(client, db):
    ticket = TicketFactory()
    response = _track(client, ticket.reference, "+852 9123 4567")
    assert response.status_code == 302
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ticket.reference in html and 'id="status"' in html


def test_tracking_with_the_members_birth_date(client, db):
    member = make_member()
    ticket = TicketFactory(requester_kpj=member.kpj, requester_phone=None)
    assert _track(client, ticket.reference, member.birth_date.isoformat()).status_code == 302


def test_wrong_verification_and_unknown_reference_look_the_same(client, db):
    ticket = TicketFactory()
    wrong = _track(client, ticket.reference, "+85290000000")
    unknown = _track(client, "PMI-2026-999999", "+85291234567")
    assert wrong.status_code == unknown.status_code == 404
    assert "could not find a case" in wrong.get_data(as_text=True)
    assert client.get(f"/complaints/{ticket.reference}").status_code == 302  # back to the form


def test_case_page_needs_verification(client, db):
    ticket = TicketFactory()
    response = client.get(f"/complaints/{ticket.reference}")
    assert response.status_code == 302 and "/complaints/track" in response.headers["Location"]


def test_tracking_is_rate_limited_per_ip(client, db, app):
    app.config["TICKETS_TRACK_RATE_LIMIT"] = "3 per hour"
    ticket = TicketFactory()
    codes = [_track(client, ticket.reference, f"+8529000000{i}").status_code for i in range(4)]
    assert codes == [404, 404, 404, 429]


def test_tracking_is_rate_limited_per_reference_across_ips(client, db, app):
    app.config["TICKETS_TRACK_RATE_LIMIT"] = "2 per hour"
    ticket = TicketFactory()
    codes = []
    for i in range(3):
        codes.append(
            client.post(
                "/complaints/track",
                data={
                    "csrf_token": csrf_token(client, "/complaints/track"),
                    "reference": ticket.reference,
                    "verification": "+85290000000",
                },
                environ_overrides={"REMOTE_ADDR": f"10.0.0.{i + 1}"},
            ).status_code
        )
    assert codes == [404, 404, 429]


def test_worker_reply_reopens_and_appears_on_the_timeline(client, db, app, tmp_path):
    app.config["TICKETS_ATTACHMENT_DIR"] = str(tmp_path)
    ticket = TicketFactory()
    services.change_status(ticket, "resolved")
    db.session.commit()
    _track(client, ticket.reference, "+85291234567")
    response = client.post(
        f"/complaints/{ticket.reference}/reply",
        data={
            "csrf_token": csrf_token(client, f"/complaints/{ticket.reference}"),
            "message": "Not paid yet",
            "attachments": [(io.BytesIO(PDF), "receipt.pdf")],
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    db.session.expire_all()
    stored = db.session.get(Ticket, ticket.id)
    assert stored.status == "open"
    html = client.get(f"/complaints/{ticket.reference}").get_data(as_text=True)
    assert "Not paid yet" in html and "receipt.pdf" in html


def test_empty_reply_is_refused(client, db):
    ticket = TicketFactory()
    _track(client, ticket.reference, "+85291234567")
    response = client.post(
        f"/complaints/{ticket.reference}/reply",
        data={"csrf_token": csrf_token(client, f"/complaints/{ticket.reference}"), "message": " "},
    )
    assert response.status_code == 422


def test_rating_after_resolution(client, db):
    ticket = TicketFactory()
    _track(client, ticket.reference, "+85291234567")
    token = csrf_token(client, f"/complaints/{ticket.reference}")
    assert (
        client.post(
            f"/complaints/{ticket.reference}/rating", data={"csrf_token": token, "score": "5"}
        ).status_code
        == 409
    )
    services.change_status(db.session.get(Ticket, ticket.id), "resolved")
    db.session.commit()
    assert "How did we do?" in client.get(f"/complaints/{ticket.reference}").get_data(as_text=True)
    assert (
        client.post(
            f"/complaints/{ticket.reference}/rating", data={"csrf_token": token, "score": "9"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/complaints/{ticket.reference}/rating", data={"csrf_token": token, "score": "4"}
        ).status_code
        == 302
    )
    db.session.expire_all()
    assert db.session.get(Ticket, ticket.id).csat_score == 4


def test_a_merged_case_shows_the_case_it_joined(client, db):
    source, target = TicketFactory(), TicketFactory()
    services.merge(source, target)
    db.session.commit()
    _track(client, source.reference, "+85291234567")
    html = client.get(f"/complaints/{source.reference}").get_data(as_text=True)
    assert f"was joined with case {target.reference}" in html


def test_the_complaint_is_recorded_in_the_language_the_form_was_read_in(client):
    english = client.get("/complaints/new", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert re.search(r'name="language"[^>]*value="en"|value="en"[^>]*name="language"', english)
    default = client.get("/complaints/new", headers={"Accept-Language": "id"}).get_data(as_text=True)
    assert re.search(r'name="language"[^>]*value="id"|value="id"[^>]*name="language"', default)
