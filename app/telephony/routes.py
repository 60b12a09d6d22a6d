"""Twilio webhooks (signature-checked, CSRF-exempt) and the telephony simulator."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("telephony", __name__, url_prefix="/telephony")
