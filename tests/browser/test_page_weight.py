"""Page weight: each worker-facing page transfers under 150 KB, measured on the wire in Chromium.

Workers abroad are often on slow, metered mobile data. For each page in
:data:`tests.browser.portal_pages.PORTAL_PAGES` a fresh, phone-sized browser context loads it
with the HTTP cache disabled (a first visit) and, through the Chrome DevTools Protocol, adds up
what the network service reports as received: ``encodedDataLength`` of every response (status
line, headers and body as sent, i.e. compressed when the server compresses), of every redirect,
and of WebSocket frames. Nothing on the page is pressed, so this is the weight "before any call
is placed". The figures are printed for each page (and kept in test-artifacts/page-weight.txt).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from tests.browser.conftest import ROOT, TIMEOUT_MS, screenshot
from tests.browser.portal_pages import PORTAL_PAGES, PortalPage
from tests.live import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BUDGET_BYTES = 150_000  # "under 150 KB", in the kB (1000 bytes) DevTools shows
FIGURES = ROOT / "test-artifacts" / "page-weight.txt"


class WireMeter:
    """Bytes received by one page, from CDP Network events (cache disabled)."""

    def __init__(self, context: Any, page: Any) -> None:
        self.urls: dict[str, str] = {}
        self.finished: dict[str, int] = {}
        self.partial: defaultdict[str, int] = defaultdict(int)
        self.redirects = 0
        self.failed: list[str] = []  # bytes spent on nothing: a missing icon, a broken link
        self.frames = 0
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.clearBrowserCache")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.on("Network.requestWillBeSent", self._request)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.webSocketFrameReceived", self._frame)
        self.cdp = cdp

    def _request(self, event: dict[str, Any]) -> None:
        redirect = event.get("redirectResponse")
        if redirect is not None:  # the same requestId goes on; its redirect is not "finished"
            self.redirects += int(redirect.get("encodedDataLength", 0))
        self.urls[event["requestId"]] = event["request"]["url"]

    def _response(self, event: dict[str, Any]) -> None:
        if int(event["response"]["status"]) >= 400:
            self.failed.append(f"{event['response']['status']} {event['response']['url']}")
        # Headers so far; replaced by the total when the request finishes.
        self.partial[event["requestId"]] += int(event["response"].get("encodedDataLength", 0))

    def _data(self, event: dict[str, Any]) -> None:
        self.partial[event["requestId"]] += int(event.get("encodedDataLength", 0))

    def _finished(self, event: dict[str, Any]) -> None:
        self.finished[event["requestId"]] = int(event["encodedDataLength"])

    def _frame(self, event: dict[str, Any]) -> None:
        self.frames += len(event["response"].get("payloadData", ""))

    def per_url(self) -> list[tuple[str, int]]:
        ids = set(self.finished) | set(self.partial)
        sizes = [(self.urls.get(i, i), self.finished.get(i, self.partial.get(i, 0))) for i in ids]
        sizes = [(url, size) for url, size in sizes if not url.startswith("data:")]  # inline, 0 bytes
        return sorted(sizes, key=lambda item: -item[1])

    def total(self) -> int:
        return sum(size for _, size in self.per_url()) + self.redirects + self.frames


@pytest.fixture(scope="module", autouse=True)
def _fresh_figures() -> None:
    """This run's figures only (each page appends its own)."""
    FIGURES.unlink(missing_ok=True)


def _report(name: str, path: str, meter: WireMeter, base_url: str) -> str:
    lines = [f"{name} ({path}): {meter.total() / 1000:.1f} KB on the wire"]
    lines += [f"    {size / 1000:7.1f} KB  {url.removeprefix(base_url)}" for url, size in meter.per_url()]
    if meter.redirects:
        lines.append(f"    {meter.redirects / 1000:7.1f} KB  (redirects)")
    if meter.frames:
        lines.append(f"    {meter.frames / 1000:7.1f} KB  (WebSocket frames)")
    return "\n".join(lines)


@pytest.mark.parametrize("portal_page", PORTAL_PAGES, ids=lambda p: p.name.replace(" ", "-"))
def test_portal_page_transfers_under_the_budget(
    portal_page: PortalPage, browser: Any, live_server: LiveServer, capsys: pytest.CaptureFixture[str]
) -> None:
    context = browser.new_context(
        base_url=live_server.url, locale="id-ID", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        path = portal_page.open(page)
        meter = WireMeter(context, page)
        response = page.goto(path, wait_until="load")
        assert response is not None and response.status == 200, f"{path}: {response and response.status}"
        # Whatever the page fetches by itself after "load" counts too (but nothing is pressed).
        page.wait_for_load_state("networkidle")
        screenshot(page, f"page-weight-{portal_page.name}")
        report = _report(portal_page.name, path, meter, live_server.url)
    finally:
        context.close()
    with capsys.disabled():
        print("\n" + report)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a", encoding="utf-8") as fh:
        fh.write(report + "\n")
    assert errors == [], f"JavaScript errors on {path}: {errors}"
    assert meter.total() > 0, f"nothing measured on {path}: the meter is broken"
    assert meter.failed == [], f"{path} fetches what does not exist: {meter.failed}"
    assert meter.total() < BUDGET_BYTES, (
        f"{portal_page.name} transfers {meter.total() / 1000:.1f} KB, over the "
        f"{BUDGET_BYTES / 1000:.0f} KB budget:\n{report}"
    )
