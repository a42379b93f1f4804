"use strict";
$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { id: $("id").value.trim(), password: $("password").value };
  const r = await fetch("/v1/session", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    $("error").textContent = t("login_failed") + ": " + (data?.error?.message || r.statusText);
    $("password").value = "";
    $("password").focus();
    return;
  }
  location.href = data.principal?.role === "supervisor" ? "/wallboard" : "/";
});
for (const b of document.querySelectorAll("[data-lang]")) {
  b.addEventListener("click", () => {
    document.cookie = "dialer-lang=" + b.dataset.lang + "; Path=/; Max-Age=31536000; SameSite=Strict";
    location.reload();
  });
}
