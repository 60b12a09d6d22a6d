"""The agent console: live queue, presence, offers, softphone, screen pop, wrap-up.

``api`` (the blueprint and its JSON errors), ``views`` (what the console shows, assembled),
``routes`` (the page and its JSON API) and ``softphone`` (the simulator softphone's routes).
"""

from app.console import routes, softphone  # noqa: F401 - register the blueprint's routes
from app.console.api import bp
from app.console.views import LANGUAGES, local_time

__all__ = ["LANGUAGES", "bp", "local_time"]
