// The operations page: loads server-rendered fragments with the API key, and drives plan -> repair -> undo.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const keyInput = $("apikey"), restaurant = $("restaurant"), day = $("day"), view = $("view"),
        detail = $("detail"), status = $("status"), dialog = $("plan-dialog");
  keyInput.value = sessionStorage.getItem("tablemend.key") || "";
  day.value = day.value || new Date().toISOString().slice(0, 10);

  function headers(json) {
    const h = { "Authorization": "Bearer " + keyInput.value.trim() };
    if (json) h["Content-Type"] = "application/json";
    return h;
  }
  async function call(method, url, body) {
    const r = await fetch(url, { method, headers: headers(body !== undefined),
                                 body: body === undefined ? undefined : JSON.stringify(body) });
    const type = r.headers.get("content-type") || "";
    const data = type.includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new Error((data && data.code ? "[" + data.code + "] " + data.message : "HTTP " + r.status));
    return data;
  }
  function say(text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  async function loadRestaurants() {
    const rows = await call("GET", "/api/restaurants");
    const keep = restaurant.value;
    restaurant.innerHTML = rows.map((r) => '<option value="' + esc(r.id) + '">' + esc(r.name) + "</option>").join("");
    if (keep && rows.some((r) => r.id === keep)) restaurant.value = keep;
  }
  async function loadTimeline() {
    const url = "/ui/timeline?restaurant_id=" + encodeURIComponent(restaurant.value) +
                "&day=" + encodeURIComponent(day.value);
    view.innerHTML = await call("GET", url);
  }
  async function show() {
    sessionStorage.setItem("tablemend.key", keyInput.value.trim());
    try {
      if (!restaurant.value || restaurant.options.length <= 1) await loadRestaurants();
      await loadTimeline();
      say("Showing " + restaurant.options[restaurant.selectedIndex].text + " on " + day.value + ".");
    } catch (e) { say(e.message, true); }
  }

  $("controls").addEventListener("submit", (ev) => { ev.preventDefault(); show(); });
  restaurant.addEventListener("change", show);
  day.addEventListener("change", show);

  view.addEventListener("click", async (ev) => {
    const bar = ev.target.closest(".bar[data-booking]");
    if (bar) {
      try {
        detail.innerHTML = await call("GET", "/ui/booking/" + encodeURIComponent(bar.dataset.booking));
        detail.focus();
      } catch (e) { say(e.message, true); }
      return;
    }
    const plan = ev.target.closest("button.plan");
    if (plan) planRepair(plan.dataset.finding);
  });

  async function planRepair(findingId) {
    const body = { restaurant_id: restaurant.value, include: [findingId], all_safe: false };
    let p;
    try { p = await call("POST", "/doctor/plan", body); } catch (e) { say(e.message, true); return; }
    const rows = p.changes.map((c) => "<li><code>" + esc(c.op) + " " + esc(c.relation) + "</code> " +
      esc(JSON.stringify(c.pk)) + (c.changed.length ? " — " + esc(c.changed.join(", ")) : "") + "</li>").join("");
    $("plan-body").innerHTML = "<p>Finding <strong>" + esc(findingId) + "</strong>: " + p.changes.length +
      " row change(s), journalled, undoable.</p><ul id=\"plan-changes\">" + rows + "</ul>";
    dialog.returnValue = "";
    dialog.showModal();
    dialog.addEventListener("close", async function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "confirm") { say("Repair cancelled; nothing changed."); return; }
      try {
        const r = await call("POST", "/doctor/repair", body);
        await loadTimeline();
        status.className = "";
        status.innerHTML = "Repair <code>" + esc(r.repair_id) + "</code> applied (" + r.changes +
          " row change(s)). <button type=\"button\" id=\"undo\" data-repair=\"" + esc(r.repair_id) + "\">Undo</button>";
        $("undo").focus();
      } catch (e) { say(e.message, true); }
    });
  }

  status.addEventListener("click", async (ev) => {
    const undo = ev.target.closest("#undo");
    if (!undo) return;
    try {
      await call("POST", "/doctor/undo", { repair_id: undo.dataset.repair });
      await loadTimeline();
      say("Repair " + undo.dataset.repair + " undone.");
    } catch (e) { say(e.message, true); }
  });

  if (keyInput.value) show();
})();
