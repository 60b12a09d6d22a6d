/*
 * The agent's softphone: one panel (status, call timer, mute, hang up, keypad) and two
 * transports behind one interface, chosen by the area's data-provider:
 *
 *  - "twilio": one `Twilio.Device` (the vendored Voice JS SDK 2.x) with a token from
 *    /console/api/voice-token (identity `agent:<id>`), registered and kept fresh on
 *    `tokenWillExpire`. On accept it calls the TwiML App with `device.connect({params:
 *    {WorkItemId}})`; the app's client URL checks that this agent holds that work item and
 *    joins the call's conference.
 *  - "simulator" (no Twilio account): the server's telephony simulator places the same client
 *    call for this agent (/console/api/softphone/join) and moves the simulated line on while
 *    the leg lives (/console/api/softphone/sync, about once a second). The server knows the
 *    leg, so a reload in the middle of a call restores the panel from /console/api/state.
 *
 * A transport reports through `update(state, extra)`: "connecting", "in_call", "ended",
 * "error". The console dispatches "halopmi:offer-accepted" ({work_item, screen_pop}) and
 * "halopmi:state" (the whole console state); this module dispatches "halopmi:softphone" with
 * the state it shows. Messages come from the page's i18n block (Bahasa Indonesia / English).
 */
(function () {
  "use strict";

  // Voice SDK error codes (node_modules/@twilio/voice-sdk/lib/twilio/errors/generated.ts).
  var MIC_ERRORS = [31401, 31402, 31208];
  var TOKEN_ERRORS = [20101, 20102, 20103, 20104, 20105, 20106, 20107, 20151, 20157, 31204, 31205, 31206, 31207];
  var SYNC_MS = 1000;

  var area, transport, i18n = {}, shown = "idle", connectedSince = null, timer = null;

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

  // --- the panel ----------------------------------------------------------------------------

  var MESSAGES = {
    idle: ["softphone_idle", "The softphone connects when you accept a call."],
    starting: ["softphone_starting", "Starting the softphone…"],
    ready: ["softphone_ready", "Softphone ready"],
    connecting: ["softphone_connecting", "Connecting the call…"],
    in_call: ["softphone_in_call", "On the call"],
    ended: ["softphone_ended", "Call ended"]
  };

  function clock() {
    var out = $("softphone-timer");
    if (!out) return;
    if (!connectedSince) { out.textContent = ""; return; }
    var seconds = Math.max(0, Math.round((Date.now() - connectedSince) / 1000));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    out.textContent = m + ":" + (s < 10 ? "0" : "") + s;
  }

  function update(state, message) {
    if (!area) return;
    if (state === "in_call" && shown !== "in_call") connectedSince = Date.now();
    if (state !== "in_call") connectedSince = null;
    shown = state;
    area.dataset.state = state;
    var words = MESSAGES[state];
    $("softphone-status").textContent = message || (words ? t(words[0], words[1]) : state);
    var live = state === "connecting" || state === "in_call";
    $("softphone-mute").hidden = !live;
    $("softphone-hangup").hidden = !live;
    $("softphone-keypad-toggle").hidden = state !== "in_call";
    if (state !== "in_call") $("softphone-keypad").hidden = true;
    if (!live) setMuted(false);
    clock();
    if (live && !timer) timer = setInterval(clock, 1000);
    if (!live && timer) { clearInterval(timer); timer = null; }
    document.dispatchEvent(new CustomEvent("halopmi:softphone", { detail: { state: state } }));
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

  // --- transport: Twilio Voice SDK -----------------------------------------------------------

  function twilioTransport() {
    var device = null, call = null;

    function start() {
      if (!window.Twilio || typeof window.Twilio.Device !== "function") {
        update("error", t("softphone_unavailable", "The softphone is unavailable."));
        return;
      }
      update("starting");
      fetchToken().then(function (body) {
        device = new window.Twilio.Device(body.token, {
          closeProtection: true,
          codecPreferences: ["opus", "pcmu"],
          logLevel: "error"
        });
        window.halopmiDevice = device;
        device.on("registered", function () {
          if (!call) update("ready", t("softphone_ready", "Softphone ready") + ": " + body.identity);
        });
        device.on("error", function (error) { update("error", errorMessage(error)); });
        device.on("tokenWillExpire", function () {
          fetchToken().then(function (fresh) { device.updateToken(fresh.token); },
            function (error) { update("error", error.message); });
        });
        // Calls reach agents as offers in the console, never by ringing the browser directly.
        device.on("incoming", function (incoming) { incoming.reject(); });
        return device.register();
      }).catch(function (error) {
        update("error", error && error.tokenFailure ? error.message : errorMessage(error));
      });
    }

    function connect(workItem) {
      if (!device) {
        update("error", t("softphone_unavailable", "The softphone is unavailable."));
        return;
      }
      update("connecting");
      device.connect({ params: { WorkItemId: String(workItem.id) } }).then(function (current) {
        call = current;
        current.on("accept", function () { update("in_call"); });
        current.on("mute", function (muted) { setMuted(muted); });
        var ended = function () {
          if (call === current) call = null;
          update("ended");
        };
        current.on("disconnect", ended);
        current.on("cancel", ended);
        current.on("reject", ended);
        current.on("error", function (error) { update("error", errorMessage(error)); });
      }, function (error) {
        call = null;
        update("error", errorMessage(error));
      });
    }

    return {
      start: start,
      connect: connect,
      hangUp: function () { if (call) call.disconnect(); },
      toggleMute: function () {
        if (!call) return;
        call.mute(!call.isMuted());
        setMuted(call.isMuted());
      },
      sendDigits: function (digits) { if (call) call.sendDigits(digits); },
      // A reload ends a Device's call (the browser's media is gone): nothing to restore.
      restore: function () {},
      serverEnded: function () { if (call) call.disconnect(); }
    };
  }

  // --- transport: the telephony simulator (no Twilio account) ---------------------------------

  function simulatorTransport() {
    var base = area.dataset.simulatorUrl, polling = null, live = false, busy = false, joining = null;

    function post(action, body) {
      return fetch(base + action, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
        body: JSON.stringify(body || {})
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (!response.ok) {
            var error = new Error((data.error && data.error.message) || t("softphone_failed", "The softphone failed."));
            error.status = response.status;
            throw error;
          }
          return data;
        });
      });
    }

    function show(leg) {
      if (!leg) { stop(); return; }
      setMuted(!!leg.muted);
      if (leg.state === "ended") {
        var wasLive = live;
        stop();
        if (wasLive || shown !== "idle") update("ended");
        return;
      }
      live = true;
      update(leg.state);
      if (!polling) polling = setInterval(sync, SYNC_MS);
    }

    function stop() {
      live = false;
      if (polling) { clearInterval(polling); polling = null; }
    }

    function sync() {
      if (busy) return;
      busy = true;
      post("sync").then(function (data) { show(data.softphone); }, function () {})
        .then(function () { busy = false; });
    }

    function act(action, body) {
      return post(action, body).then(function (data) { show(data.softphone); },
        function (error) { update("error", error.message); });
    }

    return {
      start: function () { update("idle"); },
      connect: function (workItem) {
        if (joining === workItem.id) return;
        joining = workItem.id;
        update("connecting");
        act("join", { work_item_id: workItem.id }).then(function () { joining = null; });
      },
      hangUp: function () { if (live) act("hangup"); },
      toggleMute: function () {
        if (!live) return;
        act("mute", { muted: $("softphone-mute").getAttribute("aria-pressed") !== "true" });
      },
      sendDigits: function (digits) { if (live) act("digits", { digits: digits }); },
      // The console's state after a (re)load or a resync: the server knows this agent's leg.
      restore: function (state) {
        var leg = state.softphone;
        if (leg && (leg.state === "connecting" || leg.state === "in_call")) {
          if (!live) show(leg);
        } else if (state.call && !live && shown === "idle") {
          // Holding a call with no leg (e.g. the join was interrupted by a reload): join it.
          this.connect(state.call.work_item);
        }
      },
      // The call ended on the server (the caller hung up): the next sync hangs up our leg.
      serverEnded: function () { if (live) sync(); }
    };
  }

  // --- wiring ----------------------------------------------------------------------------------

  function keypad(digit) {
    transport.sendDigits(digit);
    var sent = $("softphone-digits");
    sent.textContent = (sent.textContent + digit).slice(-16);
  }

  function start() {
    area = $("softphone");
    if (!area) return;
    transport = area.dataset.provider === "twilio" ? twilioTransport() : simulatorTransport();
    $("softphone-mute").addEventListener("click", function () { transport.toggleMute(); });
    $("softphone-hangup").addEventListener("click", function () { transport.hangUp(); });
    $("softphone-keypad-toggle").addEventListener("click", function () {
      var pad = $("softphone-keypad");
      pad.hidden = !pad.hidden;
      this.setAttribute("aria-expanded", pad.hidden ? "false" : "true");
    });
    document.querySelectorAll("#softphone-keypad button[data-digit]").forEach(function (button) {
      button.addEventListener("click", function () { keypad(button.dataset.digit); });
    });
    document.addEventListener("halopmi:offer-accepted", function (event) {
      var workItem = event.detail && event.detail.work_item;
      if (!workItem) return;
      $("softphone-digits").textContent = "";
      transport.connect(workItem);
    });
    document.addEventListener("halopmi:state", function (event) {
      if (event.detail) transport.restore(event.detail);
    });
    // The server ended the call, or the agent handed it on: this leg is done.
    document.addEventListener("halopmi:call.ended", function () { transport.serverEnded(); });
    document.addEventListener("halopmi:transferred", function () { transport.hangUp(); });
    transport.start();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
