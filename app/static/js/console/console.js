/*
 * The agent console: renders /console/api/state and keeps it current from Socket.IO events.
 *
 * State is always re-fetched over HTTP (on load, on every resync, and when an event announces a
 * newer version than the one shown); events carry versions (queue `seq`, presence `version`,
 * work item `version`) so a late or duplicated event is ignored. Text goes in with textContent.
 */
(function () {
  "use strict";

  var root, api, base, i18n = {};
  var state = { seq: -1, presenceVersion: -1, offer: null, call: null, wrapUp: null };
  var countdownTimer = null, fetching = null, refetchAgain = false;
  var shownState = null; // the presence state the selector was last set to
  var skew = 0; // server clock minus this computer's: countdowns follow the server's clock

  function $(id) { return document.getElementById(id); }
  function t(key) { return i18n[key] || key; }
  // A topic or ticket category by its label (the server sends the one label table).
  function category(code) { return (i18n.categories && i18n.categories[code]) || code || ""; }
  /* Labels, never codes: the vocabulary's tables come in the page's i18n block (app/core/vocabulary.py). */
  function label(kind, code) {
    if (code === null || code === undefined || code === "") return "";
    var table = (i18n.labels || {})[kind] || {};
    return table[code] || (kind === "country" ? String(code) : String(code).replace(/_/g, " "));
  }
  function labels(kind, codes) { return (codes || []).map(function (c) { return label(kind, c); }).join(", "); }
  function priorityLabel(n) {
    var table = (i18n.labels || {}).queue_priority || {}, best = null;
    Object.keys(table).forEach(function (k) { if (n >= Number(k) && (best === null || Number(k) > best)) best = Number(k); });
    return best === null ? String(n) : table[String(best)];
  }

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function showError(message) { $("console-error").textContent = message || ""; }

  function post(path, body) {
    return fetch(base + path, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), "Accept": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          showError((data.error && data.error.message) || response.statusText);
          throw data;
        }
        showError("");
        return data;
      });
    });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function waited(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function renderQueue(items, now) {
    var body = $("queue").querySelector("tbody");
    body.textContent = "";
    var clientNow = Date.now(), serverNow = Date.parse(now);
    items.forEach(function (item) {
      var row = el("tr");
      row.dataset.workItem = item.id;
      row.appendChild(el("td", priorityLabel(item.priority), item.priority >= 50 ? "prio-high" : ""));
      row.appendChild(el("td", t(item.kind)));
      row.appendChild(el("td", item.language_name || item.language));
      row.appendChild(el("td", category(item.topic)));
      row.appendChild(el("td", label("country", item.country) || item.country_name || "–"));
      row.appendChild(el("td", item.local_time ? item.local_time.time : "–"));
      var wait = el("td", waited(item.wait_seconds), "wait");
      wait.dataset.since = String(Date.parse(item.enqueued_at) + (clientNow - serverNow));
      row.appendChild(wait);
      body.appendChild(row);
    });
    $("queue-count").textContent = String(items.length);
    $("queue-empty").hidden = items.length > 0;
  }

  function tickWaits() {
    var now = Date.now();
    document.querySelectorAll("#queue td.wait").forEach(function (cell) {
      var since = Number(cell.dataset.since);
      if (since) cell.textContent = waited(Math.max(0, Math.round((now - since) / 1000)));
    });
  }

  function renderPresence(presence) {
    if (presence.version < state.presenceVersion) return;
    state.presenceVersion = presence.version;
    var pill = $("my-state");
    pill.dataset.state = presence.state;
    pill.textContent = t(presence.state) + (presence.reason === "no_answer" ? " (" + t("no_answer") + ")" : "");
    root.dataset.state = presence.state;
    // The selector shows the agent's real state; ringing, on a call and wrap-up are shown
    // (by their label) but not chosen: the console moves through them itself.
    // Only when the state changes: a re-render must not undo what the agent just picked.
    if (presence.state === shownState) return;
    shownState = presence.state;
    var select = $("state-switcher"), current = $("state-current");
    var choosable = Array.prototype.some.call(select.options, function (option) {
      return option.value === presence.state && !option.disabled;
    });
    current.hidden = choosable;
    if (select.dataset.picked) {
      // The agent chose a state and has not applied it yet (say, while the page was still
      // loading its state): leave her choice; "Set state" applies it.
    } else if (choosable) {
      select.value = presence.state;
    } else {
      current.textContent = t(presence.state);
      current.selected = true;
    }
  }

  function kv(pairs) {
    var dl = el("dl", null, "kv");
    pairs.forEach(function (pair) {
      if (pair[1] === null || pair[1] === undefined || pair[1] === "") return;
      dl.appendChild(el("dt", pair[0]));
      dl.appendChild(el("dd", pair[1]));
    });
    return dl;
  }

  function link(href, text) {
    var a = el("a", text);
    a.href = href;
    return a;
  }

  function ticketList(tickets) {
    if (!tickets.length) return el("p", t("none"), "muted small");
    var list = el("ul");
    tickets.forEach(function (ticket) {
      var item = el("li");
      item.appendChild(link(ticket.url, ticket.reference || "#" + ticket.id));
      item.appendChild(document.createTextNode(" · " + ticket.subject + " · " + category(ticket.category) +
        " · " + label("ticket_status", ticket.status)));
      list.appendChild(item);
    });
    return list;
  }

  function claimsTable(list) {
    var table = el("table", null, "claims");
    var head = el("thead"), headRow = el("tr");
    ["claim_number", "program", "benefit", "claim_status", "incident_date"].forEach(function (key) {
      var th = el("th", t(key));
      th.scope = "col";
      headRow.appendChild(th);
    });
    head.appendChild(headRow);
    table.appendChild(head);
    var body = el("tbody");
    list.forEach(function (c) {
      var row = el("tr");
      row.dataset.claim = c.claim_number;
      [c.claim_number, label("program", c.program), label("benefit", c.benefit_type), label("claim_status", c.status),
        c.incident_date || ""].forEach(function (v) {
        row.appendChild(el("td", v));
      });
      body.appendChild(row);
    });
    table.appendChild(body);
    return table;
  }

  function renderWhere(caller) {
    var where = $("pop-where");
    where.textContent = "";
    if (!caller || !caller.country) return;
    where.dataset.country = caller.country;
    var text = label("country", caller.country) || caller.country_name;
    if (caller.source === "number") text += " (" + t("country_from_number") + ")";
    if (caller.local_time) text += " · " + caller.local_time.time + " " + t("local_time_in");
    where.textContent = text;
  }

  function renderScreenPop(pop) {
    var panel = $("screen-pop");
    if (!pop) { panel.hidden = true; return; }
    panel.hidden = false;
    var item = pop.work_item;
    $("pop-item").textContent = t(item.kind) + " · " + (item.language_name || item.language) + " · " +
      category(item.topic);
    renderWhere(pop.caller);
    var member = $("pop-member"), claims = $("pop-claims");
    member.textContent = "";
    claims.textContent = "";
    $("pop-claims-title").hidden = !pop.member;
    if (!pop.member) {
      member.appendChild(el("p", t("no_member"), "muted"));
    } else {
      var m = pop.member;
      member.appendChild(el("h3", m.name, "member-name"));
      if (m.url) {
        var links = el("p", null, "pop-links");
        links.appendChild(link(m.url, t("open_member")));
        member.appendChild(links);
      }
      member.appendChild(kv([[t("kpj"), m.kpj], [t("phase"), label("phase", m.phase)], [t("status"), label("membership", m.membership_status)],
        [t("programs"), labels("program", m.programs)], [t("country"), label("country", m.placement_country)], [t("employer"), m.employer]]));
      var coverage = el("p", (m.coverage || []).map(function (w) {
        return label("program", w.program) + (w.active ? " ✓" : " ✗") + " " + w.start + "–" + (w.end || "…");
      }).join(" · "), "small");
      member.appendChild(coverage);
      if (m.claims && m.claims.length) {
        claims.appendChild(claimsTable(m.claims));
      } else {
        claims.appendChild(el("p", t("none"), "muted small"));
      }
    }
    var ticket = $("pop-ticket"), tickets = $("pop-tickets");
    ticket.textContent = "";
    tickets.textContent = "";
    if (!pop.tickets || !pop.tickets.available) {
      ticket.appendChild(el("p", t("tickets_unavailable"), "muted small"));
      return;
    }
    var current = pop.tickets.current;
    if (current) {
      ticket.appendChild(kv([["#", current.reference || current.id], ["", current.subject],
        [t("ticket_status"), label("ticket_status", current.status)], ["", category(current.category)]]));
      var ticketLinks = el("p", null, "pop-links");
      ticketLinks.appendChild(link(current.url, t("open_ticket")));
      ticket.appendChild(ticketLinks);
      if (current.description) ticket.appendChild(el("p", current.description, "small"));
    } else {
      ticket.appendChild(el("p", t("no_ticket"), "muted small"));
    }
    tickets.appendChild(ticketList((pop.tickets.open || []).concat(pop.tickets.recent || [])));
  }

  function stopCountdown() {
    if (countdownTimer) { clearInterval(countdownTimer); countdownTimer = null; }
  }

  function renderOffer(offer) {
    var dialog = $("offer");
    state.offer = offer;
    stopCountdown();
    if (!offer) { dialog.hidden = true; return; }
    var item = offer.work_item;
    $("offer-summary").textContent = t(item.kind) + " · " + (item.language_name || item.language) + " · " + category(item.topic) +
      (item.country ? " · " + label("country", item.country) : "");
    dialog.hidden = false;
    dialog.dataset.workItem = item.id;
    var expires = Date.parse(item.offer_expires_at);
    var update = function () {
      var left = Math.max(0, Math.round((expires - (Date.now() + skew)) / 1000));
      $("offer-countdown").textContent = String(left);
      if (left <= 0) stopCountdown();
    };
    update();
    countdownTimer = setInterval(update, 250);
  }

  function renderColleagues(colleagues) {
    var select = $("transfer-agent");
    var keep = select.value;
    select.textContent = "";
    select.appendChild(el("option", "—"));
    select.firstChild.value = "";
    colleagues.forEach(function (c) {
      var option = el("option", c.name + " (" + t(c.state) + ")");
      option.value = c.id;
      select.appendChild(option);
    });
    select.value = keep;
  }

  // Supervisors on the agent's call (as the policy lets the agent see them).
  function renderSupervision(view) {
    var list = $("supervision-note");
    if (!list) return;
    var supervisors = (view && view.supervisors) || [];
    list.textContent = "";
    supervisors.forEach(function (s) {
      var item = el("li", t("supervisor_" + s.mode).replace("%(name)s", s.name));
      item.dataset.mode = s.mode;
      list.appendChild(item);
    });
    list.hidden = supervisors.length === 0;
  }

  function render(data) {
    if (data.now) skew = Date.parse(data.now) - Date.now();
    state.seq = data.seq;
    state.call = data.call;
    state.wrapUp = data.wrap_up;
    renderPresence(data.me.presence);
    renderQueue(data.queue, data.now);
    renderOffer(data.offer);
    renderColleagues(data.colleagues);
    renderSupervision(data.supervision);
    // The screen pop stays up through wrap-up: the agent writes the note looking at it.
    var wrapping = data.me.presence.state === "wrap_up";
    var current = data.offer || data.call || (wrapping ? data.wrap_up : null);
    renderScreenPop(current ? current.screen_pop : null);
    $("call-tools").hidden = !data.call;
    $("wrap-up").hidden = !wrapping;
    var wrapItem = data.wrap_up ? data.wrap_up.work_item : (data.call ? data.call.work_item : null);
    $("wrap-up-for").textContent = wrapItem ? t("wrap_up_for") + ": " + t(wrapItem.kind) + " · " +
      category(wrapItem.topic) : "";
    root.dataset.seq = String(data.seq);
    document.dispatchEvent(new CustomEvent("halopmi:state", { detail: data }));
  }

  function refresh() {
    if (fetching) { refetchAgain = true; return fetching; }
    fetching = fetch(api, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.json(); })
      .then(render)
      .catch(function () { showError("…"); })
      .then(function () {
        fetching = null;
        if (refetchAgain) { refetchAgain = false; refresh(); }
      });
    return fetching;
  }

  function bind() {
    document.addEventListener("halopmi:resync", refresh);
    document.addEventListener("halopmi:queue.updated", function (event) {
      if (event.detail && event.detail.seq <= state.seq) return; // already shown
      refresh();
    });
    document.addEventListener("halopmi:presence.changed", function (event) {
      if (event.detail && event.detail.version > state.presenceVersion) refresh();
    });
    document.addEventListener("halopmi:offer", function (event) {
      // Ring at once from the event, then fetch the screen pop with the full state.
      if (event.detail && event.detail.work_item) renderOffer({ work_item: event.detail.work_item });
      refresh();
    });
    document.addEventListener("halopmi:offer.cancelled", function (event) {
      if (state.offer && event.detail && String(event.detail.work_item_id) === String(state.offer.work_item.id)) {
        renderOffer(null);
      }
      refresh();
    });
    document.addEventListener("halopmi:call.ended", refresh);
    document.addEventListener("halopmi:supervision.changed", function (event) { renderSupervision(event.detail); });
    document.addEventListener("halopmi:softphone", function (event) {
      if (event.detail && event.detail.state === "ended") refresh(); // on to wrap-up
    });

    $("state-switcher").addEventListener("change", function () {
      $("state-switcher").dataset.picked = "1";
    });
    $("state-apply").addEventListener("click", function () {
      var select = $("state-switcher"), chosen = select.value;
      delete select.dataset.picked;
      shownState = null; // show the state the server now reports, whatever it is
      if (!chosen) return; // the current state (ringing, on a call, wrap-up) is shown, not chosen
      post("api/presence", { state: chosen }).then(refresh, refresh);
    });
    $("offer-accept").addEventListener("click", function () {
      if (!state.offer) return;
      var id = state.offer.work_item.id;
      post("api/work/" + id + "/accept").then(function (data) {
        renderOffer(null);
        document.dispatchEvent(new CustomEvent("halopmi:offer-accepted", { detail: data }));
        refresh();
      }, function () { renderOffer(null); refresh(); });
    });
    $("offer-decline").addEventListener("click", function () {
      if (!state.offer) return;
      post("api/work/" + state.offer.work_item.id + "/decline").then(refresh, refresh);
      renderOffer(null);
    });
    $("wrap-up-done").addEventListener("click", function () {
      var id = state.wrapUp ? state.wrapUp.work_item.id : (state.call ? state.call.work_item.id : 0);
      post("api/work/" + id + "/wrap-up", { disposition: $("disposition").value, note: $("wrap-up-note").value })
        .then(function () { $("wrap-up-note").value = ""; refresh(); }, function () {});
    });
    $("transfer-go").addEventListener("click", function () {
      if (!state.call) return;
      post("api/work/" + state.call.work_item.id + "/transfer", {
        to_agent_id: $("transfer-agent").value || null,
        language: $("transfer-language").value || null
      }).then(function () {
        // Handed on: this agent's softphone leaves; the caller holds until the next agent.
        document.dispatchEvent(new CustomEvent("halopmi:transferred", { detail: {} }));
        refresh();
      }, function () {});
    });
    $("callback-go").addEventListener("click", function () {
      if (!state.call) return;
      var local = $("callback-at").value;
      if (!local) return;
      post("api/work/" + state.call.work_item.id + "/callback", { at: new Date(local).toISOString() })
        .then(function () {}, function () {});
    });
  }

  function start() {
    root = $("console");
    if (!root) return;
    api = root.dataset.api;
    base = root.dataset.base;
    try { i18n = JSON.parse($("console-i18n").textContent); } catch (e) { i18n = {}; }
    bind();
    refresh();
    setInterval(tickWaits, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
