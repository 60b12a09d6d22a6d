"""Form fields say their hint and their error to a screen reader (aria-describedby), not only
on screen: a worker using TalkBack hears "e.g. +852 9123 4567" when she reaches the phone field."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.conftest import csrf_token


class _Controls(HTMLParser):
    """Attributes of every element with an id."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id"):
            self.by_id[str(attributes["id"])] = attributes


def _controls(html: str) -> dict[str, dict[str, str | None]]:
    parser = _Controls()
    parser.feed(html)
    return parser.by_id


def test_a_hint_describes_its_field(client) -> None:
    controls = _controls(client.get("/complaints/new").get_data(as_text=True))
    assert controls["f-phone"].get("aria-describedby") == "h-phone"
    assert "h-phone" in controls
    assert "aria-invalid" not in controls["f-phone"]
    assert "aria-describedby" not in controls["f-name"]  # no hint, no error: nothing to say


def test_an_error_describes_its_field_and_marks_it_invalid(client, db) -> None:
    response = client.post(
        "/complaints/new",
        data={"csrf_token": csrf_token(client, "/complaints/new"), "name": "", "phone": "12"},
    )
    assert response.status_code == 422
    controls = _controls(response.get_data(as_text=True))
    assert controls["f-name"].get("aria-describedby") == "e-name"
    assert controls["f-name"].get("aria-invalid") == "true"
    assert controls["f-phone"].get("aria-describedby") == "h-phone e-phone"
    assert {"e-name", "e-phone"} <= set(controls)
