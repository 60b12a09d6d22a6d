/*
 * The supervisor on a live call, from the wallboard: join a call in progress (listen, whisper,
 * barge in), move between the three, leave. The server keeps the supervision
 * (/supervisor/api/supervision…); the softphone is one of two transports, chosen by the
 * wallboard's data-provider:
 *
 *  - "twilio": a `Twilio.Device` (token from /supervisor/api/voice-token, identity
 *    `supervisor:<id>`) calls the TwiML App with `SupervisionId`; the app checks it is this
 *    supervisor's and joins the agent's conference in the chosen mode. Switching is done by the
 *    server (a participant update), leaving by the server and by hanging the Device up.
 *  - "simulator" (no Twilio account): the server places the leg in its telephony simulator when
 *    the supervision starts; /supervisor/api/supervision/sync moves the simulated line on about
 *    once a second while it lives, and says who the supervisor hears and who hears them.
 *
 * Words come from the page's i18n block (Bahasa Indonesia / English); text goes in with
 * textContent.
 */
(function () {
  "use strict";

  var SYNC_MS = 1000;
  var MIC_ERRORS = [31401, 31402, 31208];

  var root = document.getElementById("wallboard");
  var panel = document.getElementById("wb-listen");
  if (!root || !panel) return;
  var api = root.dataset.superviseApi; // …/supervisor/api/supervision
  var base = api.replace(/supervision$/, "");
  var words = {};
  try { words = JSON.parse(document.getElementById("wallboard-i18n").textContent); } catch (e) { words = {}; }
  var mine = null, leg = null, polling = null, busy = false, lastMessage = "", leaving = false;
  // Every answer carries the whole state: one sent later wins, whatever order they come back in
  // (a sync sent before "leave" must not bring the call back on screen).
  var sent = 0, shownSeq = 0;

  function $(id) { return document.getElementById(id); }
  function t(key) { return words[key] || key; }
  function fill(text, values) {
    return String(text).replace(/%\((\w+)\)s/g, function (_, name) { return values[name] || ""; });
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function showError(message) { $("wb-listen-error").textContent = message || ""; }

  function request(method, path, body) {
    var seq = ++sent;
    return fetch(base + path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: method === "GET" ? undefined : JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error((data.error && data.error.message) || t("failed"));
          error.code = data.error && data.error.code;
          throw error;
        }
        if (seq < shownSeq) return null; // overtaken by a later answer
        shownSeq = seq;
        return data;
      });
    });
  }

  // --- what the panel shows ------------------------------------------------------------------

  function who(labels) {
    if (!labels || !labels.length) return t("nobody");
    // The caller first, then the agent.
    return labels.slice().sort(function (a, b) { return (a === "caller" ? 0 : 1) - (b === "caller" ? 0 : 1); })
      .map(function (label) { return t(label === "caller" ? "caller" : "agent"); }).join(", ");
  }

  function render() {
    var active = mine && (mine.status === "joining" || mine.status === "joined");
    panel.hidden = !active && !lastMessage;
    panel.dataset.state = active ? mine.status : "idle";
    panel.dataset.mode = active ? mine.mode : "";
    panel.querySelector(".wb-modes").hidden = !active;
    var status = $("wb-listen-status"), hears = $("wb-listen-hears");
    hears.textContent = "";
    if (!active) {
      status.textContent = lastMessage;
    } else {
      var values = { agent: mine.agent_name };
      var connected = mine.status === "joined" && (!leg || leg.state === "in_call");
      var text = connected ? fill(t(mine.mode), values) : fill(t("connecting"), values);
      if (connected && mine.applied_mode && mine.applied_mode !== mine.mode) text += " " + t("switching");
      status.textContent = text;
      if (leg && leg.state === "in_call") {
        hears.textContent = t("you_hear") + ": " + who(leg.hears) + " · " + t("heard_by") + ": " + who(leg.heard_by);
      }
    }
    panel.querySelectorAll("button[data-mode]").forEach(function (button) {
      button.setAttribute("aria-pressed", active && button.dataset.mode === mine.mode ? "true" : "false");
    });
    markRow();
  }

  function markRow() {
    document.querySelectorAll("#wb-calls tr[data-call]").forEach(function (row) {
      var on = !!(mine && (mine.status === "joining" || mine.status === "joined") && String(mine.call_id) === row.dataset.call);
      row.classList.toggle("wb-mine", on);
    });
  }

  function show(data) {
    if (!data) return; // a stale answer
    var was = mine;
    mine = data.supervision || null;
    leg = data.softphone || null;
    if (mine) {
      lastMessage = "";
    } else if (was) {
      lastMessage = leaving ? t("ended") : t("call_ended");
      leaving = false;
    }
    render();
    var live = mine && (mine.status === "joining" || mine.status === "joined");
    if (live && root.dataset.provider !== "twilio" && !polling) polling = setInterval(sync, SYNC_MS);
    if (!live && polling) { clearInterval(polling); polling = null; }
    if (!live) transport.hangUp();
  }

  function refresh() {
    return request("GET", "supervision").then(show, function () {});
  }

  function sync() {
    if (busy) return;
    busy = true;
    request("POST", "supervision/sync").then(show, function () {}).then(function () { busy = false; });
  }

  // --- the softphone ---------------------------------------------------------------------------

  function twilioTransport() {
    var device = null, call = null;

    function token() {
      return fetch(root.dataset.tokenUrl, {
        method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf(), "Accept": "application/json" }
      }).then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok || !body.token) throw new Error((body.error && body.error.message) || t("failed"));
          return body.token;
        });
      });
    }

    function ready() {
      if (device) return Promise.resolve(device);
      if (!window.Twilio || typeof window.Twilio.Device !== "function") return Promise.reject(new Error(t("failed")));
      return token().then(function (value) {
        device = new window.Twilio.Device(value, { codecPreferences: ["opus", "pcmu"], logLevel: "error" });
        device.on("tokenWillExpire", function () { token().then(function (fresh) { device.updateToken(fresh); }); });
        return device;
      });
    }

    return {
      connect: function (supervision) {
        ready().then(function (d) {
          return d.connect({ params: { SupervisionId: String(supervision.id) } });
        }).then(function (current) {
          call = current;
          current.on("accept", refresh);
          current.on("disconnect", function () { call = null; refresh(); });
          current.on("error", function (error) {
            var code = error && Number(error.code);
            showError(MIC_ERRORS.indexOf(code) >= 0 ? t("mic_denied") : t("failed"));
          });
        }, function (error) {
          showError(error && error.name === "NotAllowedError" ? t("mic_denied") : (error && error.message) || t("failed"));
          request("POST", "supervision/leave").then(show, function () {});
        });
      },
      hangUp: function () { if (call) { var current = call; call = null; current.disconnect(); } }
    };
  }

  function simulatorTransport() {
    // The server placed (and hangs up) the simulated leg itself.
    return { connect: function () {}, hangUp: function () {} };
  }

  var transport = root.dataset.provider === "twilio" ? twilioTransport() : simulatorTransport();

  // --- what the supervisor does ----------------------------------------------------------------

  function join(callId, mode) {
    showError("");
    lastMessage = "";
    request("POST", "calls/" + encodeURIComponent(callId) + "/supervise", { mode: mode }).then(function (data) {
      show(data);
      if (data && data.supervision) transport.connect(data.supervision);
      document.dispatchEvent(new CustomEvent("halopmi:wallboard-refetch"));
    }, function (error) { showError(error.message); });
  }

  function switchTo(mode) {
    showError("");
    request("POST", "supervision/mode", { mode: mode }).then(function (data) {
      show(data);
      document.dispatchEvent(new CustomEvent("halopmi:wallboard-refetch"));
    }, function (error) { showError(error.message); });
  }

  function leave() {
    showError("");
    leaving = true;
    transport.hangUp();
    request("POST", "supervision/leave").then(function (data) {
      show(data);
      document.dispatchEvent(new CustomEvent("halopmi:wallboard-refetch"));
    }, function (error) { leaving = false; showError(error.message); refresh(); });
  }

  $("wb-calls").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-join]");
    if (!button) return;
    var row = button.closest("tr[data-call]");
    if (!row) return;
    if (mine && String(mine.call_id) === row.dataset.call && (mine.status === "joining" || mine.status === "joined")) {
      switchTo(button.dataset.join);
    } else {
      join(row.dataset.call, button.dataset.join);
    }
  });
  panel.querySelectorAll("button[data-mode]").forEach(function (button) {
    button.addEventListener("click", function () { switchTo(button.dataset.mode); });
  });
  $("wb-leave").addEventListener("click", leave);
  document.addEventListener("halopmi:calls-rendered", markRow);
  document.addEventListener("halopmi:supervision.mine", refresh);
  document.addEventListener("halopmi:resync", refresh);
  refresh();
})();
