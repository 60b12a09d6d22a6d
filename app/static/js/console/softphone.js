/*
 * Softphone area: the hook where telephony's Twilio Voice JS SDK (or the simulator softphone)
 * plugs in. The console dispatches "halopmi:offer-accepted" with {work_item, screen_pop} when the
 * agent accepts; this module asks for a voice token and hands both to
 * `window.halopmiSoftphone.connect(token, workItem)` if telephony has installed one.
 * Without telephony the token endpoint answers 503 and the area says so.
 */
(function () {
  "use strict";

  function t(key, fallback) {
    try {
      return JSON.parse(document.getElementById("console-i18n").textContent)[key] || fallback;
    } catch (e) {
      return fallback;
    }
  }

  function status(text) {
    var element = document.getElementById("softphone-status");
    if (element) element.textContent = text;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  document.addEventListener("halopmi:offer-accepted", function (event) {
    var area = document.getElementById("softphone");
    if (!area) return;
    var workItem = event.detail && event.detail.work_item;
    fetch(area.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (result) {
      if (!result.ok) {
        status((result.body.error && result.body.error.message) || t("softphone_unavailable", "unavailable"));
        return;
      }
      if (window.halopmiSoftphone && typeof window.halopmiSoftphone.connect === "function") {
        window.halopmiSoftphone.connect(result.body, workItem);
      } else {
        status(t("softphone_ready", "ready") + ": " + (result.body.identity || ""));
      }
    }).catch(function () { status(t("softphone_unavailable", "unavailable")); });
  });
})();
