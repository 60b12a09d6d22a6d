"""Staff pages for member records: search, the member page, and revealing one identifier.

Identifiers are shown masked; the real value of one field is handed out only on an explicit
POST by someone holding ``pii.reveal``, and every such view is audited (UU 27/2022). The search
form posts, so NIKs and phone numbers typed by agents stay out of URLs, browser history and
proxy logs; ``GET /records/?q=…`` still works for links from other pages.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, jsonify, render_template, request
from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from werkzeug.wrappers import Response

from app.core import vocabulary
from app.core.i18n import _
from app.core.policy import require, wants_json
from app.extensions import db
from app.records import services
from app.records.identifiers import IdentifierError
from app.records.schemas import parse_date

bp = Blueprint("records", __name__, url_prefix="/records")

PHASE_LABELS = vocabulary.PHASE
CLAIM_STATUS_LABELS = vocabulary.CLAIM_STATUS
MEMBERSHIP_LABELS = vocabulary.MEMBERSHIP
FIELD_LABELS = {
    "nik": _l("NIK"),
    "passport": _l("Passport"),
    "phone_id": _l("Phone in Indonesia"),
    "phone_abroad": _l("Phone abroad"),
    "email": _l("Email"),
    "bank_account": _l("Bank account"),
}
REASON_LABELS = {
    "kpj": _l("KPJ"),
    "nik": _l("NIK"),
    "passport": _l("passport"),
    "phone": _l("phone"),
    "name": _l("name"),
    "birth_date": _l("birth date"),
    "conflict": _l("identifiers disagree"),
}
# How each revealable field is masked on screen (kinds of app.core.masking.mask).
MASK_KINDS = {
    "nik": "nik",
    "passport": "passport",
    "phone_id": "phone",
    "phone_abroad": "phone",
    "email": "email",
    "bank_account": "account",
}


@bp.after_request
def _no_store(response: Response) -> Response:
    # Member pages hold personal data: no browser or proxy may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


country_name = vocabulary.country_name  # kept for imports; pages use the global of that name


@bp.app_template_filter("rupiah")
def rupiah(amount: int | None) -> str:
    """Integer rupiah for people: ``Rp 12.500.000`` (separators follow the page language)."""
    if amount is None:
        return ""
    return f"Rp {format_decimal(amount)}"


def _labels() -> dict[str, Any]:
    return {
        "phase_labels": PHASE_LABELS,
        "status_labels": CLAIM_STATUS_LABELS,
        "membership_labels": MEMBERSHIP_LABELS,
        "field_labels": FIELD_LABELS,
        "reason_labels": REASON_LABELS,
        "mask_kinds": MASK_KINDS,
        "revealable": services.REVEALABLE_FIELDS,
    }


@bp.route("/", methods=["GET", "POST"])
@require("records.view")
def search():
    """One search box: KPJ, NIK, passport, phone or name, detected from what was typed."""
    values = request.form if request.method == "POST" else request.args
    text = (values.get("q") or "").strip()
    birth_text = (values.get("birth_date") or "").strip()
    context: dict[str, Any] = {"q": text, "birth_date": birth_text, "result": None, "error": None}
    if not text:
        return render_template("records/search.html", **context, **_labels())
    birth_date: date | None = None
    if birth_text:
        birth_date = parse_date(birth_text)
        if birth_date is None:
            context["error"] = _("The birth date is not a date (use YYYY-MM-DD).")
            return render_template("records/search.html", **context, **_labels()), 400
    try:
        context["result"] = services.search_members(text, birth_date)
    except IdentifierError as exc:
        context["error"] = exc.message
        return render_template("records/search.html", **context, **_labels()), 400
    return render_template("records/search.html", **context, **_labels())


def _member_or_404(member_id: int) -> Any:
    member = services.get_member(member_id)
    if member is None:
        abort(404)
    return member


@bp.get("/members/<int:member_id>")
@require("records.view")
def member(member_id: int):
    """Facts, coverage and claims of one member; identifiers masked."""
    found = _member_or_404(member_id)
    return render_template(
        "records/member.html", member=found, summary=services.member_summary(found), revealed={}, **_labels()
    )


@bp.post("/members/<int:member_id>/reveal")
@require("pii.reveal")
def reveal(member_id: int):
    """The real value of one identifier (``field`` in the form), audited as ``pii.view``."""
    found = _member_or_404(member_id)
    field = request.form.get("field", "")
    try:
        value = services.reveal(found, field, actor_id=int(current_user.id))
    except services.UnknownField:
        abort(400)
    db.session.commit()
    if wants_json():
        return jsonify(field=field, value=value)
    return render_template(
        "records/member.html",
        member=found,
        summary=services.member_summary(found),
        revealed={field: value},
        **_labels(),
    )
