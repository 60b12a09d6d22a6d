"""The ``/telephony`` blueprint: Twilio webhooks (:mod:`app.telephony.routes`) and the telephony
simulator with the agents' voice token (:mod:`app.telephony.simulator_routes`), both registered
by the application factory."""

from flask import Blueprint

bp = Blueprint("telephony", __name__, url_prefix="/telephony")
