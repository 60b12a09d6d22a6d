"""Static CSS and JavaScript are compressed for workers on metered data; pages and JSON are not
(they hold CSRF and voice tokens beside text an attacker can choose: BREACH)."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BROWSER = {"Accept-Encoding": "gzip, deflate"}  # what Chromium sends over plain HTTP


def _decoded(response) -> bytes:  # type: ignore[no-untyped-def]
    assert response.headers.get("Content-Encoding") in ("gzip", "deflate")
    return zlib.decompress(response.get_data(), wbits=47)  # 47: a gzip or a zlib header


@pytest.mark.parametrize("path", ["css/app.css", "js/realtime.js"])
def test_static_css_and_javascript_are_compressed(client, path: str) -> None:
    response = client.get(f"/static/{path}", headers=BROWSER)
    assert response.status_code == 200
    original = (ROOT / "app" / "static" / path).read_bytes()
    assert _decoded(response) == original
    assert len(response.get_data()) < len(original) / 2
    assert "Accept-Encoding" in response.headers["Vary"]


def test_a_client_that_does_not_ask_gets_them_plain(client) -> None:
    response = client.get("/static/css/app.css")
    assert "Content-Encoding" not in response.headers
    assert response.get_data() == (ROOT / "app" / "static" / "css" / "app.css").read_bytes()


@pytest.mark.parametrize("path", ["/complaints/new", "/login", "/api/openapi.json"])
def test_pages_and_json_are_never_compressed(client, path: str) -> None:
    response = client.get(path, headers=BROWSER)
    assert response.status_code == 200
    assert len(response.get_data()) > 500  # big enough to be compressed if they were allowed
    assert "Content-Encoding" not in response.headers


def test_a_compressed_file_is_revalidated_without_sending_it_again(client) -> None:
    first = client.get("/static/css/app.css", headers=BROWSER)
    again = client.get("/static/css/app.css", headers={**BROWSER, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    assert again.get_data() == b""
