"""The worker-facing blueprint: its pages live in :mod:`app.portal.routes` (complaints, the case)
and :mod:`app.portal.calls` (Click-to-Call), both registered by the application factory."""

from flask import Blueprint

bp = Blueprint("portal", __name__)
