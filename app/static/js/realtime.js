/*
 * Live updates for staff pages: one Socket.IO connection to the /staff namespace.
 *
 * The server picks the rooms (user, role, supervisors) from the signed-in session; this module
 * never asks for a room. Delivery is at-most-once, so on every (re)connect it announces a
 * "halopmi:resync" DOM event and page modules re-fetch their state over HTTP. Every server event
 * is re-dispatched on `document` as "halopmi:<event>" with the payload in `detail`.
 *
 * Needs the socket.io client from npm (socket.io-client, copied to /static/vendor/ at set-up by
 * scripts/copy_assets.py); without it the status says "disconnected" and pages still work.
 */
(function () {
  "use strict";

  var NAMESPACE = "/staff";

  function setStatus(element, state) {
    if (!element) return;
    element.dataset.state = state;
    element.textContent = element.dataset[state] || state;
  }

  function announce(name, detail) {
    document.dispatchEvent(new CustomEvent("halopmi:" + name, { detail: detail }));
  }

  function start() {
    var status = document.getElementById("realtime-status");
    if (typeof window.io !== "function") {
      setStatus(status, "disconnected");
      return;
    }
    // Same origin: the session cookie goes along; the server refuses anonymous sockets.
    var socket = window.io(NAMESPACE, { reconnectionDelayMax: 10000 });

    socket.on("connect", function () {
      setStatus(status, "connected");
      announce("resync", {});
    });
    socket.on("disconnect", function () {
      setStatus(status, "disconnected");
    });
    socket.on("connect_error", function () {
      // Unreachable (the client retries by itself) or refused, e.g. signed out in another
      // tab (socket.io does not retry a refusal; the next page load goes to the login page).
      setStatus(status, "disconnected");
    });
    socket.onAny(function (event, data) {
      announce(event, data);
    });
    window.halopmiRealtime = socket;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
