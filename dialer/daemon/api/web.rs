//! The pages people use, served on the API listener with their assets built into the binary
//! (`dialer/daemon/web/`): `/login`, `/` (the agent desktop), `/wallboard` (supervisors).
//!
//! Every visible string comes from one catalogue (`web/text.json`, English and Russian): the
//! pages' `{{key}}` placeholders are filled on the server, and the scripts get the chosen
//! language's strings as JSON. The language is the `dialer-lang` cookie (the login page's
//! choice), else the best of `Accept-Language`, else English.
//!
//! The pages ask for a session: without one, `/` and `/wallboard` redirect to `/login`; an
//! agent's session gets a 403 page at `/wallboard`; a supervisor's at `/` goes to the wallboard.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::extract::Path as UrlPath;

use super::people::{SESSION_COOKIE, cookie};
use super::*;

/// The language cookie's name.
pub const LANG_COOKIE: &str = "dialer-lang";
/// The languages of the catalogue; the first is the default.
pub const LANGS: [&str; 2] = ["en", "ru"];

const TEXT: &str = include_str!("../web/text.json");
const LOGIN: &str = include_str!("../web/login.html");
const DESKTOP: &str = include_str!("../web/desktop.html");
const WALLBOARD: &str = include_str!("../web/wallboard.html");
const FORBIDDEN: &str = include_str!("../web/forbidden.html");

/// The static assets: name, content type, bytes.
const ASSETS: [(&str, &str, &str); 5] = [
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../web/app.css"),
    ),
    (
        "common.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/common.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/login.js"),
    ),
    (
        "desktop.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/desktop.js"),
    ),
    (
        "wallboard.js",
        "text/javascript; charset=utf-8",
        include_str!("../web/wallboard.js"),
    ),
];

type Catalogue = BTreeMap<String, BTreeMap<String, String>>;

/// The catalogue, parsed once (its shape is checked by the unit tests below).
fn catalogue() -> &'static Catalogue {
    static C: OnceLock<Catalogue> = OnceLock::new();
    C.get_or_init(|| serde_json::from_str(TEXT).unwrap_or_default())
}

pub(super) fn routes() -> Router<Api> {
    Router::new()
        .route("/login", get(login_page))
        .route("/", get(desktop_page))
        .route("/wallboard", get(wallboard_page))
        .route("/assets/{name}", get(asset))
}

/// The language for this request: the cookie, else `Accept-Language`, else English.
pub(super) fn language(headers: &HeaderMap) -> &'static str {
    if let Some(l) = cookie(headers, LANG_COOKIE)
        && let Some(found) = LANGS.iter().find(|x| **x == l)
    {
        return found;
    }
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut best: Option<(&'static str, f32)> = None;
    for part in accept.split(',') {
        let mut it = part.split(';');
        let tag = it.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = it
            .find_map(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .unwrap_or(1.0);
        let primary = tag.split('-').next().unwrap_or("");
        if let Some(l) = LANGS.iter().find(|x| **x == primary)
            && best.is_none_or(|(_, bq)| q > bq)
        {
            best = Some((l, q));
        }
    }
    best.map_or(LANGS[0], |(l, _)| l)
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with its placeholders filled: `{{lang}}`, `{{catalogue}}` (the language's strings as
/// JSON for the scripts) and `{{key}}` (a string, HTML-escaped).
pub(super) fn render(template: &str, lang: &str) -> String {
    let empty = BTreeMap::new();
    let text = catalogue().get(lang).unwrap_or(&empty);
    let mut out = String::with_capacity(template.len() + 4096);
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else {
            out.push_str(&rest[i..]);
            rest = "";
            break;
        };
        let key = &after[..j];
        match key {
            "lang" => out.push_str(lang),
            // Inside <script type="application/json">: no `<` may close the element.
            "catalogue" => out.push_str(
                &serde_json::to_string(text)
                    .unwrap_or_default()
                    .replace('<', "\\u003c"),
            ),
            k => out.push_str(&escape(text.get(k).map_or(k, String::as_str))),
        }
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

fn page(status: StatusCode, body: String, lang: &str) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(v) = HeaderValue::from_str(lang) {
        h.insert(header::CONTENT_LANGUAGE, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    r
}

fn to_login() -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/login"));
    r
}

fn redirect(to: &'static str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

/// The session's principal, if the request has a live one.
fn who(api: &Api, headers: &HeaderMap) -> Option<Principal> {
    let id = cookie(headers, SESSION_COOKIE)?;
    api.inner.people.resolve(id, Instant::now()).ok()
}

async fn login_page(headers: HeaderMap) -> Response {
    let lang = language(&headers);
    page(StatusCode::OK, render(LOGIN, lang), lang)
}

async fn desktop_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    let lang = language(&headers);
    match who(&api, &headers) {
        None => to_login(),
        Some(Principal::Supervisor) => redirect("/wallboard"),
        Some(Principal::Agent(_)) => page(StatusCode::OK, render(DESKTOP, lang), lang),
    }
}

async fn wallboard_page(State(api): State<Api>, headers: HeaderMap) -> Response {
    let lang = language(&headers);
    match who(&api, &headers) {
        None => to_login(),
        Some(Principal::Agent(_)) => page(StatusCode::FORBIDDEN, render(FORBIDDEN, lang), lang),
        Some(Principal::Supervisor) => page(StatusCode::OK, render(WALLBOARD, lang), lang),
    }
}

async fn asset(UrlPath(name): UrlPath<String>) -> Response {
    let Some((_, kind, body)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return not_found().await.into_response();
    };
    let mut r = (StatusCode::OK, *body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    // Built into the binary: a new binary may change them, so revalidate.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_in(text: &str, open: &str, close: char) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + open.len()..];
            let Some(j) = after.find(close) else { break };
            out.push(after[..j].to_string());
            rest = &after[j..];
        }
        out
    }

    /// The keys of `t("key")` calls (not `fetch("…")` and the like).
    fn text_keys(script: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (i, _) in script.match_indices("t(\"") {
            let before = script[..i].chars().next_back().unwrap_or(' ');
            if before.is_alphanumeric() || before == '_' || before == '.' {
                continue;
            }
            let after = &script[i + 3..];
            if let Some(j) = after.find('"') {
                out.push(after[..j].to_string());
            }
        }
        out
    }

    #[test]
    fn the_catalogue_has_every_string_in_every_language() {
        let c: Catalogue = serde_json::from_str(TEXT).expect("web/text.json parses");
        let langs: Vec<&str> = c.keys().map(String::as_str).collect();
        let mut want = LANGS.to_vec();
        want.sort_unstable();
        assert_eq!(langs, want);
        let en = &c["en"];
        for (lang, strings) in &c {
            for k in en.keys() {
                let v = strings.get(k);
                assert!(
                    v.is_some_and(|v| !v.trim().is_empty()),
                    "{lang} has no text for {k:?}"
                );
            }
            for k in strings.keys() {
                assert!(en.contains_key(k), "{lang} has {k:?} that English has not");
            }
        }
        assert_ne!(c["en"]["login_title"], c["ru"]["login_title"]);
    }

    #[test]
    fn every_key_the_pages_and_scripts_use_is_in_the_catalogue() {
        let en = &catalogue()["en"];
        for (name, page) in [
            ("login.html", LOGIN),
            ("desktop.html", DESKTOP),
            ("wallboard.html", WALLBOARD),
            ("forbidden.html", FORBIDDEN),
        ] {
            for k in keys_in(page, "{{", '}') {
                assert!(
                    k == "lang" || k == "catalogue" || en.contains_key(&k),
                    "{name} uses {{{{{k}}}}}, not in the catalogue"
                );
            }
            let rendered = render(page, "ru");
            assert!(!rendered.contains("{{"), "{name} keeps a placeholder");
        }
        for (name, _, script) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for k in text_keys(script).into_iter().filter(|k| !k.ends_with('_')) {
                assert!(
                    en.contains_key(&k),
                    "{name} uses t({k:?}), not in the catalogue"
                );
            }
            // States and controls are looked up by prefix: each one has its text.
            for prefix in ["state_", "control_"] {
                if script.contains(&format!("t(\"{prefix}\" +")) {
                    let states: &[&str] = if prefix == "state_" {
                        &[
                            "logged_out",
                            "connecting",
                            "ready",
                            "preview",
                            "on_call",
                            "wrap_up",
                            "paused",
                        ]
                    } else {
                        &["running", "paused", "stopped"]
                    };
                    for s in states {
                        assert!(en.contains_key(&format!("{prefix}{s}")), "{prefix}{s}");
                    }
                }
            }
        }
    }

    #[test]
    fn pages_are_rendered_escaped_in_the_chosen_language() {
        let ru = render(LOGIN, "ru");
        assert!(ru.contains("<html lang=\"ru\">"));
        assert!(ru.contains("Пароль"));
        assert!(!ru.contains("Password</label>"));
        let en = render("<p>{{login_title}}</p><script>{{catalogue}}</script>", "en");
        assert!(en.starts_with("<p>Log in</p>"), "{en}");
        assert!(!en[10..].contains("</p"));
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        // An unknown key shows itself rather than nothing.
        assert_eq!(render("{{no_such_key}}", "en"), "no_such_key");
    }

    #[test]
    fn the_language_is_the_cookie_else_accept_language() {
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(
                    axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        assert_eq!(language(&h(&[])), "en");
        assert_eq!(
            language(&h(&[("accept-language", "ru-RU,ru;q=0.9,en;q=0.8")])),
            "ru"
        );
        assert_eq!(
            language(&h(&[("accept-language", "de, en;q=0.5, ru;q=0.7")])),
            "ru"
        );
        assert_eq!(language(&h(&[("accept-language", "fr")])), "en");
        assert_eq!(
            language(&h(&[
                ("accept-language", "ru"),
                ("cookie", "dialer-lang=en")
            ])),
            "en"
        );
        assert_eq!(
            language(&h(&[
                ("accept-language", "en"),
                ("cookie", "dialer-lang=xx")
            ])),
            "en"
        );
        assert_eq!(language(&h(&[("cookie", "a=b; dialer-lang=ru")])), "ru");
    }
}
