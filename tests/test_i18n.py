"""Every user-facing string exists in Bahasa Indonesia and English."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHOD_MAP = [("app/**.py", "python"), ("templates/**.html", "jinja2")]
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
    assert 'lang="id"' in page
    assert "Masuk" in page  # "Sign in"
    english = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="en"' in english
    assert "Sign in" in english
