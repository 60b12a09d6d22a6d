"""Which provider this app talks to: an override a test put in ``app.extensions``, Twilio when an
account is configured, else the simulator (:mod:`app.telephony.provider` is the seam)."""

from __future__ import annotations

from flask import Flask, current_app

from app.telephony.provider import Provider
from app.telephony.signature import twilio_configured
from app.telephony.simulated_provider import SimulatorProvider
from app.telephony.twilio_provider import TwilioProvider


def get_provider(app: Flask | None = None) -> Provider:
    app = app or current_app
    override = app.extensions.get("telephony_provider")
    if override is not None:
        return override
    if twilio_configured(app):
        return TwilioProvider(app.config)
    return SimulatorProvider(app.config.get("REDIS_URL"))
