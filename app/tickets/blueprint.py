"""The tickets blueprint (``/tickets``), the template helpers it installs, and the label tables
its pages read. Views register on it from :mod:`app.tickets.routes` and
:mod:`app.tickets.admin_routes`."""

from __future__ import annotations

from flask import Blueprint
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from app.core import vocabulary
from app.tickets.labels import category_label
from app.tickets.sentences import event_sentence
from app.tickets.titles import display_title

bp = Blueprint("tickets", __name__, url_prefix="/tickets")
# Templates name categories by their label, never by code (one table: app/tickets/labels.py).
bp.add_app_template_global(category_label, "category_label")
bp.add_app_template_global(event_sentence, "event_sentence")
bp.add_app_template_global(display_title, "ticket_title")

VIEW_LABELS = {
    "mine": _l("Mine"),
    "unassigned": _l("Unassigned"),
    "breaching": _l("Breaching soon"),
    "open": _l("All open"),
    "all": _l("All"),
}
# The tables live in the one vocabulary (app/core/vocabulary.py); these names stay for imports.
STATUS_LABELS = vocabulary.TICKET_STATUS
PRIORITY_LABELS = vocabulary.PRIORITY
EVENT_LABELS = vocabulary.EVENT
NOTIFICATION_KIND_LABELS = vocabulary.NOTIFICATION
# Our side of sending (Notification.status) and what the carrier reported (carrier_status).
SEND_LABELS = vocabulary.SEND_STATUS
CARRIER_LABELS = vocabulary.CARRIER_STATUS
# The label tables the ticket page reads.
TICKET_PAGE_LABELS = {
    "statuses": STATUS_LABELS,
    "priorities": PRIORITY_LABELS,
    "event_labels": EVENT_LABELS,
    "notification_labels": NOTIFICATION_KIND_LABELS,
    "send_labels": SEND_LABELS,
    "carrier_labels": CARRIER_LABELS,
}


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # tickets hold personal data
    return response
