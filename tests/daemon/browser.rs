//! The agent desktop and the wallboard in a real browser: headless Chromium driven through
//! chromedriver (WebDriver, with fantoccini) against `dialer run` (a child process) and the
//! simulated carrier and agent phones on 127.0.0.1.
//!
//! - `people_are_kept_to_their_own_pages`: the login page in Russian by the page's choice; five
//!   wrong passwords lock the account (even the right one is then refused); an agent's session
//!   gets the 403 page at `/wallboard`, 403 acting for another agent or reading every agent, and
//!   403 `csrf` for a state change without the session's token; no session → `/login`.
//! - `an_agent_works_a_call_and_a_supervisor_pauses_the_campaign`: a supervisor starts the
//!   campaign from the wallboard; an agent logs in, goes ready, a person is connected and the
//!   screen pop shows that lead's phone and attributes; the agent hangs up, picks a callback in
//!   two hours, and the store holds the disposition and the callback time; during the call the
//!   agent pauses the call's recording with its key (M) and resumes it with the button, and the
//!   store holds that interval with the attempt; the supervisor pauses the campaign from the
//!   wallboard and no new dial follows while the agent is ready.
//!
//! - `the_demo_wallboard_draws_the_shift`: `dialer demo --supervisor sue` (its password on
//!   standard input); sue logs in to the URL it prints and the wallboard's charts draw the
//!   demo's shift, point by point (10 s apart), while the demo dials.
//!
//! Screenshots (desktop idle, screen pop, wrap-up; the demo's wallboard with 3 points) go to
//! `target/tmp/screenshots/`, and to `docs/tour/` with `DIALER_SAVE_SCREENSHOTS=1`.
//!
//! Without chromium or chromedriver each test prints `SKIPPED:` and passes, unless
//! `DIALER_REQUIRE_CHROMIUM=1` (CI), where it fails. Every wait polls for its condition.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dialer::media::driver::{Driver as Media, DriverConfig};
use dialer::simnet::{
    AgentDesk, AgentPhones, AgentsConfig, Carrier, CarrierConfig, DeskError, OutcomeMix, Sounds,
    Span,
};
use dialer::store::Store;
use fantoccini::{Client, ClientBuilder, Locator};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::rig::{self, Proc, Setup, get, post};

const SUPER: &str = "supervisor-token-0123456789";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Passwords of the test's people.
const ALICE_PW: &str = "alice's long passphrase";
const BOB_PW: &str = "bob's long passphrase";
const SUE_PW: &str = "sue supervises the floor";

// ---- the browser ----

/// Whether chromium and chromedriver are here; without them the test skips (or fails under
/// `DIALER_REQUIRE_CHROMIUM=1`).
pub(crate) fn have_chromium() -> bool {
    let ok = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !ok {
        assert!(
            std::env::var("DIALER_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "chromium and chromedriver are required (DIALER_REQUIRE_CHROMIUM=1) but {CHROMIUM} or \
             {CHROMEDRIVER} is missing"
        );
        rig::skipped("chromium or chromedriver is not installed; the browser test not run");
    }
    ok
}

/// chromedriver on a free port of 127.0.0.1, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether chromedriver on `port` says it is ready (`GET /status`; it refuses a request whose
/// `Host` is not its own address).
async fn status_ready(port: u16) -> Option<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let req =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    // It keeps the connection open after answering: read until the answer says ready.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if String::from_utf8_lossy(&buf).contains("\"ready\":true") {
            return Some(());
        }
    }
}

impl Driver {
    pub(crate) async fn start(log: &Path) -> Driver {
        let port = rig::free_tcp_port();
        let out = std::fs::File::create(log).unwrap();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("spawn chromedriver");
        let driver = Driver { child, port };
        rig::eventually("chromedriver answers", WAIT, || status_ready(port)).await;
        driver
    }

    /// A new browser (a fresh profile, so its own cookies) at 1366×768.
    async fn browser(&self, profile: &Path, lang: &str) -> Client {
        self.browser_with(profile, lang, &[]).await
    }

    /// [`Self::browser`] with more command-line switches (a fake microphone …).
    pub(crate) async fn browser_with(&self, profile: &Path, lang: &str, more: &[String]) -> Client {
        let mut caps = serde_json::Map::new();
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1366,768",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.push(format!("--lang={lang}"));
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend(more.iter().cloned());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": args,
                "prefs": {"intl.accept_languages": lang},
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a Chromium session through chromedriver")
    }
}

/// Poll `check` every 100 ms until it gives a value, at most [`WAIT`]; then fail with `what`
/// and the page's visible text.
pub(crate) async fn until<T, F, Fut>(c: &Client, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if started.elapsed() > WAIT {
            let text = page_text(c).await;
            panic!("{what}: not within {WAIT:?}; the page shows:\n{text}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(crate) async fn page_text(c: &Client) -> String {
    match c.find(Locator::Css("body")).await {
        Ok(b) => b.text().await.unwrap_or_default(),
        Err(e) => format!("(no page: {e})"),
    }
}

/// The text of element `#id`, if it is there.
pub(crate) async fn text_of(c: &Client, id: &str) -> Option<String> {
    c.find(Locator::Id(id)).await.ok()?.text().await.ok()
}

/// Wait until `#id` shows `want` (a substring).
pub(crate) async fn wait_text(c: &Client, id: &str, want: &str) {
    until(c, &format!("#{id} shows {want:?}"), || async {
        text_of(c, id)
            .await
            .filter(|t| t.contains(want))
            .map(|_| ())
    })
    .await;
}

/// Click the visible element `css`, once it is there and enabled.
pub(crate) async fn click(c: &Client, css: &str) {
    until(c, &format!("{css} clickable"), || async {
        let e = c.find(Locator::Css(css)).await.ok()?;
        (e.is_displayed().await.ok()? && e.is_enabled().await.ok()?).then_some(())
    })
    .await;
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Press a key on the page (the shortcuts).
async fn press(c: &Client, key: &str) {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(key)
        .await
        .unwrap();
}

pub(crate) async fn log_in(c: &Client, api: SocketAddr, id: &str, password: &str) {
    c.goto(&format!("http://{api}/login")).await.unwrap();
    let field = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("id"))
        .await
        .unwrap();
    field.clear().await.unwrap();
    field.send_keys(id).await.unwrap();
    let pw = c.find(Locator::Id("password")).await.unwrap();
    pw.clear().await.unwrap();
    pw.send_keys(password).await.unwrap();
    c.find(Locator::Id("submit"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// What a `fetch` from the page answers: `[status, body]`.
pub(crate) async fn fetch(
    c: &Client,
    method: &str,
    path: &str,
    csrf: bool,
    body: Value,
) -> (u16, Value) {
    let script = r#"
        const [method, path, csrf, body, done] = arguments;
        (async () => {
            const headers = { "Content-Type": "application/json" };
            if (csrf) {
                const s = await (await fetch("/v1/session")).json();
                headers["X-CSRF-Token"] = s.csrf;
            }
            const r = await fetch(path, { method, headers, credentials: "same-origin",
                body: method === "GET" ? undefined : JSON.stringify(body) });
            done([r.status, await r.json().catch(() => null)]);
        })().catch((e) => done([0, String(e)]));
    "#;
    let out = c
        .execute_async(script, vec![json!(method), json!(path), json!(csrf), body])
        .await
        .unwrap();
    (
        u16::try_from(out[0].as_u64().unwrap_or(0)).unwrap_or(0),
        out[1].clone(),
    )
}

/// Save a screenshot as `name.png` under target/tmp/screenshots (and docs/tour with
/// `DIALER_SAVE_SCREENSHOTS=1`).
pub(crate) async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), &png).unwrap();
    if std::env::var("DIALER_SAVE_SCREENSHOTS").as_deref() == Ok("1") {
        let tour = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/tour");
        std::fs::create_dir_all(&tour).unwrap();
        std::fs::write(tour.join(format!("{name}.png")), &png).unwrap();
    }
}

// ---- the daemon and its world ----

/// A zone where it is 09:00–16:59 now, so a callback in two hours is inside 08:00–21:00.
fn working_zone() -> String {
    let now = jiff::Timestamp::now();
    for offset in -12i32..=12 {
        let name = match offset {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let Ok(tz) = jiff::tz::TimeZone::get(&name) else {
            continue;
        };
        if (9..17).contains(&now.to_zoned_datetime(tz).hour()) {
            return name;
        }
    }
    panic!("no zone with working hours found");
}

/// The desk of the simulated phones: the people at the browsers act, never the phones (the test
/// never pops a phone's screen, so the phones stay silent and never reach their desk).
struct Browsers;

impl AgentDesk for Browsers {
    fn catalogue(&self, _agent: &str) -> Vec<String> {
        Vec::new()
    }
    async fn hangup(&self, agent: &str) -> Result<(), DeskError> {
        Err(DeskError(format!("{agent} hangs up at the browser")))
    }
    async fn dispose(&self, agent: &str, _code: &str) -> Result<(), DeskError> {
        Err(DeskError(format!("{agent} disposes at the browser")))
    }
}

struct Site {
    dir: tempfile::TempDir,
    setup: Setup,
    _proc: Proc,
    log: PathBuf,
    driver: Driver,
    _world: Option<(Carrier, Arc<AgentPhones>, Media)>,
}

impl Site {
    fn api(&self) -> SocketAddr {
        self.setup.api_addr()
    }

    fn profile(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(format!("profile-{name}"));
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `dialer user set-password` through the binary, the password on standard input.
pub(crate) fn set_password(config: &Path, id: &str, role: &str, password: &str) {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(["user", "set-password", id, "--role", role, "--config"])
        .arg(config)
        .env_remove("DIALER_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "set-password {id}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains(password),
        "the password is echoed: {stdout}"
    );
}

/// The daemon with agents alice and bob and supervisor sue; `campaign` (a file's text and its
/// list) when given, with the simulated carrier (people who wait a minute for an agent's word)
/// and phones.
async fn site(campaign: Option<(&str, String, String)>) -> Site {
    let dir = tempfile::tempdir().unwrap();
    let setup = Setup::new(&["alice", "bob"]);
    let config = setup.write(dir.path());
    std::fs::create_dir_all(dir.path().join("state")).unwrap();
    let campaigns = dir.path().join("campaigns");
    std::fs::create_dir_all(campaigns.join("lists")).unwrap();
    let world = match campaign {
        None => None,
        Some((name, toml, csv)) => {
            std::fs::write(campaigns.join(format!("{name}.toml")), toml).unwrap();
            std::fs::write(campaigns.join(format!("lists/{name}.csv")), csv).unwrap();
            let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
            let media = Media::start(DriverConfig {
                seed: 7,
                ..DriverConfig::default()
            });
            let sounds = Sounds::builtin().unwrap();
            let carrier = Carrier::start(
                SocketAddr::new(lo, setup.trunk),
                vec![lo],
                CarrierConfig {
                    mix: OutcomeMix {
                        person: 1.0,
                        machine: 0.0,
                        busy: 0.0,
                        no_answer: 0.0,
                        invalid: 0.0,
                        congestion: 0.0,
                    },
                    ring_person: Span::secs(0.3, 0.6),
                    patience: Span::secs(60.0, 60.0),
                    talk: Span::secs(120.0, 120.0),
                    ..CarrierConfig::default()
                },
                7,
                media.clone(),
                sounds.clone(),
            )
            .await
            .unwrap();
            let phones: Vec<(String, SocketAddr)> = setup
                .agents
                .iter()
                .map(|(a, port)| (a.clone(), SocketAddr::new(lo, *port)))
                .collect();
            let phones = AgentPhones::start(
                &phones,
                vec![lo],
                AgentsConfig::default(),
                7,
                media.clone(),
                sounds,
                Arc::new(Browsers),
            )
            .await
            .unwrap();
            Some((carrier, Arc::new(phones), media))
        }
    };
    set_password(&config, "alice", "agent", ALICE_PW);
    set_password(&config, "bob", "agent", BOB_PW);
    set_password(&config, "sue", "supervisor", SUE_PW);
    let log = dir.path().join("dialer.log");
    let env = [
        ("DIALER_API_TOKEN", SUPER),
        ("DIALER_AGENT_ALICE_TOKEN", "alice-token-0123456789"),
        ("DIALER_AGENT_BOB_TOKEN", "bob-token-0123456789"),
    ];
    let mut proc = rig::dialer_run(&config, &[], &env, &log);
    rig::wait_ready(&mut proc, setup.api_addr(), &log, Duration::from_secs(60)).await;
    let driver = Driver::start(&dir.path().join("chromedriver.log")).await;
    Site {
        dir,
        setup,
        _proc: proc,
        log,
        driver,
        _world: world,
    }
}

// ---- the tests ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_are_kept_to_their_own_pages() {
    if !have_chromium() {
        return;
    }
    let s = site(None).await;
    let api = s.api();
    let c = s.driver.browser(&s.profile("guard"), "en-US").await;

    // No session: the desktop and the wallboard send to the login page.
    c.goto(&format!("http://{api}/wallboard")).await.unwrap();
    until(&c, "redirected to /login", || async {
        c.current_url()
            .await
            .ok()
            .filter(|u| u.path() == "/login")
            .map(|_| ())
    })
    .await;

    // The login page in Russian by the page's choice, remembered across loads.
    click(&c, "button[data-lang=ru]").await;
    until(&c, "the page in Russian", || async {
        let t = page_text(&c).await;
        t.contains("Пароль").then_some(())
    })
    .await;
    c.goto(&format!("http://{api}/login")).await.unwrap();
    wait_text(&c, "login-h", "Вход").await;
    click(&c, "button[data-lang=en]").await;
    wait_text(&c, "login-h", "Log in").await;

    // Four wrong passwords: refused; the fifth locks the account; the right one is then refused.
    for n in 1..=4 {
        log_in(&c, api, "alice", "not the password").await;
        until(&c, &format!("wrong password {n} refused"), || async {
            text_of(&c, "error")
                .await
                .filter(|t| t.contains("wrong id or password"))
                .map(|_| ())
        })
        .await;
        c.execute("document.getElementById('error').textContent = ''", vec![])
            .await
            .unwrap();
    }
    log_in(&c, api, "alice", "not the password").await;
    wait_text(&c, "error", "locked").await;
    c.execute("document.getElementById('error').textContent = ''", vec![])
        .await
        .unwrap();
    log_in(&c, api, "alice", ALICE_PW).await;
    wait_text(&c, "error", "locked").await;
    let locked = post(
        api,
        "/v1/session",
        None,
        &json!({"id": "alice", "password": ALICE_PW}).to_string(),
    )
    .await;
    assert_eq!(
        (locked.status, locked.code().as_str()),
        (429, "locked"),
        "{}",
        locked.body
    );
    assert!(
        s.log_text().contains("login failed"),
        "failures are logged:\n{}",
        s.log_text()
    );

    // Bob, an agent: the desktop is his; the wallboard is not.
    log_in(&c, api, "bob", BOB_PW).await;
    wait_text(&c, "me", "bob").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/");
    c.goto(&format!("http://{api}/wallboard")).await.unwrap();
    wait_text(&c, "forbidden", "for supervisors").await;
    let (status, _) = fetch(&c, "GET", "/v1/campaigns", false, json!(null)).await;
    assert_eq!(status, 403, "an agent reads the campaigns");
    let (status, _) = fetch(&c, "GET", "/v1/agents", false, json!(null)).await;
    assert_eq!(status, 403, "an agent reads every agent");
    let (status, body) = fetch(&c, "POST", "/v1/agents/alice/login", true, json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, body) = fetch(&c, "POST", "/v1/campaigns/x/pause", true, json!({})).await;
    assert_eq!(status, 403, "{body}");
    // A state change with the cookie but without the CSRF token.
    let (status, body) = fetch(&c, "POST", "/v1/agents/bob/ready", false, json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("csrf")),
        "{body}"
    );
    let (status, body) = fetch(&c, "DELETE", "/v1/session", false, json!({})).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (403, &json!("csrf")),
        "{body}"
    );
    // With it, bob acts as himself (he is logged out of the dialer: 409, not 403).
    let (status, body) = fetch(&c, "POST", "/v1/agents/bob/ready", true, json!({})).await;
    assert_eq!(status, 409, "{body}");

    // Logging out ends the session: the desktop sends to the login again.
    c.goto(&format!("http://{api}/")).await.unwrap();
    click(&c, "#btn-logout").await;
    until(&c, "back at /login after logging out", || async {
        c.current_url()
            .await
            .ok()
            .filter(|u| u.path() == "/login")
            .map(|_| ())
    })
    .await;
    let (status, _) = fetch(&c, "GET", "/v1/agents/bob", false, json!(null)).await;
    assert_eq!(status, 401);
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_a_call_and_a_supervisor_pauses_the_campaign() {
    if !have_chromium() {
        return;
    }
    let zone = working_zone();
    let script = r#"
[script]
text = "Hi, this is Alice from Brightline Energy. Do you have two minutes?"

[[script.questions]]
id = "owns_home"
text = "Do you own your home?"
answers = [{ key = "yes", label = "Yes" }, { key = "no", label = "No, renting" }]
"#;
    // Recorded, with the announcement the example campaigns play first.
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio");
    let top = format!(
        "safe_harbor = \"{}\"\nrecording = {{ announce = \"{}\" }}",
        audio.join("safe_harbor.wav").display(),
        audio.join("recorded.wav").display()
    );
    let toml = rig::campaign_toml_with("sales", "progressive", &zone, &top, script);
    let mut csv = String::from("phone,tz,name,plan,balance\n");
    for (i, (name, plan)) in [("Ada Lovelace", "gold"), ("Alan Turing", "silver")]
        .iter()
        .enumerate()
    {
        csv += &format!(
            "+1202555{:04},{zone},{name},{plan},{}\n",
            140 + i,
            100 * (i + 1)
        );
    }
    let s = site(Some(("sales", toml, csv))).await;
    let api = s.api();
    // The campaign waits for the supervisor.
    let r = post(api, "/v1/campaigns/sales/pause", Some(SUPER), "").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let store = Store::open(&format!(
        "sqlite://{}?mode=rw",
        s.dir.path().join("state/dialer.db").display()
    ))
    .await
    .unwrap();
    rig::eventually("the list imported", WAIT, || async {
        let c = get(api, "/v1/campaigns/sales", Some(SUPER)).await;
        (c.json()["campaign"]["lists"][0]["imported"] == 2).then_some(())
    })
    .await;

    // Alice logs in and goes ready.
    let agent = s.driver.browser(&s.profile("alice"), "en-US").await;
    log_in(&agent, api, "alice", ALICE_PW).await;
    wait_text(&agent, "me", "alice").await;
    wait_text(&agent, "state", "Logged out").await;
    press(&agent, "i").await;
    wait_text(&agent, "state", "Ready").await;
    screenshot(&agent, "desktop-idle").await;

    // Sue starts the campaign from the wallboard.
    let board = s.driver.browser(&s.profile("sue"), "en-US").await;
    log_in(&board, api, "sue", SUE_PW).await;
    until(&board, "the wallboard", || async {
        board
            .current_url()
            .await
            .ok()
            .filter(|u| u.path() == "/wallboard")
            .map(|_| ())
    })
    .await;
    click(&board, "button[data-campaign=sales][data-action=start]").await;

    // A person is connected: the screen pop shows the lead dialed.
    let phone = until(&agent, "a screen pop", || async {
        text_of(&agent, "lead-phone")
            .await
            .filter(|p| p.starts_with("+1202555"))
    })
    .await;
    wait_text(&agent, "state", "On a call").await;
    let expected = if phone.ends_with("0140") {
        ("Ada Lovelace", "gold")
    } else {
        ("Alan Turing", "silver")
    };
    wait_text(&agent, "attributes", expected.1).await;
    wait_text(&agent, "pop", expected.0).await;
    // The script, and an answer given with its key.
    wait_text(&agent, "script-text", "Brightline Energy").await;
    wait_text(&agent, "questions", "Do you own your home?").await;
    agent
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys(&format!("{}1", fantoccini::key::Key::Alt))
        .await
        .unwrap();
    until(&agent, "the answer pressed", || async {
        let b = agent
            .find(Locator::Css("#questions button[aria-pressed=true]"))
            .await
            .ok()?;
        b.text().await.ok().filter(|t| t.starts_with("Yes"))
    })
    .await;
    screenshot(&agent, "desktop-pop").await;
    // The wallboard mid-shift: alice on a call, the campaign's figures.
    wait_text(&board, "agents", "alice").await;
    until(&board, "one dial on the wallboard", || async {
        let row = board
            .find(Locator::Css("tr[data-campaign=sales]"))
            .await
            .ok()?;
        let t = row.text().await.ok()?;
        t.contains("Running").then_some(())
    })
    .await;

    // A card number is read out: alice pauses the recording with its key (M) and resumes it
    // with the button.
    let visible = |id: &'static str| {
        let agent = &agent;
        async move {
            let b = agent.find(Locator::Id(id)).await.ok()?;
            b.is_displayed().await.ok()?.then_some(())
        }
    };
    until(&agent, "the recording's pause button", || {
        visible("btn-rec-pause")
    })
    .await;
    let before_pause = jiff::Timestamp::now().as_millisecond();
    press(&agent, "m").await;
    until(&agent, "the recording paused", || visible("btn-rec-resume")).await;
    click(&agent, "#btn-rec-resume").await;
    until(&agent, "the recording resumed", || visible("btn-rec-pause")).await;
    let after_resume = jiff::Timestamp::now().as_millisecond();

    // Alice hangs up; in the wrap-up the supervisor pauses the campaign.
    press(&agent, "h").await;
    wait_text(&agent, "state", "Wrap-up").await;
    click(&board, "button[data-campaign=sales][data-action=pause]").await;
    rig::eventually("the campaign paused", WAIT, || async {
        let c = get(api, "/v1/campaigns/sales", Some(SUPER)).await;
        (c.json()["campaign"]["control"] == "paused").then_some(())
    })
    .await;
    let dials = get(api, "/v1/campaigns/sales", Some(SUPER)).await.json()["campaign"]["dials"]
        .as_u64()
        .unwrap();

    // A callback in two hours, with notes.
    agent
        .find(Locator::Id("notes"))
        .await
        .unwrap()
        .send_keys("wants the gold plan explained")
        .await
        .unwrap();
    click(&agent, "#dispositions button[data-code=call_back]").await;
    // A time outside the calling hours (08:00–21:00 in the lead's zone) is refused, clearly.
    agent
        .execute(
            "document.getElementById('callback-at').value = \
             new Date(Date.now() + 86400000).toISOString().slice(0, 10) + 'T22:30'",
            vec![],
        )
        .await
        .unwrap();
    click(&agent, "#cb-save").await;
    wait_text(&agent, "error", "outside the campaign's calling hours").await;
    click(&agent, "#cb-2h").await;
    screenshot(&agent, "desktop-wrapup").await;
    let picked = jiff::Timestamp::now();
    click(&agent, "#cb-save").await;
    wait_text(&agent, "state", "Ready").await;

    let row = rig::eventually("the disposition stored", WAIT, || async {
        store
            .conn()
            .query_one_raw(store.stmt(
                "SELECT d.code, d.agent_id, d.notes, d.callback_at_ms, l.phone FROM dispositions d \
                 JOIN leads l ON l.id = d.lead_id WHERE d.code = 'call_back'",
                vec![],
            ))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(row.try_get::<String>("", "phone").unwrap(), phone);
    assert_eq!(
        row.try_get::<Option<String>>("", "agent_id")
            .unwrap()
            .as_deref(),
        Some("alice")
    );
    assert_eq!(
        row.try_get::<Option<String>>("", "notes")
            .unwrap()
            .as_deref(),
        Some("wants the gold plan explained")
    );
    let at = row
        .try_get::<Option<i64>>("", "callback_at_ms")
        .unwrap()
        .unwrap();
    let two_hours = picked.as_millisecond() + 2 * 3600 * 1000;
    // "In 2 h" rounds up to the next 5 minutes of the lead's clock.
    assert!(
        (two_hours - 60_000..=two_hours + 6 * 60_000).contains(&at),
        "callback at {at}, two hours from the pick is {two_hours}"
    );

    let answered = rig::eventually("the answer stored", WAIT, || async {
        store
            .conn()
            .query_one_raw(store.stmt(
                "SELECT question, answer FROM survey_answers WHERE question = 'owns_home'",
                vec![],
            ))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(answered.try_get::<String>("", "answer").unwrap(), "yes");

    // The recording's paused part is stored with the attempt: one interval, inside the time
    // between the key and the button.
    let attempt: i64 = store
        .conn()
        .query_one_raw(store.stmt(
            "SELECT a.id FROM call_attempts a JOIN leads l ON l.id = a.lead_id \
             WHERE l.phone = ? ORDER BY a.id DESC",
            vec![phone.clone().into()],
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "id")
        .unwrap();
    let pauses = rig::eventually("the recording's pause stored", WAIT, || async {
        let p = store.recording_pauses(attempt).await.unwrap();
        (!p.is_empty()).then_some(p)
    })
    .await;
    assert_eq!(pauses.len(), 1, "{pauses:?}");
    let (start, end) = pauses[0];
    assert!(
        before_pause <= start && start <= end && end <= after_resume,
        "paused {start}..{end}, the key at {before_pause}, resumed by {after_resume}"
    );

    // Paused: alice is ready and no new dial follows.
    let watched = Instant::now();
    while watched.elapsed() < Duration::from_secs(3) {
        let c = get(api, "/v1/campaigns/sales", Some(SUPER)).await.json()["campaign"].clone();
        assert_eq!(
            c["dials"].as_u64().unwrap(),
            dials,
            "a dial after the pause"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alice = get(api, "/v1/agents/alice", Some(SUPER)).await.json()["agent"].clone();
    assert_eq!(alice["state"], "ready");
    agent.close().await.unwrap();
    board.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_wallboard_draws_the_shift() {
    if !have_chromium() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Points come every 10 s: 3 of them take the first half-minute.
    let demo = rig::Demo::start(
        &dir.path().join("state"),
        SUE_PW,
        &["--duration", "45s", "--agents", "8"],
    );
    let api = demo.api;
    let driver = Driver::start(&dir.path().join("chromedriver.log")).await;
    let board = driver.browser(&dir.path().join("sue"), "en-US").await;
    log_in(&board, api, "sue", SUE_PW).await;
    until(&board, "the wallboard", || async {
        board
            .current_url()
            .await
            .ok()
            .filter(|u| u.path() == "/wallboard")
            .map(|_| ())
    })
    .await;
    wait_text(&board, "campaigns", "cold-sales").await;
    // Each chart's line, point by point ("x,y x,y …").
    let points = |id: &'static str| {
        let board = &board;
        async move {
            let n = board
                .execute(
                    "const l = document.querySelector(`#${arguments[0]} polyline`); \
                     return l ? l.getAttribute('points').trim().split(/\\s+/).length : 0;",
                    vec![json!(id)],
                )
                .await
                .ok()?;
            n.as_u64()
        }
    };
    rig::eventually(
        "3 points on both charts",
        Duration::from_secs(40),
        || async {
            let occupancy = points("chart-occupancy").await?;
            let abandons = points("chart-abandon").await?;
            (occupancy >= 3 && abandons >= 3).then_some(())
        },
    )
    .await;
    let dials = until(&board, "dials on the wallboard", || async {
        let row = board
            .find(Locator::Css("tr[data-campaign=cold-sales]"))
            .await
            .ok()?;
        let t = row.text().await.ok()?;
        t.contains("Running").then_some(t)
    })
    .await;
    screenshot(&board, "wallboard").await;
    board.close().await.unwrap();
    let s = demo.summary(Duration::from_secs(60));
    assert!(
        s["attempts"].as_u64().unwrap() > 0,
        "the wallboard showed {dials:?}"
    );
}
