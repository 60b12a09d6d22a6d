"""The ``/telephony`` blueprint: Twilio webhooks (voice: :mod:`app.telephony.routes`; browser
legs: ``client_routes``; messaging: ``messaging_routes``) and the telephony simulator with the
agents' voice token (:mod:`app.telephony.simulator_routes`), all registered by the factory."""

from flask import Blueprint

bp = Blueprint("telephony", __name__, url_prefix="/telephony")
