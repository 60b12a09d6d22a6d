"""Staff pages for member records (filled in by the records work)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("records", __name__, url_prefix="/records")


@bp.get("/")
def search():  # type: ignore[no-untyped-def]
    # Placeholder until the records pages land in this same change.
    from flask import abort

    abort(404)
