// The supervisor's wallboard: agents by state with time in state, each campaign's figures and
// controls, charts of occupancy and abandon rate over the shift. Live by the event stream only.
"use strict";
const ORDER = ["on_call", "wrap_up", "preview", "ready", "paused", "connecting", "logged_out"];
// Past these a wrap-up or a pause stands out.
const LONG = { wrap_up: 60, paused: 600 };
const COLORS = ["#1f6feb", "#1a7f37", "#b35900", "#6f42c1", "#0b7a75", "#c62828"];
const board = { agents: new Map(), campaigns: [], points: [], reasons: [{ code: "break", label: "break" }] };

function setAgent(a) { board.agents.set(a.id, { a, seen: performance.now() }); renderAgents(); }

function secsOf(entry) { return entry.a.seconds_in_state + (performance.now() - entry.seen) / 1000; }

function renderAgents() {
  const box = $("agents");
  const groups = new Map(ORDER.map((s) => [s, []]));
  for (const e of board.agents.values()) (groups.get(e.a.state) || groups.set(e.a.state, []).get(e.a.state)).push(e);
  box.replaceChildren();
  for (const [state, list] of groups) {
    if (!list.length) continue;
    list.sort((x, y) => secsOf(y) - secsOf(x));
    const g = el("div", { class: "agent-group", role: "group", "aria-label": t("state_" + state) },
      el("h3", {}, el("span", { class: "state " + state, text: t("state_" + state) }), " " + list.length));
    for (const e of list) {
      const secs = secsOf(e);
      const long = LONG[state] !== undefined && secs > LONG[state];
      const row = el("div", { class: "agent-row" + (long ? " long" : ""), "data-agent": e.a.id },
        el("span", { class: "name", text: e.a.id }),
        el("span", { class: "elapsed", "data-elapsed": e.a.id, text: clock(secs) }),
        long ? el("span", { class: "long", text: t("long_state") }) : null,
        state === "paused" && e.a.pause_reason ? el("span", { class: "muted", text: reasonLabel(e.a.pause_reason) }) : null,
        el("span", { class: "buttons" },
          state !== "logged_out" && state !== "paused"
            ? el("button", { type: "button", "data-action": "pause", "aria-label": `${t("action_pause")} ${e.a.id}`,
                text: `${t("action_pause")} (${board.reasons[0].label})`, onclick: () => agentAct(e.a.id, "pause", { reason: board.reasons[0].code }) })
            : null,
          state !== "logged_out"
            ? el("button", { type: "button", "data-action": "logout", "aria-label": `${t("action_logout")} ${e.a.id}`,
                text: t("action_logout"), onclick: () => agentAct(e.a.id, "logout") })
            : null));
      g.append(row);
    }
    box.append(g);
  }
  if (!board.agents.size) box.append(el("p", { class: "muted", text: t("nobody") }));
}

function reasonLabel(code) { return board.reasons.find((r) => r.code === code)?.label ?? code; }

async function agentAct(id, action, body) {
  const r = await act(`/v1/agents/${encodeURIComponent(id)}/${action}`, body);
  if (r && r.agent) setAgent(r.agent);
}

async function campaignAct(name, action) {
  const r = await act(`/v1/campaigns/${encodeURIComponent(name)}/${action}`);
  if (r && r.campaign) {
    const i = board.campaigns.findIndex((c) => c.name === name);
    if (i >= 0) board.campaigns[i] = Object.assign({}, board.campaigns[i], r.campaign);
    renderCampaigns();
  }
}

function renderCampaigns() {
  const body = $("campaigns").tBodies[0];
  body.replaceChildren();
  for (const c of board.campaigns) {
    const rate = c.abandon_rate, cap = c.abandon_cap;
    const near = rate !== null && rate !== undefined && cap && rate >= cap * 0.8;
    const waiting = c.waiting ?? c.waiting_for_agent;
    const decision = c.last_decision;
    const decisionText = decision && typeof decision === "object"
      ? [decision.dials !== undefined ? `${decision.dials} ×` : null, decision.reason ?? decision.why ?? null].filter(Boolean).join(" ") || JSON.stringify(decision)
      : (decision ?? "–");
    const btn = (action, label, key) => el("button", {
      type: "button", "data-campaign": c.name, "data-action": action, "aria-label": `${label} ${c.name}`,
      disabled: (action === "start" && c.control === "running") || (action === "pause" && c.control === "paused") || (action === "stop" && c.control === "stopped"),
      text: label, onclick: () => campaignAct(c.name, action),
    });
    body.append(el("tr", { "data-campaign": c.name },
      el("th", { scope: "row", text: c.name }),
      el("td", {}, el("span", { class: "badge " + c.control, text: t("control_" + c.control) })),
      el("td", { text: String(c.dials ?? 0) }),
      el("td", { text: String(c.live_answers ?? 0) }),
      el("td", { class: near ? "over" : "" , text: `${pct(rate)} / ${t("abandon_cap")} ${pct(cap)}` }),
      el("td", { text: c.lines_per_agent === undefined || c.lines_per_agent === null ? "–" : Number(c.lines_per_agent).toFixed(2) }),
      el("td", { text: pct(c.occupancy) }),
      el("td", { text: String(waiting ?? 0) }),
      el("td", { text: String(c.calls_in_flight ?? 0) }),
      el("td", { class: "muted", text: decisionText }),
      el("td", {}, el("span", { class: "row" }, btn("start", t("action_start")), btn("pause", t("action_pause")), btn("stop", t("action_stop"))))));
  }
}

// A line chart in SVG: series of [time, value 0..1] with optional dashed cap lines.
function chart(box, series, caps) {
  const W = 600, H = 120, P = 22;
  const pts = series.flatMap((s) => s.points);
  if (!pts.length) { box.replaceChildren(el("p", { class: "muted", text: t("no_points") })); return; }
  const t0 = Math.min(...pts.map((p) => p[0])), t1 = Math.max(...pts.map((p) => p[0]), t0 + 1);
  const top = Math.max(0.05, ...pts.map((p) => p[1]), ...caps.map((c) => c.value)) * 1.1;
  const x = (v) => P + (v - t0) / (t1 - t0) * (W - P - 4), y = (v) => H - P + 4 - v / top * (H - P);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text) e.textContent = text;
    svg.append(e);
  };
  add("line", { class: "axis", x1: P, y1: y(0), x2: W, y2: y(0) });
  add("text", { x: 0, y: y(top / 1.1) + 8 }, pct(top / 1.1).replace(" ", ""));
  add("text", { x: 0, y: y(0) }, "0");
  for (const c of caps) add("line", { class: "cap", x1: P, y1: y(c.value), x2: W, y2: y(c.value), stroke: c.color });
  series.forEach((s, i) => {
    if (!s.points.length) return;
    add("polyline", { fill: "none", stroke: s.color, "stroke-width": 2,
      points: s.points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") });
    const last = s.points[s.points.length - 1];
    add("circle", { cx: x(last[0]).toFixed(1), cy: y(last[1]).toFixed(1), r: 3, fill: s.color });
    add("text", { x: W - 4, y: 12 + i * 12, fill: s.color, "text-anchor": "end" }, `${s.name} ${pct(last[1])}`);
  });
  box.replaceChildren(svg);
  svg.setAttribute("aria-label", series.map((s) => `${s.name}: ${s.points.length ? pct(s.points[s.points.length - 1][1]) : "–"}`).join(", "));
}

function renderCharts() {
  const at = (p) => Date.parse(p.at);
  chart($("chart-occupancy"), [{ name: t("occupancy"), color: COLORS[0], points: board.points.map((p) => [at(p), p.occupancy ?? 0]) }], []);
  const names = [...new Set(board.points.flatMap((p) => Object.keys(p.campaigns || {})))];
  const series = names.map((n, i) => ({ name: n, color: COLORS[i % COLORS.length],
    points: board.points.filter((p) => p.campaigns?.[n]).map((p) => [at(p), p.campaigns[n].abandon_rate ?? 0]) }));
  const caps = names.map((n, i) => {
    const last = [...board.points].reverse().find((p) => p.campaigns?.[n]);
    return { value: last?.campaigns[n].cap ?? 0, color: COLORS[i % COLORS.length] };
  }).filter((c) => c.value > 0);
  chart($("chart-abandon"), series, caps);
}

function tick() {
  for (const e of board.agents.values()) {
    const span = document.querySelector(`[data-elapsed="${CSS.escape(e.a.id)}"]`);
    if (span) span.textContent = clock(secsOf(e));
  }
  $("clock").textContent = new Date().toLocaleTimeString();
}

async function snapshot() {
  const get = (p) => fetch(p, { credentials: "same-origin" }).then((r) => r.ok ? r.json() : null).catch(() => null);
  const a = await get("/v1/agents");
  if (a && !board.agents.size) for (const x of a.agents) board.agents.set(x.id, { a: x, seen: performance.now() });
  const c = await get("/v1/campaigns");
  if (c && !board.campaigns.length) board.campaigns = c.campaigns;
  renderAgents(); renderCampaigns(); renderCharts();
}

async function main() {
  const s = await loadSession();
  if (s.principal.role !== "supervisor") { location.href = "/"; return; }
  $("me").textContent = s.user;
  $("btn-signout").onclick = signOut;
  markKeys();
  onKeys();
  setInterval(tick, 1000);
  setInterval(renderAgents, 5000);
  live({
    hello: (h) => {
      if (Array.isArray(h.pause_reasons) && h.pause_reasons.length) board.reasons = h.pause_reasons;
      board.agents.clear(); board.campaigns = []; board.points = [];
      renderAgents(); renderCampaigns(); renderCharts();
    },
    agent: (m) => setAgent(m.agent),
    campaigns: (m) => { board.campaigns = m.campaigns || []; renderCampaigns(); },
    series: (m) => { board.points = m.points || []; renderCharts(); },
    point: (p) => { board.points.push(p); renderCharts(); },
  });
  snapshot();
}
main();
