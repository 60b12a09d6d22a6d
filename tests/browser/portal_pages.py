"""The worker-facing pages that the page-weight and accessibility tests visit, in one list.

Both ``test_page_weight.py`` and ``test_accessibility.py`` are parametrised over
:data:`PORTAL_PAGES`, so a new public page is covered by both once it has a line here:

* a page reached by its address: ``PortalPage("click-to-call", "/call")``;
* a page that needs data or a sign-in first: ``PortalPage("call-back status", opener=open_x)``
  where ``open_x(page) -> str`` creates what the page shows *through the services* (committed,
  so the live server sees it), does in the browser what a worker does to reach it (a form, a
  redirect), and returns the address to load. :func:`open_case` is the example.

For the Click-to-Call pages, two lines in :data:`PORTAL_PAGES` (below) and, for the status page,
an opener that asks for a call-back the way a worker does (selectors and address as built)::

    def open_callback_status(page: Any) -> str:
        page.goto("/call")
        page.fill("#cb-phone", PHONE)            # the call-back form's fields
        page.click("#callback-form button[type=submit]")
        expect(page).to_have_url(re.compile(r"/call/back/"))   # its status page
        return page.url                          # the address (absolute is fine)

    PortalPage("click-to-call", "/call"),
    PortalPage("call-back status", opener=open_callback_status),

An opener runs inside the test's app context (the ``app`` fixture), on the same database as the
live server, in the same browser context as the measurement, so cookies it obtains count as the
worker's. What it loads itself is not measured: only the final ``page.goto`` of the address it
returns is, with the browser cache emptied.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import expect

from app.extensions import db
from tests.live import staff_user

PHONE = "+966551233048"
KPJ = "26000000042"


@dataclass(frozen=True)
class PortalPage:
    """A page a worker opens; ``path`` or ``opener`` (which returns the path) says how."""

    name: str
    path: str | None = None
    opener: Callable[[Any], str] | None = None

    def open(self, page: Any) -> str:
        """Prepare what the page needs and return the address to load."""
        if self.opener is not None:
            return self.opener(page)
        assert self.path is not None, f"{self.name}: a path or an opener"
        return self.path


def open_case(page: Any) -> str:
    """A real complaint filed through the portal's service, with a public answer from an agent,
    then the worker signs in to it with the tracking form (reference + phone on file)."""
    from app.tickets import intake, schemas, services

    result = schemas.validate_complaint(
        {
            "name": "Siti Rahayu",
            "phone": PHONE,
            "kpj": KPJ,
            "country": "SA",
            "category": "claim_jkk",
            "description": "Majikan saya menahan dokumen saya dan saya tidak bisa mengklaim JKK.",
            "language": "id",
        }
    )
    assert result.ok, result.errors
    ticket = intake.file_complaint(result.clean, channel="portal")
    db.session.commit()
    agent = staff_user("agent", name="Dewi Lestari")
    services.reply(ticket, "Kami sudah menerima dokumen Anda dan sedang memeriksanya.", actor_id=agent.id)
    db.session.commit()
    reference = ticket.reference

    page.goto("/complaints/track")
    page.fill("#f-reference", reference)
    page.fill("#f-verification", PHONE)
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(re.escape(f"/complaints/{reference}") + "$"))
    # The URL changes when the answer starts; wait for it to finish loading, or the caller's
    # next goto aborts this navigation (net::ERR_ABORTED, seen once in CI).
    page.wait_for_load_state("load")
    return f"/complaints/{reference}"


def open_complaint_received(page: Any) -> str:
    """The worker files a complaint with the real form; the page after it shows her reference."""
    page.goto("/complaints/new")
    page.fill("#f-name", "Siti Rahayu")
    page.fill("#f-phone", PHONE)
    page.select_option("#f-country", "SA")
    page.select_option("#f-category", "claim_jkk")
    page.fill("#f-description", "Majikan saya menahan dokumen saya dan saya tidak bisa mengklaim JKK.")
    page.click("form.card button[type=submit]")
    expect(page).to_have_url(re.compile(r"/complaints/done$"))
    # The URL changes when the answer starts; wait for it to finish loading, or the caller's
    # next goto aborts this navigation (net::ERR_ABORTED, seen once in CI).
    page.wait_for_load_state("load")
    return "/complaints/done"


def open_callback_status(page: Any) -> str:
    """The worker asks for a call-back with the real form (a Hong Kong mobile); the status page
    of her request is where the form sends her."""
    page.goto("/call/back")
    page.select_option("#f-country", "HK")
    page.fill("#f-number", "9123 4567")
    page.select_option("#f-topic", "claim_jkm")
    page.click("main form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/call/back/[^/?#]+$"))
    # The URL changes when the answer starts; wait for it to finish loading, or the caller's
    # next goto aborts this navigation (net::ERR_ABORTED, seen once in CI).
    page.wait_for_load_state("load")
    return urlsplit(page.url).path


PORTAL_PAGES: list[PortalPage] = [
    PortalPage("home", "/"),
    PortalPage("click-to-call", "/call"),
    PortalPage("call-back form", "/call/back"),
    PortalPage("call-back status", opener=open_callback_status),
    PortalPage("complaint form", "/complaints/new"),
    PortalPage("complaint received", opener=open_complaint_received),
    PortalPage("follow your case", "/complaints/track"),
    PortalPage("case", opener=open_case),
]
