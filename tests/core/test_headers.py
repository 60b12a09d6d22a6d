"""Security headers on every response; a Content-Security-Policy whose nonce the pages use."""

from __future__ import annotations

import re

import pytest

from app.extensions import db as _db
from app.tickets import services as tickets

NONCE = re.compile(r"'nonce-([^']+)'")


def _csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/call"), ("GET", "/login"), ("GET", "/api/openapi.json"), ("GET", "/healthz"),
     ("GET", "/no-such-page"), ("POST", "/api/v1/complaints"), ("POST", "/telephony/voice/inbound"),
     ("GET", "/static/css/app.css")],
)
def test_every_response_carries_the_security_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    policy = _csp(response)
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert policy["object-src"] == "object-src 'none'"
    assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"]


def test_the_pages_inline_scripts_carry_this_requests_nonce(client, auth, db):
    auth.login_as("agent")
    ticket = tickets.open_ticket(channel="portal", category="other", subject="Gaji", requester_phone="+85290000000")
    _db.session.commit()
    first = client.get(f"/tickets/{ticket.id}")
    second = client.get(f"/tickets/{ticket.id}")
    nonce = NONCE.search(_csp(first)["script-src"]).group(1)
    assert nonce != NONCE.search(_csp(second)["script-src"]).group(1)  # one per request
    html = first.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    executable = [attrs for attrs in inline if "application/json" not in attrs]
    assert executable, "the ticket page has inline scripts (collision warning, canned replies)"
    assert all(f'nonce="{nonce}"' in attrs for attrs in executable)
    assert not re.search(r"\son[a-z]+=\"", html), "inline event handlers cannot run under the CSP"


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/").headers
    secure = client.get("/", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_session_cookie_is_not_readable_by_scripts(client, auth):
    auth.login_as("agent")
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only


def test_styles_come_only_from_our_style_sheets(client):
    """style-src without 'unsafe-inline': no template may carry a style attribute or block."""
    from pathlib import Path

    import app as package

    assert _csp(client.get("/"))["style-src"] == "style-src 'self'"
    templates = Path(package.__file__).parent / "templates"
    inline = [
        f"{path.relative_to(templates)}: {match.group(0)[:60]}"
        for path in sorted(templates.rglob("*.html"))
        for match in re.finditer(r"<style\b|\sstyle=", path.read_text())
    ]
    assert inline == []
