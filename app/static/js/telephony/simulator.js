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
async function refresh() {
  const response = await fetch(legs.dataset.stateUrl, { headers: { Accept: "application/json" } });
  if (response.ok) render(await response.json());
}
refresh();
setInterval(refresh, 3000);
