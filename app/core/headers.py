"""Security headers on every response, and a Content-Security-Policy with a nonce per request.

Flask-Talisman writes them. The policy allows scripts only from this site or with this
request's nonce (templates write ``<script nonce="{{ csp_nonce() }}">``): no inline handlers,
no ``eval``. The Twilio Voice SDK is served from our own static files; what it reaches at run
time is named below from Twilio's documentation (signalling over ``wss://*.twilio.com``, call
quality reports to ``eventgw.twilio.com``, ring tones from ``sdk.twilio.com``). Socket.IO
connects to this same origin. Pages cannot be framed (``frame-ancestors 'none'``).

HSTS is sent only on HTTPS requests (behind a proxy, ``PROXY_COUNT`` makes Flask see them as
such); redirecting HTTP to HTTPS is the proxy's job, so ``force_https`` stays off. The session
cookie's ``Secure`` flag comes from our own configuration (production sets it).

Styles come only from our own style sheets: no ``<style>`` blocks and no ``style=`` attributes
in the templates (bars and legend keys are drawn with SVG attributes, ``templates/_charts.html``;
scripts may still set ``element.style``, which the policy allows). A test checks the templates.
"""

from __future__ import annotations

from flask import Flask

from app.extensions import talisman

CONTENT_SECURITY_POLICY: dict[str, str | list[str]] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "font-src": "'self'",
    "connect-src": ["'self'", "wss://*.twilio.com", "https://eventgw.twilio.com"],
    "media-src": ["'self'", "blob:", "https://sdk.twilio.com"],
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
PERMISSIONS_POLICY = {
    "microphone": "(self)",  # the worker's Click-to-Call and the agent's softphone
    "camera": "()",
    "geolocation": "()",
    "payment": "()",
}


def install(app: Flask) -> None:
    talisman.init_app(
        app,
        force_https=False,
        strict_transport_security=True,
        strict_transport_security_include_subdomains=False,
        session_cookie_secure=bool(app.config.get("SESSION_COOKIE_SECURE")),
        session_cookie_http_only=True,
        frame_options="DENY",
        content_security_policy=CONTENT_SECURITY_POLICY,
        content_security_policy_nonce_in=["script-src"],
        referrer_policy="strict-origin-when-cross-origin",
        permissions_policy=PERMISSIONS_POLICY,
    )
