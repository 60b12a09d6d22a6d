"""The public landing page for workers."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("portal", __name__)


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    return render_template("portal/index.html")
