"""Staff screens name categories by their translated label, from one table (app/core/vocabulary.py,
still importable from app/tickets/labels.py)."""

from __future__ import annotations

import html as html_lib
import json
import re
from pathlib import Path

from flask_babel import force_locale

from app.tickets import services
from app.tickets.labels import CATEGORY_LABELS, category_choices, category_label
from app.tickets.models import CATEGORIES, CannedReply
from tests.conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
JKK_ID = "Klaim JKK (kecelakaan kerja)"


def _texts(page: str) -> str:
    """The visible text of a page (no attribute values, no tags)."""
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_every_category_has_both_labels_in_both_languages(app):
    assert list(CATEGORY_LABELS) == list(CATEGORIES)
    with app.test_request_context():
        for lang in ("id", "en"):
            with force_locale(lang):
                for code in CATEGORIES:
                    for audience in ("staff", "public"):
                        label = category_label(code, audience)
                        assert label and label != code, (lang, code, audience)
        with force_locale("id"):
            assert category_label("claim_jkk") == JKK_ID
            assert category_label("claim_jkk", "public") == "Klaim Jaminan Kecelakaan Kerja (JKK)"
            assert [code for code, _label in category_choices()] == list(CATEGORIES)
        with force_locale("en"):
            assert category_label("claim_jkk") == "JKK claim (work accident)"
        assert category_label("no_such_code") == "no such code"  # words, never a code


def test_no_other_module_keeps_its_own_category_label_table():
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        if path.name == "vocabulary.py" and path.parent.name == "core":
            continue
        text = path.read_text()
        if re.search(r'"claim_jkk"\s*:\s*_l?\(', text) or "Work accident claim" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_ticket_list_filters_and_counts_use_labels(client, auth, db):
    auth.login_as("agent", language="id")  # the staff default language
    services.open_ticket(channel="portal", category="claim_jkk", subject="tangan patah", country="MY")
    db.session.commit()
    page = client.get("/tickets/?view=open").get_data(as_text=True)
    text = _texts(page)
    assert re.search(r'<td data-category="claim_jkk">\s*' + re.escape(JKK_ID), page)
    assert f'<option value="claim_jkk" >{JKK_ID}</option>' in page
    assert f"{JKK_ID} · Malaysia" in text  # the "by category and country" counts, country by name
    assert '<option value="MY" selected>' not in page and ">Malaysia</option>" in page
    assert "claim_jkk" not in text
    rows = client.get("/tickets/?view=open", headers={"Accept": "application/json"}).get_json()["tickets"]
    assert rows[0]["category"] == "claim_jkk" and rows[0]["category_label"] == JKK_ID


def test_the_ticket_page_and_its_history_use_labels(client, auth, db):
    auth.login_as("agent", language="id")
    ticket = services.open_ticket(channel="portal", category="other", subject="x", requester_phone="+85291234567")
    db.session.commit()
    token = csrf_token(client, f"/tickets/{ticket.id}")
    response = client.post(
        f"/tickets/{ticket.id}/fields",
        data={
            "csrf_token": token,
            "version": ticket.version,
            "seen_event": services.timeline(ticket)[-1].id,
            "category": "claim_jkk",
            "priority": "high",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/tickets/{ticket.id}").get_data(as_text=True)
    text = _texts(page)
    assert f'data-category="claim_jkk">{JKK_ID}</span>' in page
    assert f"Kategori: Lainnya → {JKK_ID}" in " ".join(text.split())
    assert "claim_jkk" not in text and "category:" not in text


def test_canned_replies_show_category_labels(client, auth, db):
    auth.login_as("supervisor", language="id")
    db.session.add(CannedReply(title="Formulir JKK", body="Silakan isi formulir.", language="id", category="claim_jkk"))
    db.session.commit()
    page = client.get("/tickets/canned").get_data(as_text=True)
    assert JKK_ID in _texts(page) and "claim_jkk" not in _texts(page)
    assert f'<option value="claim_jkk" >{JKK_ID}</option>' in page


def test_the_console_gets_the_label_table_for_topics_and_categories(client, auth):
    auth.login_as("agent", language="id")
    page = client.get("/console/").get_data(as_text=True)
    raw = re.search(r'<script type="application/json" id="console-i18n">(.*?)</script>', page, re.S)
    assert raw is not None
    labels = json.loads(html_lib.unescape(raw.group(1)))["categories"]
    assert labels["claim_jkk"] == JKK_ID and set(labels) == set(CATEGORIES)
    script = (ROOT / "app/static/js/console/console.js").read_text()
    # Every place the console prints a topic or category goes through the label lookup.
    assert not re.search(r"[^(]item\.topic\b(?!\))", script.replace("category(item.topic)", ""))
    assert "category(current.category)" in script and "category(ticket.category)" in script


def test_the_portal_keeps_the_workers_wording(client):
    page = client.get("/complaints/new").get_data(as_text=True)
    assert "Klaim Jaminan Kecelakaan Kerja (JKK)" in page and JKK_ID not in page
