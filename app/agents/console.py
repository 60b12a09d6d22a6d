"""The agent console: live queue, presence, softphone, screen pop."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console")
