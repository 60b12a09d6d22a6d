"""Every user-facing string exists in Bahasa Indonesia and English."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}


def _source_messages() -> set[str]:
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(lang: str):  # type: ignore[no-untyped-def]
    with (ROOT / "app" / "translations" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh)


def test_every_source_string_has_an_indonesian_translation() -> None:
    catalog = _catalog("id")
    missing = sorted(
        message
        for message in _source_messages()
        if message not in catalog or not catalog[message].string or catalog[message].fuzzy
    )
    assert not missing, "untranslated (run scripts/i18n.py extract and translate):\n" + "\n".join(missing)


def test_indonesian_is_the_default_and_english_is_one_switch_away(client) -> None:
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="id">' in page
    assert "Masuk" in page  # "Sign in"
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Sign in" in english


class _LanguageSwitch(HTMLParser):
    """The text of the language switch button and the ``lang`` it is marked up in."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[tuple[str | None, str]] = []
        self._lang: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "button" and "lang-switch" in (attributes.get("class") or "").split():
            self.depth = 1
            self._lang = [attributes.get("lang")]
        elif self.depth:
            self.depth += 1
            self._lang.append(attributes.get("lang") or self._lang[-1])

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1
            self._lang.pop()

    def handle_data(self, data: str) -> None:
        if self.depth and data.strip():
            self.parts.append((self._lang[-1], data.strip()))


def test_the_language_switch_names_the_other_language_in_that_language(client) -> None:
    """WCAG 3.1.2: a screen reader reads "English" with an English voice on an Indonesian page."""
    for accept, expected in (("id", ("en", "English")), ("en", ("id", "Bahasa Indonesia"))):
        switch = _LanguageSwitch()
        switch.feed(client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True))
        assert switch.parts == [expected], accept
