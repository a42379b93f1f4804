// The agent desktop: the agent's state and time in it, Ready / Pause / Log out, the screen pop,
// hang up, dispositions with notes and a callback picker, preview dial and skip. Live by the
// event stream only; each action's answer also redraws the agent at once.
"use strict";
const DEFAULT_REASONS = [{ code: "break", label: "break" }, { code: "lunch", label: "lunch" },
  { code: "training", label: "training" }, { code: "meeting", label: "meeting" }];
const desk = { me: null, agent: null, recPaused: false, seen: 0, lead: null, leadSeen: 0, reasons: DEFAULT_REASONS,
  pending: null };

function agentPath(action) { return `/v1/agents/${encodeURIComponent(desk.me)}/${action}`; }

function setAgent(a) {
  if (!a || a.id !== desk.me) return;
  desk.agent = a;
  desk.seen = performance.now();
  renderAgent();
}

function setLead(lead) {
  desk.lead = lead;
  desk.leadSeen = performance.now();
  renderLead();
  renderAgent();
}

function renderAgent() {
  const a = desk.agent;
  const state = a ? a.state : "logged_out";
  const s = $("state");
  s.className = "state " + state;
  s.textContent = t("state_" + state) + (state === "paused" && a.pause_reason ? " · " + reasonLabel(a.pause_reason) : "");
  const loggedOut = state === "logged_out";
  $("btn-login").hidden = !loggedOut;
  $("btn-ready").hidden = loggedOut;
  $("btn-pause").hidden = loggedOut;
  $("btn-ready").disabled = ["ready", "connecting", "on_call", "wrap_up", "preview"].includes(state);
  $("btn-pause").disabled = state === "connecting";
  const hasLead = !!desk.lead;
  $("btn-hangup").hidden = state !== "on_call";
  // The recording's pause lasts while the call does (the server ends it with the call).
  if (state !== "on_call") desk.recPaused = false;
  $("btn-rec-pause").hidden = state !== "on_call" || desk.recPaused;
  $("btn-rec-resume").hidden = state !== "on_call" || !desk.recPaused;
  $("btn-dial").hidden = !(state === "preview" && hasLead && desk.lead.preview !== false);
  $("btn-skip").hidden = $("btn-dial").hidden;
  $("call-box").hidden = $("btn-hangup").hidden && $("btn-dial").hidden;
  $("dispo-box").hidden = !(hasLead && (state === "on_call" || state === "wrap_up"));
  if ($("dispo-box").hidden) $("callback").hidden = true;
  tick();
}

function reasonLabel(code) {
  return desk.reasons.find((r) => r.code === code)?.label ?? code;
}

function tick() {
  const a = desk.agent;
  if (!a) { $("elapsed").textContent = ""; return; }
  const secs = a.seconds_in_state + (performance.now() - desk.seen) / 1000;
  $("elapsed").textContent = clock(secs);
  if (desk.lead && desk.lead.local_time) $("lead-time").textContent = leadNow().text;
  if (!$("callback").hidden) $("cb-now").textContent = leadNow().text;
}

// The lead's offset in minutes from its RFC 3339 local time.
function offsetOf(rfc3339) {
  const m = /([+-])(\d{2}):?(\d{2})$/.exec(rfc3339 || "");
  if (!m) return 0;
  return (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}
// The lead's wall clock now: a Date whose UTC fields are the lead's local fields.
function leadNow() {
  const lt = desk.lead.local_time;
  const off = offsetOf(lt);
  const epoch = Date.parse(lt) + (performance.now() - desk.leadSeen);
  const wall = new Date(epoch + off * 60000);
  const text = wall.toISOString().slice(11, 16) + " " + (desk.lead.timezone || offsetText(off));
  return { wall, off, epoch, text };
}
function offsetText(off) {
  const sign = off < 0 ? "-" : "+", a = Math.abs(off);
  return "UTC" + sign + String(Math.floor(a / 60)).padStart(2, "0") + ":" + String(a % 60).padStart(2, "0");
}

function renderLead() {
  const lead = desk.lead;
  $("no-lead").hidden = !!lead;
  $("lead").hidden = !lead;
  $("script-box").hidden = true;
  if (!lead) { $("dispositions").replaceChildren(); return; }
  $("preview-note").hidden = !lead.preview;
  $("lead-name").textContent = lead.name ?? "–";
  $("lead-phone").textContent = lead.phone;
  $("lead-time").textContent = lead.local_time ? leadNow().text : (lead.timezone ?? "–");
  $("lead-campaign").textContent = lead.campaign;
  $("lead-attempts").textContent = lead.attempts;
  const attrs = $("attributes");
  attrs.replaceChildren();
  const a = lead.attributes && typeof lead.attributes === "object" ? lead.attributes : {};
  for (const [k, v] of Object.entries(a)) {
    attrs.append(el("dt", { text: k }), el("dd", { text: typeof v === "object" ? JSON.stringify(v) : String(v) }));
  }
  const body = $("history").tBodies[0];
  body.replaceChildren();
  const history = lead.history || [];
  if (!history.length) body.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: t("history_none") })));
  for (const h of history) {
    body.append(el("tr", {}, el("td", { text: (h.at || "").replace("T", " ").slice(0, 16) }),
      el("td", { text: h.outcome ?? "" }), el("td", { text: h.disposition ?? "" }),
      el("td", { text: h.notes ?? "" }), el("td", { text: h.agent ?? "" })));
  }
  renderScript(lead);
  renderDispositions(lead);
}

function renderScript(lead) {
  const script = lead.script;
  if (!script || (!script.text && !(script.questions || []).length)) return;
  $("script-box").hidden = false;
  $("script-text").textContent = script.text ?? "";
  $("script-text").hidden = !script.text;
  const box = $("questions");
  box.replaceChildren();
  let n = 0;
  for (const q of script.questions || []) {
    const given = (lead.answers || {})[q.id];
    const row = el("div", { class: "row wrap", role: "group", "aria-labelledby": "q-" + q.id });
    for (const ans of q.answers || []) {
      n += 1;
      row.append(el("button", {
        type: "button", "data-key": n <= 9 ? "Alt+" + n : null, "aria-pressed": String(given === ans.key),
        text: ans.label, onclick: () => answer(q.id, ans.key),
      }));
    }
    box.append(el("div", { class: "question" }, el("p", { id: "q-" + q.id, text: q.text }), row));
  }
  markKeys(box);
}

function renderDispositions(lead) {
  const box = $("dispositions");
  box.replaceChildren();
  (lead.dispositions || []).forEach((d, i) => {
    box.append(el("button", {
      type: "button", "data-key": i < 9 ? String(i + 1) : null, "data-code": d.code,
      text: d.label || d.code, onclick: () => dispose(d),
    }));
  });
  markKeys(box);
}

async function answer(question, key) {
  const r = await act(agentPath("answer"), { question, answer: key });
  if (r && desk.lead) {
    desk.lead.answers = Object.assign({}, desk.lead.answers, { [question]: key });
    renderScript(desk.lead);
  }
}

async function dispose(d) {
  if (d.callback) {
    desk.pending = d;
    $("callback").hidden = false;
    const h = desk.lead.hours;
    $("cb-hours").textContent = h ? `${h.start}–${h.end}, ${(h.days && h.days.length < 7) ? h.days.join(" ") : t("days_all")}` : "–";
    tick();
    $("callback-at").focus();
    return;
  }
  await post("disposition", { code: d.code, notes: $("notes").value || null });
}

// The picker's value (the lead's wall clock) as RFC 3339 with the lead's offset.
function callbackAt() {
  const v = $("callback-at").value;
  if (!v) return null;
  const off = desk.lead.local_time ? offsetOf(desk.lead.local_time) : 0;
  const sign = off < 0 ? "-" : "+", a = Math.abs(off);
  return `${v.length === 16 ? v + ":00" : v}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

// Inside the campaign's hours (the server checks too and has the last word).
function insideHours(localValue) {
  const h = desk.lead.hours;
  if (!h || !localValue) return true;
  const wall = new Date(localValue + "Z");
  const hm = localValue.slice(11, 16);
  const day = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"][wall.getUTCDay()];
  const dayOk = !h.days || !h.days.length || h.days.includes(day);
  return dayOk && hm >= h.start && hm < h.end;
}

function pick(wall) { $("callback-at").value = wall.toISOString().slice(0, 16); }
function pickIn(hours) {
  const now = leadNow().wall;
  const w = new Date(now.getTime() + hours * 3600000);
  w.setUTCSeconds(0, 0);
  w.setUTCMinutes(Math.ceil(w.getUTCMinutes() / 5) * 5);
  pick(w);
}
function pickTomorrow() {
  const w = new Date(leadNow().wall.getTime() + 86400000);
  const [hh, mm] = (desk.lead.hours?.start || "10:00").split(":").map(Number);
  w.setUTCHours(hh, mm, 0, 0);
  pick(w);
}

async function saveCallback() {
  const d = desk.pending;
  const v = $("callback-at").value;
  if (!d) return;
  if (!v) { showError(t("callback_missing")); return; }
  if (!insideHours(v)) { showError(t("callback_outside") + ` (${$("cb-hours").textContent})`); return; }
  const ok = await post("disposition", { code: d.code, notes: $("notes").value || null, callback_at: callbackAt() });
  if (ok) { $("callback").hidden = true; desk.pending = null; }
}

async function post(action, body) {
  const r = await act(agentPath(action), body);
  if (r && r.agent) setAgent(r.agent);
  if (r && action === "disposition") $("notes").value = "";
  return r;
}

function openPause(open) {
  const menu = $("pause-menu");
  menu.hidden = !open;
  $("btn-pause").setAttribute("aria-expanded", String(open));
  if (open) menu.querySelector("button")?.focus();
}

function renderReasons() {
  const menu = $("pause-menu");
  menu.replaceChildren();
  desk.reasons.forEach((r, i) => {
    menu.append(el("li", { role: "none" }, el("button", {
      type: "button", role: "menuitem", "data-reason": r.code,
      onclick: async () => { openPause(false); await post("pause", { reason: r.code }); },
    }, r.label, i < 9 ? el("kbd", { "aria-hidden": "true", text: String(i + 1) }) : null)));
  });
}

async function snapshot() {
  // The first draw before the stream's snapshot arrives (and after each reconnection the stream
  // redraws everything anyway).
  const a = await fetch(agentPath("").slice(0, -1), { credentials: "same-origin" }).then((r) => r.ok ? r.json() : null).catch(() => null);
  if (a && a.agent && !desk.agent) setAgent(a.agent);
  const l = await fetch(agentPath("lead"), { credentials: "same-origin" }).then((r) => r.ok ? r.json() : null).catch(() => null);
  if (l && desk.leadSeen === 0) setLead(l.lead);
}

// The phone in the page (phone = "browser"): the microphone to the daemon and the call to the
// speaker over WebRTC, signalled through the desktop's own API; the microphone's state and a
// level meter; a lost connection is made again (the dialer waits for it, the agent
// `connecting`), and leaving the page hangs up.
const phone = { pc: null, stream: null, ctx: null, retries: 0, timer: null };
window.deskPhone = phone;

function setPhoneState(key, lost) {
  const e = $("phone-state");
  e.textContent = t(key);
  e.classList.toggle("lost", !!lost);
}

function setMic(key) {
  const e = $("mic-state");
  e.textContent = t("mic_" + key);
  e.className = "mic " + key;
  e.dataset.state = key;
}

// The microphone's level: RMS of the analyser's samples, drawn each frame.
function meter(stream) {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const ctx = new Ctx();
  phone.ctx = ctx;
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  const draw = () => {
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (const x of buf) sum += x * x;
    $("mic-level").value = Math.min(1, Math.sqrt(sum / buf.length) * 2);
    requestAnimationFrame(draw);
  };
  draw();
  // Browsers start audio only after a gesture on the page.
  const resume = () => { if (ctx.state !== "running") ctx.resume().catch(() => {}); };
  resume();
  document.addEventListener("click", resume);
  document.addEventListener("keydown", resume);
}

function phoneRetry() {
  if (phone.timer) return;
  const delay = Math.min(30000, 1000 * 2 ** Math.min(phone.retries, 5));
  phone.retries += 1;
  setPhoneState("phone_lost", true);
  phone.timer = setTimeout(() => { phone.timer = null; connectPhone(); }, delay);
}

async function connectPhone() {
  setPhoneState("phone_connecting");
  if (!phone.stream) {
    try {
      phone.stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true } });
    } catch (e) {
      setMic("denied");
      setPhoneState("phone_no_mic", true);
      return;
    }
    const track = phone.stream.getAudioTracks()[0];
    const micState = () => setMic(track.muted || !track.enabled ? "muted" : "allowed");
    track.addEventListener("mute", micState);
    track.addEventListener("unmute", micState);
    micState();
    meter(phone.stream);
  }
  if (phone.pc) phone.pc.close();
  const pc = new RTCPeerConnection();
  phone.pc = pc;
  for (const track of phone.stream.getAudioTracks()) pc.addTrack(track, phone.stream);
  pc.addEventListener("track", (ev) => {
    $("phone-audio").srcObject = ev.streams[0] || new MediaStream([ev.track]);
  });
  pc.addEventListener("connectionstatechange", () => {
    if (phone.pc !== pc) return;
    if (pc.connectionState === "connected") { phone.retries = 0; setPhoneState("phone_connected"); }
    if (["failed", "closed", "disconnected"].includes(pc.connectionState)) { pc.close(); phoneRetry(); }
  });
  try {
    await pc.setLocalDescription(await pc.createOffer());
    // The offer with the page's candidates (the daemon is ICE-lite and never sends its own
    // checks); at most 2 s of gathering.
    await new Promise((done) => {
      if (pc.iceGatheringState === "complete") return done();
      const timer = setTimeout(done, 2000);
      pc.addEventListener("icegatheringstatechange", () => {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); done(); }
      });
    });
    const r = await act(agentPath("phone"), { type: "offer", sdp: pc.localDescription.sdp });
    if (!r) { pc.close(); phoneRetry(); return; }
    await pc.setRemoteDescription({ type: "answer", sdp: r.sdp });
  } catch (e) {
    showError(String(e));
    pc.close();
    phoneRetry();
  }
}

async function startPhone() {
  const r = await fetch(agentPath("phone"), { credentials: "same-origin" }).then((x) => x.ok ? x.json() : null).catch(() => null);
  if (!r || !r.phone || !r.phone.browser) return;
  $("phone").hidden = false;
  // Leaving the page hangs up its phone at once (else the daemon notices within seconds).
  window.addEventListener("pagehide", () => {
    if (phone.pc) phone.pc.close();
    fetch(agentPath("phone"), { method: "DELETE", keepalive: true, credentials: "same-origin",
      headers: { "X-CSRF-Token": session.csrf || "" } }).catch(() => {});
  });
  connectPhone();
}

async function main() {
  const s = await loadSession();
  if (s.principal.role !== "agent") { location.href = "/wallboard"; return; }
  desk.me = s.principal.id;
  $("me").textContent = desk.me;
  renderReasons();
  markKeys();
  $("btn-login").onclick = () => post("login");
  $("btn-ready").onclick = () => post("ready");
  $("btn-pause").onclick = () => openPause($("pause-menu").hidden);
  $("btn-hangup").onclick = () => post("hangup");
  const recording = (paused) => async () => {
    if (await post(paused ? "recording/pause" : "recording/resume")) {
      desk.recPaused = paused;
      renderAgent();
    }
  };
  $("btn-rec-pause").onclick = recording(true);
  $("btn-rec-resume").onclick = recording(false);
  $("btn-dial").onclick = () => post("dial");
  $("btn-skip").onclick = () => post("skip");
  $("btn-logout").onclick = async () => {
    if (desk.agent && desk.agent.state !== "logged_out") {
      const r = await act(agentPath("logout"));
      if (!r) return;
    }
    await signOut();
  };
  $("cb-1h").onclick = () => pickIn(1);
  $("cb-2h").onclick = () => pickIn(2);
  $("cb-tomorrow").onclick = pickTomorrow;
  $("cb-save").onclick = saveCallback;
  $("cb-cancel").onclick = () => { $("callback").hidden = true; desk.pending = null; };
  $("callback-at").addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); saveCallback(); } });
  onKeys((ev) => {
    if (ev.key === "Escape") { openPause(false); $("callback").hidden = true; desk.pending = null; return true; }
    if (!$("pause-menu").hidden && /^[1-9]$/.test(ev.key)) {
      $("pause-menu").querySelectorAll("button")[Number(ev.key) - 1]?.click();
      ev.preventDefault();
      return true;
    }
    if (ev.key.toUpperCase() === "N" && !ev.target.closest?.("input, textarea") && !$("dispo-box").hidden) {
      ev.preventDefault(); $("notes").focus(); return true;
    }
    return false;
  });
  setInterval(tick, 500);
  live({
    hello: (h) => {
      if (Array.isArray(h.pause_reasons) && h.pause_reasons.length) desk.reasons = h.pause_reasons;
      desk.agent = null; desk.lead = null; desk.leadSeen = performance.now();
      renderReasons(); renderLead(); renderAgent();
    },
    agent: (m) => setAgent(m.agent),
    lead: (m) => { if (m.agent === desk.me) setLead(m.lead); },
  });
  snapshot();
  startPhone();
}
main();
