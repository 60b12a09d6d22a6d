/*
 * The console's Socket.IO connection to /staff, announced as a console (auth.console), so the
 * server counts this agent as present while it is connected (see app/agents/events.py).
 * Like js/realtime.js: every event is re-dispatched on `document` as "halopmi:<event>", and
 * every (re)connect dispatches "halopmi:resync" so the page re-fetches its state over HTTP.
 */
(function () {
  "use strict";

  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent("halopmi:" + name, { detail: detail }));
  }

  function setStatus(state) {
    var element = document.getElementById("realtime-status");
    if (!element) return;
    element.dataset.state = state;
    element.textContent = element.dataset[state] || state;
  }

  function start() {
    if (typeof window.io !== "function") {
      setStatus("disconnected");
      return;
    }
    var socket = window.io("/staff", { auth: { console: true }, reconnectionDelayMax: 10000 });
    socket.on("connect", function () {
      setStatus("connected");
      announce("resync", {});
    });
    socket.on("disconnect", function () { setStatus("disconnected"); });
    socket.on("connect_error", function () { setStatus("disconnected"); });
    socket.onAny(function (event, data) { announce(event, data); });
    window.halopmiRealtime = socket;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
