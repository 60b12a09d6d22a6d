"""Error responses: JSON for the API, a page without internals for people."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token

# The tests add routes: Flask refuses new routes on an app that has served a request.
pytestmark = pytest.mark.own_app


@pytest.fixture
def api_app(app):  # type: ignore[no-untyped-def]
    @app.get("/api/_test/thing")
    def api_thing():  # type: ignore[no-untyped-def]
        return {"ok": True}

    @app.get("/_test/boom")
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals: postgresql://admin:hunter2@db/prod")

    @app.get("/api/_test/boom")
    def api_boom():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internals: postgresql://admin:hunter2@db/prod")

    # TESTING re-raises unhandled errors into the test; production handles them.
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def assert_error_shape(body: dict, code: str) -> None:  # type: ignore[type-arg]
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["fields"] == {}


def test_api_404_is_json(client):
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert_error_shape(response.get_json(), "not_found")


def test_api_405_is_json_and_names_the_allowed_methods(api_app, client):
    response = client.delete("/api/_test/thing")
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert_error_shape(response.get_json(), "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_page_404_is_html(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<html" in response.get_data(as_text=True)


def test_json_clients_get_json_errors_outside_the_api_too(client):
    response = client.get("/no-such-page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert_error_shape(response.get_json(), "not_found")


def test_unhandled_error_is_a_500_page_without_internals(api_app, client):
    response = client.get("/_test/boom", headers={"Accept-Language": "en"})
    assert response.status_code == 500
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret internals", "test_errors.py"):
        assert leak not in page
    assert "Something went wrong on our side" in page
    assert response.headers["X-Request-ID"] in page  # a reference for support


def test_unhandled_api_error_is_a_json_500(api_app, client):
    response = client.get("/api/_test/boom")
    assert response.status_code == 500
    assert_error_shape(response.get_json(), "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)


def test_unhandled_error_is_logged_with_its_trace(api_app, client, caplog):
    with caplog.at_level("ERROR"):
        client.get("/_test/boom")
    [record] = [r for r in caplog.records if r.name == "app.core.errors"]
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError


def test_missing_csrf_token_is_400_page(client):
    response = client.post("/login", data={"email": "a@example.com", "password": "x"})
    assert response.status_code == 400
    assert response.mimetype == "text/html"


def test_missing_csrf_token_is_json_for_json_clients(client):
    response = client.post(
        "/login", data={"email": "a@example.com", "password": "x"}, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert_error_shape(response.get_json(), "csrf_failed")


def test_a_valid_csrf_token_passes(client):
    token = csrf_token(client)
    response = client.post("/login", data={"email": "a@example.com", "password": "x", "csrf_token": token})
    assert response.status_code == 401  # past CSRF, refused on the credentials
