"""Category labels (kept importable here; the tables live in :mod:`app.core.vocabulary`).

Each category has two phrasings, translated like any other text: ``staff`` for the agent
workspace, the console and canned replies ("JKK claim (work accident)"), and ``public`` for
workers on the portal, which speaks to them ("Correcting my data").
"""

from __future__ import annotations

from typing import Any, NamedTuple

from app.core.vocabulary import CATEGORY, CATEGORY_PUBLIC, label
from app.tickets.models import CATEGORIES


class CategoryLabel(NamedTuple):
    staff: Any  # lazy strings: translated when shown
    public: Any


CATEGORY_LABELS: dict[str, CategoryLabel] = {
    code: CategoryLabel(CATEGORY[code], CATEGORY_PUBLIC[code]) for code in CATEGORIES
}


def category_label(code: str | None, audience: str = "staff") -> str:
    """The label of ``code`` in the current language (``audience``: staff or public)."""
    if not code:
        return ""
    return label(code, "category_public" if audience == "public" else "category")


def category_choices(audience: str = "staff") -> list[tuple[str, str]]:
    """(code, label) for every category, in the vocabulary's order (for selects)."""
    return [(code, category_label(code, audience)) for code in CATEGORIES]
