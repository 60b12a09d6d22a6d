/* A call-back's status page (app/templates/portal/callback_status.html): follows the request live.
 * The page re-renders (reload) when the phase changes; in practice mode (no Twilio account) it
 * also plays her phone: when the app dials her number the simulated phone rings here, and she
 * answers or hangs up with the page's buttons. */
(function () {
  "use strict";

  var area, i18n = {}, timer = null, busy = false;

  function $(id) { return document.getElementById(id); }
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function request(url, method) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: method === "POST" ? "{}" : undefined
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.json();
    });
  }

  function onPhone(text) {
    $("ringing").hidden = true;
    $("on-phone").hidden = false;
    $("on-phone-text").textContent = text;
  }

  function live(body) {
    // While her (simulated) phone rings or is in a call, the page follows without reloading.
    if ($("phase").textContent !== body.label) $("phase").textContent = body.label;
    var cancel = $("cancel-form");
    if (cancel) cancel.hidden = true;
    // "The next free agent will call you" no longer holds once her phone rings.
    var waitingText = $("phase-text");
    if (waitingText) waitingText.hidden = true;
  }

  function show(body) {
    var leg = body.leg;
    if (leg && !leg.ended) live(body);
    if (leg && leg.ringing) {
      if ($("ringing").hidden) { $("ringing").hidden = false; $("answer-button").focus(); }
      $("on-phone").hidden = true;
      return;
    }
    if (leg && !leg.ended) {
      onPhone(leg.connected ? i18n.connected : i18n.answering);
      return;
    }
    $("ringing").hidden = true;
    if (body.phase !== area.dataset.phase) window.location.reload();
  }

  function poll() {
    if (busy) return;
    request(area.dataset.stateUrl, "GET").then(show, function () { /* next poll tries again */ });
  }

  function start() {
    area = $("callback");
    if (!area) return;
    i18n = JSON.parse($("callback-i18n").textContent);
    $("answer-button").addEventListener("click", function () {
      busy = true;
      onPhone(i18n.answering);
      request(area.dataset.answerUrl, "POST").then(function () { busy = false; poll(); }, function () {
        busy = false;
        onPhone(i18n.failed);
      });
    });
    $("phone-hangup").addEventListener("click", function () {
      busy = true;
      request(area.dataset.hangupUrl, "POST").then(function () {
        busy = false;
        onPhone(i18n.ended);
        poll();
      }, function () { busy = false; });
    });
    poll();
    timer = window.setInterval(poll, 2000);
    window.addEventListener("pagehide", function () { window.clearInterval(timer); });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
