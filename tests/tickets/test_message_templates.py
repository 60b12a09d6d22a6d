"""Approved WhatsApp templates as data: administrators record them; the rules refuse what the
Content API or the message job could not use."""

from __future__ import annotations

from sqlalchemy import select

from app.tickets.models import MessageTemplate
from tests.conftest import csrf_token

SID = "HX" + "0123456789abcdef" * 2


def _form(client, **values):
    data = {
        "csrf_token": csrf_token(client, "/tickets/templates"),
        "purpose": "message",
        "language": "id",
        "content_sid": SID,
        "body": "Ada jawaban baru untuk kasus {{1}}: {{2}}",
        "variable_1": "reference",
        "variable_2": "link",
    }
    data.update(values)
    return client.post("/tickets/templates", data=data)


def test_only_administrators_manage_templates(client, auth):
    auth.login_as("agent")
    assert client.get("/tickets/templates").status_code == 403
    auth.logout()
    auth.login_as("supervisor")
    assert client.get("/tickets/templates").status_code == 403


def test_an_administrator_saves_and_replaces_a_template(client, auth, db):
    auth.login_as("admin", language="en")
    assert _form(client).status_code == 302
    [template] = db.session.scalars(select(MessageTemplate)).all()
    assert (template.purpose, template.language, template.content_sid) == ("message", "id", SID)
    assert template.variables == ["reference", "link"] and template.active
    other = "HX" + "f" * 32
    assert _form(client, content_sid=other, body="Kasus {{1}}", variable_2="").status_code == 302
    db.session.expire_all()
    [template] = db.session.scalars(select(MessageTemplate)).all()  # replaced, not added
    assert template.content_sid == other and template.variables == ["reference"]
    html = client.get("/tickets/templates").get_data(as_text=True)
    assert "An agent&#39;s answer outside the 24-hour window" in html and "Case reference" in html
    client.post(
        f"/tickets/templates/{template.id}/toggle", data={"csrf_token": csrf_token(client, "/tickets/templates")}
    )
    db.session.expire_all()
    assert not db.session.get(MessageTemplate, template.id).active


def test_what_the_content_api_could_not_use_is_refused_with_reasons(client, auth, db):
    auth.login_as("admin", language="en")
    response = _form(client, content_sid="HX123")
    assert response.status_code == 422 and "32 hexadecimal" in response.get_data(as_text=True)
    response = _form(client, variable_2="")  # two placeholders, one field
    assert response.status_code == 422 and "numbered placeholders" in response.get_data(as_text=True)
    response = _form(client, variable_1="", variable_2="link")  # a gap
    assert response.status_code == 422 and "without gaps" in response.get_data(as_text=True)
    response = _form(client, purpose="birthday")
    assert response.status_code == 422
    assert db.session.scalars(select(MessageTemplate)).all() == []
