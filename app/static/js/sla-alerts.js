/*
 * SLA alerts on staff pages: the sweep tells supervisors (sla.sweep) and each assignee
 * (sla.mine) about warnings and breaches; show them in the live region #sla-alerts with links
 * to the tickets. Events arrive through realtime.js as "halopmi:<event>" DOM events.
 */
(function () {
  "use strict";

  function region() {
    return document.getElementById("sla-alerts");
  }

  function show(items, summary) {
    var box = region();
    if (!box || !items || !items.length) return;
    var list = document.createElement("div");
    list.className = "flash flash-warning sla-alert";
    list.setAttribute("role", "status");
    var title = document.createElement("strong");
    title.textContent = summary;
    list.appendChild(title);
    items.slice(0, 10).forEach(function (item) {
      var link = document.createElement("a");
      link.href = box.dataset.ticketUrl.replace("/0", "/" + encodeURIComponent(item.ticket_id));
      var what = item.target === "first_response" ? box.dataset.firstResponse : box.dataset.resolution;
      var kind = item.kind === "breach" ? box.dataset.breach : box.dataset.warning;
      link.textContent = item.reference + " · " + what + " · " + kind;
      list.appendChild(document.createTextNode(" "));
      list.appendChild(link);
    });
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.textContent = "×";
    close.setAttribute("aria-label", box.dataset.dismiss);
    close.addEventListener("click", function () { list.remove(); });
    list.appendChild(close);
    box.prepend(list);
    while (box.children.length > 3) box.removeChild(box.lastChild);
  }

  document.addEventListener("halopmi:sla.sweep", function (event) {
    var d = event.detail || {};
    var box = region();
    if (!box) return;
    show(d.items, box.dataset.sweepSummary.replace("%b", d.breaches || 0).replace("%w", d.warnings || 0));
  });
  document.addEventListener("halopmi:sla.mine", function (event) {
    var box = region();
    if (!box) return;
    show((event.detail || {}).items, box.dataset.mineSummary);
  });
})();
