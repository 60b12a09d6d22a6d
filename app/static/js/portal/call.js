/* Click-to-Call, "call now, free" (app/templates/portal/call.html).
 *
 * With Twilio (data-provider="twilio") the Voice JS SDK is injected only when the worker presses
 * the button: the page stays light on metered data. The microphone is asked for first (with the
 * explanation already on the page), then /call/start gives a token bound to her choices and
 * `device.connect` calls the TwiML App; keys go by `call.sendDigits`.
 * Without Twilio (data-provider="simulator") the same button places the call through the
 * telephony simulator (/call/sim/*): the voice menu is shown as text and keys are sent there.
 * Either way /call/status (her own call only, from her session) says where she is in the queue.
 */
(function () {
  "use strict";

  var area, provider, i18n = {};
  var device = null, twilioCall = null;
  var active = false, hungUpByMe = false, wasConnected = false, muted = false;
  var pollTimer = null, clockTimer = null, startedAt = 0, failures = 0, shownPrompts = 0;
  var choice = {};

  function $(id) { return document.getElementById(id); }
  function t(key, values) {
    var text = i18n[key] || key;
    Object.keys(values || {}).forEach(function (name) {
      text = text.replace("{" + name + "}", String(values[name]));
    });
    return text;
  }
  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body || {})
    }).then(answer);
  }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } }).then(answer);
  }
  function answer(response) {
    return response.json().catch(function () { return {}; }).then(function (body) {
      if (!response.ok) {
        var error = new Error((body.error && body.error.message) || t(response.status === 429 ? "too_many" : "failed"));
        error.status = response.status;
        throw error;
      }
      return body;
    });
  }

  function showError(message) {
    var box = $("call-error");
    box.textContent = message || "";
    box.hidden = !message;
  }
  function setState(message) {
    // Only on change: polling must not make screen readers repeat the same sentence.
    if ($("call-state").textContent !== message) $("call-state").textContent = message;
  }

  // --- the call's life ---------------------------------------------------------------------

  function begin() {
    active = true; hungUpByMe = false; wasConnected = false; muted = false; failures = 0; shownPrompts = 0;
    $("prompts").innerHTML = "";
    $("typed").textContent = "";
    setMuted(false);
    showError("");
    $("call-form").hidden = true;
    $("call-over").hidden = true;
    $("in-call").hidden = false;
    setState(t("connecting"));
    startedAt = Date.now();
    tick();
    clockTimer = window.setInterval(tick, 1000);
    pollTimer = window.setInterval(poll, 1500);
    $("hangup-button").focus();
  }

  function tick() {
    var seconds = Math.floor((Date.now() - startedAt) / 1000);
    var mm = String(Math.floor(seconds / 60)).padStart(2, "0"), ss = String(seconds % 60).padStart(2, "0");
    $("call-timer").textContent = mm + ":" + ss;
    $("call-timer").setAttribute("datetime", "PT" + seconds + "S");
  }

  function finish(message) {
    if (!active) return;
    active = false;
    window.clearInterval(pollTimer);
    window.clearInterval(clockTimer);
    twilioCall = null;
    $("in-call").hidden = true;
    $("call-over").hidden = false;
    $("call-over-text").textContent = message;
    $("call-again").focus();
  }

  function endedMessage(status) {
    if (hungUpByMe) return t("ended_you");
    if (wasConnected) return t("ended_agent");
    if (status && status.reason === "not_answered") return t("ended_unanswered");
    return t("ended");
  }

  function showPrompts(leg) {
    var list = $("prompts");
    if (leg.heard < shownPrompts) shownPrompts = 0;
    var fresh = leg.heard - shownPrompts;
    leg.prompts.slice(Math.max(0, leg.prompts.length - fresh)).forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    if (fresh > 0) list.scrollTop = list.scrollHeight;  // the latest prompt in view
    shownPrompts = leg.heard;
    $("typed").textContent = leg.typed || "";
  }

  function show(status) {
    if (status.leg) showPrompts(status.leg);
    if (status.phase === "connected") {
      wasConnected = true;
      setState(t("connected"));
    } else if (status.phase === "queued") {
      if (status.position === 1 && !status.minutes) setState(t("queued_first"));
      else if (status.minutes === 1) setState(t("queued_one_minute", { n: status.position }));
      else if (status.minutes) setState(t("queued_minutes", { n: status.position, m: status.minutes }));
      else setState(t("queued", { n: status.position }));
    } else if (status.phase === "ivr") {
      setState(t("ivr"));
    } else if (status.phase === "ended") {
      finish(endedMessage(status));
    }
  }

  function poll() {
    if (!active) return;
    get(area.dataset.statusUrl).then(function (status) {
      if (failures) setState(t("reconnected"));
      failures = 0;
      show(status);
    }, function (error) {
      if (error.status === 404) return;  // the call has not reached the centre yet
      failures += 1;
      if (failures >= 2) setState(t("offline"));
      if (failures >= 8 && provider === "simulator") finish(t("dropped"));
    });
  }

  // --- Twilio Voice SDK (loaded on press) ------------------------------------------------------

  function loadSdk() {
    if (window.Twilio && window.Twilio.Device) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = area.dataset.sdkUrl;
      script.async = true;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error(t("sdk_failed"))); };
      document.head.appendChild(script);
    });
  }

  function askMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return Promise.reject(new Error(t("mic_missing")));
    }
    return navigator.mediaDevices.getUserMedia({ audio: true }).then(function (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });  // the SDK opens its own
    }, function (error) {
      var name = error && error.name;
      throw new Error(t(name === "NotFoundError" || name === "OverconstrainedError" ? "mic_missing" : "mic_denied"));
    });
  }

  function failed(error) {
    // 31000s are signalling and media failures: the connection to the service dropped.
    var code = error && error.code;
    var message = code && code >= 31000 && code < 32000 ? t("dropped") : t("failed");
    if (device) { device.destroy(); device = null; }
    if (active) finish(message); else showError(message);
  }

  function callWithTwilio() {
    askMicrophone().then(function () {
      return Promise.all([post(area.dataset.startUrl, choice), loadSdk()]);
    }).then(function (results) {
      var body = results[0];
      device = new window.Twilio.Device(body.token, { codecPreferences: ["opus", "pcmu"], logLevel: "error" });
      // Without a listener the SDK's emitter throws its errors: they are the call's to explain.
      device.on("error", function (error) { failed(error); });
      begin();
      return device.connect({ params: choice });
    }).then(function (call) {
      twilioCall = call;
      call.on("accept", function () { setState(t("ivr")); });
      call.on("reconnecting", function () { setState(t("reconnecting")); });
      call.on("reconnected", function () { setState(t("reconnected")); });
      call.on("disconnect", function () { poll(); window.setTimeout(function () { finish(endedMessage()); }, 600); });
      call.on("cancel", function () { finish(endedMessage()); });
      call.on("error", failed);
    }).catch(function (error) {
      if (error && error.code) { failed(error); return; }  // the SDK's own (TwilioError)
      if (active) finish(error.message); else showError(error.message);
    });
  }

  // --- the simulator (no Twilio account) -------------------------------------------------------

  function callWithSimulator() {
    post(area.dataset.startUrl, choice).then(function () {
      begin();
      return post(area.dataset.dialUrl, choice);
    }).then(function (leg) {
      showPrompts(leg);
      poll();
    }).catch(function (error) {
      if (active) finish(error.message); else showError(error.message);
    });
  }

  // --- controls ------------------------------------------------------------------------------

  var keys = Promise.resolve(); // the keys on their way, in the order they were pressed

  function press(key) {
    if (!active) return;
    if (provider === "twilio") {
      if (twilioCall) twilioCall.sendDigits(key);
      $("typed").textContent += key;
      return;
    }
    // One request per key, each sent after the previous one is answered: sent together, a quick
    // thumb's keys reached the server out of order (a KPJ 26000… arrived as 20600…).
    keys = keys.then(function () { return post(area.dataset.keyUrl, { key: key }); })
      .then(function () { poll(); }, function (error) { showError(error.message); });
  }

  function setMuted(value) {
    muted = value;
    var button = $("mute-button");
    button.setAttribute("aria-pressed", value ? "true" : "false");
    button.textContent = value ? t("unmute") : t("mute");
    $("mute-note").textContent = value ? t("muted") : "";
  }

  function toggleMute() {
    if (!active) return;
    if (twilioCall) twilioCall.mute(!muted);
    setMuted(!muted);
  }

  function hangUp() {
    if (!active) return;
    hungUpByMe = true;
    if (provider === "twilio") {
      if (twilioCall) twilioCall.disconnect();
      if (device) device.disconnectAll();
      finish(t("ended_you"));
      return;
    }
    post(area.dataset.hangupUrl).then(function () { finish(t("ended_you")); },
      function () { finish(t("ended_you")); });
  }

  function start() {
    area = $("call-now");
    if (!area) return;
    provider = area.dataset.provider;
    i18n = JSON.parse($("call-i18n").textContent);
    $("call-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = event.target;
      var language = form.querySelector('input[name="language"]:checked');
      choice = { language: language ? language.value : "id", topic: form.elements.topic.value };
      showError("");
      if (provider === "twilio") callWithTwilio(); else callWithSimulator();
    });
    Array.prototype.forEach.call(document.querySelectorAll(".keypad .key"), function (button) {
      button.addEventListener("click", function () { press(button.dataset.key); });
    });
    $("mute-button").addEventListener("click", toggleMute);
    $("hangup-button").addEventListener("click", hangUp);
    $("call-again").addEventListener("click", function () {
      $("call-over").hidden = true;
      $("call-form").hidden = false;
      $("call-button").focus();
    });
    window.addEventListener("offline", function () { if (active) setState(t("offline")); });
    if (provider === "simulator" && area.dataset.resume === "true") resume();
  }

  function resume() {
    // A reload in the middle of a simulated call: the call goes on, so the page picks it up
    // again (a Twilio call ends with the page that held it).
    get(area.dataset.statusUrl).then(function (status) {
      if (!status.leg || status.leg.ended || status.phase === "ended") return;
      begin();
      show(status);
    }, function () { /* no call from this browser */ });
  }

  document.addEventListener("DOMContentLoaded", start);
})();
