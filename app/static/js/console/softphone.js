/*
 * The agent's softphone.
 *
 * With Twilio configured (the area says data-provider="twilio" and the page loads the vendored
 * Voice JS SDK 2.x), the console creates one `Twilio.Device` with a token from
 * /console/api/voice-token (identity `agent:<id>`), registers it, and keeps the token fresh on
 * `tokenWillExpire`. When the agent accepts an offer (the console dispatches
 * "halopmi:offer-accepted" with {work_item, screen_pop}), it calls the TwiML App with
 * `device.connect({params: {WorkItemId}})`; the app's client URL checks that this agent holds
 * that work item and joins the call's conference. Mute and hang-up act on that call; a transfer
 * or the call ending on the server hangs it up.
 *
 * Without Twilio (data-provider="simulator") the simulator's softphone plays the agent's leg
 * (the telephony simulator page): the area shows the identity the token was issued for.
 * Messages come from the page's i18n block (Bahasa Indonesia / English).
 */
(function () {
  "use strict";

  // Voice SDK error codes (node_modules/@twilio/voice-sdk/lib/twilio/errors/generated.ts).
  var MIC_ERRORS = [31401, 31402, 31208];
  var TOKEN_ERRORS = [20101, 20102, 20103, 20104, 20105, 20106, 20107, 20151, 20157, 31204, 31205, 31206, 31207];

  var area, provider, device = null, call = null, i18n = {};

  function $(id) { return document.getElementById(id); }

  function t(key, fallback) {
    if (!i18n.__loaded) {
      try { i18n = JSON.parse($("console-i18n").textContent); } catch (e) { i18n = {}; }
      i18n.__loaded = true;
    }
    return i18n[key] || fallback || key;
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function show(state, message) {
    if (!area) return;
    area.dataset.state = state;
    var status = $("softphone-status");
    if (status) status.textContent = message;
    var inCall = state === "connecting" || state === "in_call";
    $("softphone-mute").hidden = !inCall;
    $("softphone-hangup").hidden = !inCall;
    if (!inCall) setMuted(false);
  }

  function setMuted(muted) {
    var button = $("softphone-mute");
    button.setAttribute("aria-pressed", muted ? "true" : "false");
    button.textContent = muted ? t("softphone_unmute", "Unmute") : t("softphone_mute", "Mute");
  }

  function errorMessage(error) {
    var code = error && Number(error.code);
    if (MIC_ERRORS.indexOf(code) >= 0 || (error && error.name === "NotAllowedError")) {
      return t("softphone_mic_denied", "Microphone access was refused.");
    }
    if (TOKEN_ERRORS.indexOf(code) >= 0) return t("softphone_token_failed", "The softphone could not sign in.");
    return t("softphone_failed", "The softphone failed.") + (code ? " (" + code + ")" : "");
  }

  function fetchToken() {
    return fetch(area.dataset.tokenUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (!response.ok || !body.token) {
          var error = new Error((body.error && body.error.message) || t("softphone_token_failed", "token"));
          error.tokenFailure = true;
          throw error;
        }
        return body;
      });
    }, function () {
      var error = new Error(t("softphone_token_failed", "token"));
      error.tokenFailure = true;
      throw error;
    });
  }

  // --- Twilio Voice SDK ---------------------------------------------------------------------

  function startDevice() {
    if (!window.Twilio || typeof window.Twilio.Device !== "function") {
      show("error", t("softphone_unavailable", "The softphone is unavailable."));
      return;
    }
    show("starting", t("softphone_starting", "Starting the softphone…"));
    fetchToken().then(function (body) {
      device = new window.Twilio.Device(body.token, {
        closeProtection: true,
        codecPreferences: ["opus", "pcmu"],
        logLevel: "error"
      });
      window.halopmiDevice = device;
      device.on("registered", function () {
        if (!call) show("ready", t("softphone_ready", "Softphone ready") + ": " + body.identity);
      });
      device.on("error", function (error) { show("error", errorMessage(error)); });
      device.on("tokenWillExpire", function () {
        fetchToken().then(function (fresh) { device.updateToken(fresh.token); },
          function (error) { show("error", error.message); });
      });
      // Calls reach agents as offers in the console, never by ringing the browser directly.
      device.on("incoming", function (incoming) { incoming.reject(); });
      return device.register();
    }).catch(function (error) {
      show("error", error && error.tokenFailure ? error.message : errorMessage(error));
    });
  }

  function connect(workItem) {
    if (!device) {
      show("error", t("softphone_unavailable", "The softphone is unavailable."));
      return;
    }
    show("connecting", t("softphone_connecting", "Connecting…"));
    device.connect({ params: { WorkItemId: String(workItem.id) } }).then(function (current) {
      call = current;
      current.on("accept", function () { show("in_call", t("softphone_in_call", "On the call")); });
      current.on("mute", function (muted) { setMuted(muted); });
      var ended = function () {
        if (call === current) call = null;
        show("ready", t("softphone_ended", "Call ended"));
      };
      current.on("disconnect", ended);
      current.on("cancel", ended);
      current.on("reject", ended);
      current.on("error", function (error) { show("error", errorMessage(error)); });
    }, function (error) {
      call = null;
      show("error", errorMessage(error));
    });
  }

  function hangUp() {
    if (call) call.disconnect();
  }

  // --- simulator ----------------------------------------------------------------------------

  function simulatorAccepted() {
    fetchToken().then(function (body) {
      show("ready", t("softphone_ready", "Softphone ready") + ": " + (body.identity || ""));
    }, function (error) { show("error", error.message); });
  }

  function start() {
    area = $("softphone");
    if (!area) return;
    provider = area.dataset.provider;
    $("softphone-mute").addEventListener("click", function () {
      if (!call) return;
      call.mute(!call.isMuted());
      setMuted(call.isMuted());
    });
    $("softphone-hangup").addEventListener("click", hangUp);
    document.addEventListener("halopmi:offer-accepted", function (event) {
      var workItem = event.detail && event.detail.work_item;
      if (!workItem) return;
      if (provider === "twilio") connect(workItem); else simulatorAccepted();
    });
    // The server ended the call, or the agent handed it on: this leg is done.
    document.addEventListener("halopmi:call.ended", hangUp);
    document.addEventListener("halopmi:transferred", hangUp);
    if (provider === "twilio") startDevice();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
