/*
 * The wallboard: renders /supervisor/api/wallboard snapshots.
 *
 * Snapshots arrive as "wallboard.snapshot" on the /staff socket (re-dispatched by realtime.js as
 * "halopmi:wallboard.snapshot") when something changed, and are fetched over HTTP on every
 * (re)connect ("halopmi:resync") and every 30 s as a safety net, since pushes are at-most-once.
 * A snapshot older than the one shown is ignored. The calls agents are on are listed with their
 * talk time (counted here); js/supervisor/live-calls.js joins them ("halopmi:calls-rendered"). Waits are sent as the time the oldest call
 * queued; this page counts the seconds, corrected for the difference between the clocks.
 */
(function () {
  "use strict";

  var root = document.getElementById("wallboard");
  if (!root) return;
  var api = root.dataset.api;
  var names = JSON.parse(root.dataset.queueNames || "{}");
  var target = parseFloat(root.dataset.target || "0.8");
  var answerTarget = parseFloat(root.dataset.answerTarget || "20");
  var shown = null;
  // Server clock minus this browser's clock, in ms: from the page's own snapshot until the next.
  var skew = root.dataset.generatedAt ? Date.parse(root.dataset.generatedAt) - Date.now() : 0;
  // The figures are "today" in the centre's zone, so the clock shows that zone (named), not
  // the zone of whichever computer drives the wall screen.
  var clockFormat = { hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short" };
  if (root.dataset.zone) clockFormat.timeZone = root.dataset.zone;

  function pct(value) {
    return value === null || value === undefined ? "—" : Math.round(value * 100) + "%";
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    var total = Math.round(seconds);
    var hours = Math.floor(total / 3600);
    var minutes = Math.floor((total % 3600) / 60);
    var secs = total % 60;
    var mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
    return (hours ? hours + ":" : "") + mm + ":" + String(secs).padStart(2, "0");
  }

  function slLevel(value) {
    if (value === null || value === undefined) return "none";
    if (value >= target) return "good";
    return value >= target - 0.1 ? "warn" : "bad";
  }

  function waitLevel(seconds) {
    if (seconds === null) return "none";
    if (seconds > 3 * answerTarget) return "bad";
    return seconds > answerTarget ? "warn" : "good";
  }

  function age(since) {
    if (!since) return null;
    return Math.max(0, (Date.now() + skew - Date.parse(since)) / 1000);
  }

  function field(name) {
    return root.querySelector('[data-field="' + name + '"]');
  }

  function setText(name, text) {
    var element = field(name);
    if (element && element.textContent !== String(text)) element.textContent = text;
  }

  function setLevel(name, level) {
    var tile = root.querySelector('[data-field-level="' + name + '"]');
    if (tile) tile.dataset.level = level;
  }

  function cell(tag, text, className) {
    var element = document.createElement(tag);
    if (text !== null && text !== undefined) element.textContent = text;
    if (className) element.className = className;
    return element;
  }

  function renderQueues(queues) {
    var body = document.getElementById("wb-queues");
    body.textContent = "";
    if (!queues.length) {
      var empty = document.createElement("tr");
      empty.className = "wb-empty";
      var td = cell("td", root.dataset.emptyText || "—");
      td.colSpan = 7;
      empty.appendChild(td);
      body.appendChild(empty);
      return;
    }
    queues.forEach(function (q) {
      var today = q.today || {};
      var row = document.createElement("tr");
      row.dataset.queue = q.queue;
      row.appendChild(cell("th", names[q.queue] || q.queue));
      row.lastChild.scope = "row";
      row.appendChild(cell("td", q.waiting, "num"));
      var wait = cell("td", "—", "num");
      wait.dataset.since = q.oldest_since || "";
      row.appendChild(wait);
      var sl = cell("td", pct(today.service_level), "num");
      sl.dataset.level = slLevel(today.service_level);
      row.appendChild(sl);
      row.appendChild(cell("td", today.offered || 0, "num"));
      row.appendChild(cell("td", today.answered || 0, "num"));
      row.appendChild(cell("td", today.abandoned || 0, "num"));
      body.appendChild(row);
    });
  }

  // Labels for the live calls (the page's i18n block): languages, topics, countries, modes.
  var words = {};
  try { words = JSON.parse(document.getElementById("wallboard-i18n").textContent); } catch (e) { words = {}; }
  var maySupervise = root.dataset.maySupervise === "true";
  var readerZone = root.dataset.readerZone;

  function label(kind, code) {
    if (code === null || code === undefined || code === "") return "—";
    var table = (words.labels || {})[kind] || {};
    return table[code] || String(code).replace(/_/g, " ");
  }

  // A time of day in the reader's zone, the zone named as every staff page names it (WIB).
  function clockTime(iso) {
    var options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (readerZone) options.timeZone = readerZone;
    var text = new Date(iso).toLocaleTimeString(document.documentElement.lang || undefined, options);
    return root.dataset.readerZoneName ? text + " " + root.dataset.readerZoneName : text;
  }

  function renderCalls(calls) {
    var body = document.getElementById("wb-calls");
    if (!body) return;
    body.textContent = "";
    if (!calls.length) {
      var empty = document.createElement("tr");
      empty.className = "wb-empty";
      var td = cell("td", words.none || "—");
      td.colSpan = 8;
      empty.appendChild(td);
      body.appendChild(empty);
    }
    calls.forEach(function (c) {
      var row = document.createElement("tr");
      row.dataset.call = c.call_id;
      row.dataset.agent = c.agent_name;
      row.appendChild(cell("th", c.agent_name));
      row.lastChild.scope = "row";
      row.appendChild(cell("td", (words.queues || {})[c.language] || names[c.language] || c.language));
      row.appendChild(cell("td", (words.topics || {})[c.topic] || label("topic", c.topic)));
      row.appendChild(cell("td", label("country", c.country)));
      row.appendChild(cell("td", clockTime(c.since), "num"));
      var talk = cell("td", "…", "num");
      talk.dataset.talkSince = c.since;
      row.appendChild(talk);
      row.appendChild(cell("td", c.supervisors.length ? c.supervisors.map(function (s) {
        return s.name + " (" + label("supervision_mode", s.mode) + ")";
      }).join(", ") : "—"));
      if (maySupervise) {
        var join = cell("td", null, "wb-join");
        ["listen", "whisper", "barge"].forEach(function (mode) {
          var button = cell("button", label("supervision_mode", mode), "wb-button");
          button.type = "button";
          button.dataset.join = mode;
          button.setAttribute("aria-label", label("supervision_mode", mode) + ": " + c.agent_name);
          join.appendChild(button);
        });
        row.appendChild(join);
      }
      body.appendChild(row);
    });
    document.dispatchEvent(new CustomEvent("halopmi:calls-rendered", { detail: { calls: calls } }));
  }

  function render(s) {
    var today = s.today || {};
    setText("waiting", s.waiting);
    setLevel("waiting", s.waiting ? "warn" : "none");
    field("longest").dataset.since = s.oldest_since || "";
    setText("service_level", pct(today.service_level));
    setLevel("service_level", slLevel(today.service_level));
    setText("abandon_rate", pct(today.abandon_rate));
    setText("abandoned", today.abandoned || 0);
    setText("offered", today.offered || 0);
    setText("asa", duration(today.asa));
    setText("aht", duration(today.aht));
    var served = s.self_service || {};
    setText("containment_rate", pct(served.containment_rate));
    setText("contained", served.contained || 0);
    setText("self_service_started", served.started || 0);
    setText("callbacks_pending", s.callbacks_pending);
    setText("at_risk", s.tickets.at_risk);
    setLevel("at_risk", s.tickets.at_risk ? "warn" : "none");
    setText("breached", s.tickets.breached);
    setLevel("breached", s.tickets.breached ? "bad" : "none");
    Object.keys(s.agents || {}).forEach(function (state) {
      var element = root.querySelector('[data-agents="' + state + '"]');
      if (element) element.textContent = s.agents[state];
    });
    renderQueues(s.queues || []);
    renderCalls(s.calls || []);
    root.dataset.fingerprint = s.fingerprint;
    tick();
  }

  function accept(s) {
    if (!s || !s.generated_at) return;
    if (shown && Date.parse(s.generated_at) < Date.parse(shown.generated_at)) return; // stale
    skew = Date.parse(s.generated_at) - Date.now();
    shown = s;
    render(s);
  }

  function tick() {
    var longest = field("longest");
    var seconds = age(longest.dataset.since);
    longest.textContent = seconds === null ? "—" : duration(seconds);
    document.getElementById("wb-longest").dataset.level = waitLevel(seconds);
    root.querySelectorAll("#wb-queues td[data-since]").forEach(function (td) {
      var s = age(td.dataset.since);
      td.textContent = s === null ? "—" : duration(s);
      td.dataset.level = s === null ? "none" : waitLevel(s);
    });
    root.querySelectorAll("#wb-calls td[data-talk-since]").forEach(function (td) {
      var s = age(td.dataset.talkSince);
      td.textContent = s === null ? "—" : duration(s);
    });
    var clock = document.getElementById("wb-clock");
    if (clock) clock.textContent = new Date(Date.now() + skew).toLocaleTimeString(document.documentElement.lang || undefined, clockFormat);
  }

  function refetch() {
    fetch(api, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("wallboard " + response.status);
        return response.json();
      })
      .then(accept)
      .catch(function () {
        /* the next push, reconnect or poll tries again */
      });
  }

  root.dataset.emptyText = JSON.parse(root.dataset.labels || "{}").none || "—";
  document.addEventListener("halopmi:resync", refetch);
  document.addEventListener("halopmi:wallboard-refetch", refetch);
  document.addEventListener("halopmi:wallboard.snapshot", function (event) {
    accept(event.detail);
  });
  document.getElementById("wb-fullscreen").addEventListener("click", function () {
    if (document.fullscreenElement) {
      document.exitFullscreen();
    } else if (document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen();
    }
  });
  setInterval(tick, 1000);
  setInterval(refetch, 30000);
  tick();
})();
