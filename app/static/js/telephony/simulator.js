// A thin page over the Python telephony simulator (app/telephony/simulator.py).
const legs = document.getElementById("sim-legs");
const csrf = document.querySelector('meta[name="csrf-token"]').content;
const label = (name) => legs.dataset[`label${name}`];

async function act(body) {
  const response = await fetch(legs.dataset.actionUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    body: JSON.stringify(body),
  });
  const data = await response.json();
  if (data.error) console.warn(data.error.message);
  render(data);
  renderThread(data);
}

function button(text, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = text;
  b.addEventListener("click", onClick);
  return b;
}

function render(state) {
  legs.replaceChildren();
  for (const leg of state.legs || []) {
    const box = document.createElement("article");
    box.className = "sim-leg";
    const title = document.createElement("h3");
    title.textContent = `${leg.from} · `;
    const st = document.createElement("span");
    st.className = "sim-state";
    st.textContent = leg.state + (leg.conference ? ` (${leg.conference})` : "");
    title.append(st);
    const heard = document.createElement("ol");
    heard.className = "sim-heard";
    for (const h of leg.heard) {
      const li = document.createElement("li");
      li.textContent = `${h.verb}: ${h.text}`;
      heard.append(li);
    }
    box.append(title, heard);
    if (leg.state !== "ended") {
      const keys = document.createElement("div");
      keys.className = "sim-keys";
      for (const k of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"]) {
        const b = button(k, () => act({ action: "press", sid: leg.sid, digits: k }));
        b.disabled = !leg.listening;
        keys.append(b);
      }
      box.append(keys);
      const digits = document.createElement("input");
      digits.placeholder = "KPJ…#";
      digits.inputMode = "numeric";
      digits.addEventListener("change", () => act({ action: "press", sid: leg.sid, digits: digits.value }));
      box.append(digits);
      box.append(button(label("Silence"), () => act({ action: "timeout", sid: leg.sid })));
      box.append(button(label("Wait"), () => act({ action: "wait", sid: leg.sid })));
      box.append(button(label("Record"), () => act({ action: "record", sid: leg.sid })));
      if (leg.state === "new") box.append(button(label("Answer"), () => act({ action: "answer", sid: leg.sid })));
      box.append(button(label("Hangup"), () => act({ action: "hangup", sid: leg.sid })));
    }
    legs.append(box);
  }
}

document.getElementById("sim-dial").addEventListener("submit", (e) => {
  e.preventDefault();
  act({ action: "dial", from: new FormData(e.target).get("from") });
});
document.getElementById("sim-agent").addEventListener("submit", (e) => {
  e.preventDefault();
  act({ action: "agent", work_item_id: new FormData(e.target).get("work_item_id") });
});
// The messaging phone: her conversation with the centre (WhatsApp or SMS).
const thread = document.getElementById("sim-thread");
const numberInput = document.getElementById("sim-phone-number");
const threadLabel = (name) => thread.dataset[`label${name.charAt(0).toUpperCase()}${name.slice(1)}`];

function renderThread(state) {
  if (!state.conversation || state.phone !== numberInput.value.trim()) return;
  thread.replaceChildren();
  if (!state.conversation.length) {
    const li = document.createElement("li");
    li.className = "muted";
    li.textContent = threadLabel("empty");
    thread.append(li);
  }
  for (const m of state.conversation) {
    const li = document.createElement("li");
    li.className = `sim-bubble sim-${m.direction === "out" ? "her" : "centre"}`;
    li.dataset.direction = m.direction;
    li.dataset.channel = m.channel;
    const who = document.createElement("span");
    who.className = "small muted";
    const when = m.at ? new Date(m.at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
    who.textContent = `${threadLabel(m.direction === "out" ? "her" : "centre")} · ${threadLabel(m.channel)} · ${when}`;
    if (m.template) who.textContent += ` · ${threadLabel("template")}`;
    const body = document.createElement("p");
    body.className = "sim-body";
    body.textContent = m.body;
    li.append(who, body);
    if (m.attach) {
      const file = document.createElement("p");
      file.className = "small sim-file";
      file.textContent = `📎 ${thread.dataset[`file${m.attach.charAt(0).toUpperCase()}${m.attach.slice(1)}`] || ""}`;
      li.append(file);
    }
    thread.append(li);
  }
}

document.getElementById("sim-message").addEventListener("submit", async (e) => {
  e.preventDefault();
  const form = new FormData(e.target);
  const error = document.getElementById("sim-message-error");
  const response = await fetch(legs.dataset.actionUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, Accept: "application/json" },
    body: JSON.stringify({
      action: "message", from: form.get("from"), channel: form.get("channel"),
      body: form.get("body"), attach: form.get("attach"),
    }),
  });
  const data = await response.json().catch(() => ({}));
  error.hidden = !data.error;
  error.textContent = data.error ? data.error.message : "";
  if (!data.error) {
    document.getElementById("sim-message-body").value = "";
    document.getElementById("sim-attach").value = "";
  }
  render(data);
  renderThread(data);
});

async function refresh() {
  const url = `${legs.dataset.stateUrl}?phone=${encodeURIComponent(numberInput.value.trim())}`;
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (response.ok) {
    const state = await response.json();
    render(state);
    renderThread(state);
  }
}
numberInput.addEventListener("change", refresh);
refresh();
setInterval(refresh, 2000);
