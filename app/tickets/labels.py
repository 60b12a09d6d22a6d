"""The one table of category labels (codes in ``app.tickets.models.CATEGORIES``).

Each category has two phrasings, translated like any other text: ``staff`` for the agent
workspace, the console and canned replies ("JKK claim (work accident)"), and ``public`` for
workers on the portal ("Work accident claim (JKK)"), which speaks to them ("Correcting my data").
Screens use :func:`category_label`; nothing else keeps its own copy.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from flask_babel import lazy_gettext as _l

from app.tickets.models import CATEGORIES


class CategoryLabel(NamedTuple):
    staff: Any  # lazy strings: translated when shown
    public: Any


CATEGORY_LABELS: dict[str, CategoryLabel] = {
    "membership": CategoryLabel(_l("Membership / registration"), _l("Membership / registration")),
    "contribution": CategoryLabel(_l("Contributions / payment"), _l("Contribution / payment")),
    "claim_jkk": CategoryLabel(_l("JKK claim (work accident)"), _l("Work accident claim (JKK)")),
    "claim_jkm": CategoryLabel(_l("JKM claim (death benefit)"), _l("Death benefit claim (JKM)")),
    "claim_jht": CategoryLabel(_l("JHT claim (old-age savings)"), _l("Old-age savings claim (JHT)")),
    "benefit_info": CategoryLabel(_l("Benefit information"), _l("Benefit information")),
    "data_correction": CategoryLabel(_l("Data correction"), _l("Correcting my data")),
    "app_access": CategoryLabel(_l("App or account access"), _l("App or account access")),
    "service_complaint": CategoryLabel(_l("Service complaint"), _l("Complaint about our service")),
    "emergency": CategoryLabel(
        _l("Emergency"),
        _l("Emergency (accident, death, violence, detention, lost contact, unpaid wages)"),
    ),
    "other": CategoryLabel(_l("Other"), _l("Other")),
}


def category_label(code: str | None, audience: str = "staff") -> str:
    """The label of ``code`` in the current language (``audience``: staff or public); an
    unknown code is shown as it is."""
    if not code:
        return ""
    labels = CATEGORY_LABELS.get(code)
    if labels is None:
        return code
    return str(labels.public if audience == "public" else labels.staff)


def category_choices(audience: str = "staff") -> list[tuple[str, str]]:
    """(code, label) for every category, in the vocabulary's order (for selects)."""
    return [(code, category_label(code, audience)) for code in CATEGORIES]
