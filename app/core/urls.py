"""URL helpers shared by routes."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_redirect_target(target: str | None) -> str | None:
    """Only same-site relative paths: never an open redirect.

    Browsers read a backslash as a slash and drop tabs and newlines inside URLs, so
    ``/\\evil.example`` or ``/\\t/evil.example`` would leave the site: refuse them outright.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target
