// Shared by the pages: the text catalogue, the session's CSRF token, API calls, keyboard
// shortcuts and the live event stream. Plain browser JavaScript, no build step.
"use strict";
const TEXT = JSON.parse(document.getElementById("text")?.textContent || "{}");
function t(key) { return TEXT[key] ?? key; }
function $(id) { return document.getElementById(id); }
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}
const session = { csrf: null, principal: null, user: null };

async function loadSession() {
  const r = await fetch("/v1/session", { credentials: "same-origin" });
  if (r.status === 401) { location.href = "/login"; throw new Error("not logged in"); }
  const s = await r.json();
  Object.assign(session, s);
  return s;
}

// A state change: JSON body, the CSRF token; the server's error message is shown as it is.
async function act(path, body, method) {
  const r = await fetch(path, {
    method: method || "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf || "" },
    body: body === undefined ? "" : JSON.stringify(body),
  });
  if (r.status === 401) { location.href = "/login"; return null; }
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    showError(data?.error?.message || r.statusText);
    return null;
  }
  showError(null);
  return data;
}

function showError(msg) {
  const e = $("error");
  if (!e) return;
  e.hidden = !msg;
  e.textContent = msg ? t("error") + ": " + msg : "";
}

async function signOut() {
  await act("/v1/session", undefined, "DELETE");
  location.href = "/login";
}

// Seconds as m:ss or h:mm:ss.
function clock(secs) {
  secs = Math.max(0, Math.floor(secs));
  const h = Math.floor(secs / 3600), m = Math.floor(secs / 60) % 60, s = secs % 60;
  const two = (n) => String(n).padStart(2, "0");
  return h ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}
function pct(x) { return x === null || x === undefined || Number.isNaN(x) ? "–" : (x * 100).toFixed(1) + " %"; }

// Show each button's shortcut on it (data-key) and for screen readers (aria-keyshortcuts).
function markKeys(root) {
  for (const b of (root || document).querySelectorAll("button[data-key]")) {
    if (b.querySelector("kbd")) continue;
    b.setAttribute("aria-keyshortcuts", b.dataset.key);
    b.append(el("kbd", { "aria-hidden": "true", text: b.dataset.key.replace("Alt+", "Alt ") }));
  }
}

// Keys: a button with data-key is pressed by its key when it is visible and enabled, and the
// focus is not in a text field.
function onKeys(extra) {
  document.addEventListener("keydown", (ev) => {
    if (extra && extra(ev)) return;
    const typing = ev.target.closest?.("input, textarea, select");
    if (typing || ev.ctrlKey || ev.metaKey) return;
    const key = (ev.altKey ? "Alt+" : "") + (ev.key.length === 1 ? ev.key.toUpperCase() : ev.key);
    for (const b of document.querySelectorAll("button[data-key]")) {
      if (b.dataset.key === key && !b.disabled && b.offsetParent !== null) {
        ev.preventDefault();
        b.click();
        return;
      }
    }
  });
}

// The live stream: every (re)connection starts with `hello` and a full snapshot, so the page
// redraws on each `hello`; EventSource reconnects by itself.
function live(handlers) {
  const conn = $("conn");
  const es = new EventSource("/v1/events", { withCredentials: true });
  const on = (name, f) => es.addEventListener(name, (ev) => {
    let data;
    try { data = JSON.parse(ev.data); } catch { return; }
    f(data);
  });
  for (const [name, f] of Object.entries(handlers)) on(name, f);
  es.addEventListener("open", () => { conn.textContent = t("connection_live"); conn.classList.remove("lost"); });
  es.addEventListener("error", async () => {
    conn.textContent = t("connection_lost"); conn.classList.add("lost");
    // A stream refused for a session that ended: back to the login.
    const r = await fetch("/v1/session", { credentials: "same-origin" }).catch(() => null);
    if (r && r.status === 401) location.href = "/login";
  });
  return es;
}
