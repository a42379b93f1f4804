//! Running `dialer run` as a child process in tests: free ports, a daytime zone, a tiny HTTP/1.1
//! client for the API, signals, and waiting for readiness and exit with generous timeouts.
//! Compiled into several test binaries (`tests/suite`, `tests/daemon`, `tests/faults`), each
//! using a part of it: hence `dead_code` allowed.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use dialer::media::driver::{Driver as Media, DriverConfig};
use dialer::simnet::{Carrier, CarrierConfig, OutcomeMix, Sounds, Span};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub mod sse;

// ---- a tiny HTTP/1.1 client ----

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    /// The error code of a JSON error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {}", self.body))
            .to_string()
    }

    /// Asserts a JSON error answer with this status and error code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code().as_str()),
            (status, code),
            "{}",
            self.body
        );
    }

    pub fn message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

pub async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Answer {
    let mut s = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to the API at {addr}: {e}"));
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: dialer\r\nConnection: close\r\n");
    if let Some(t) = token {
        req += &format!("Authorization: Bearer {t}\r\n");
    }
    let body = body.unwrap_or("");
    req += &format!(
        "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // A server refusing a large body may close before reading it all.
    let _ = s.write_all(req.as_bytes()).await;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf).await;
    let text = String::from_utf8(buf).unwrap();
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Answer {
        status,
        head: head.to_string(),
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
    out
}

pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Answer {
    http(addr, "GET", path, token, None).await
}

pub async fn post(addr: SocketAddr, path: &str, token: Option<&str>, body: &str) -> Answer {
    http(addr, "POST", path, token, Some(body)).await
}

/// One raw HTTP/1.1 request (`extra` header lines); the answer's status, head and body.
pub async fn raw(addr: SocketAddr, method: &str, path: &str, extra: &[&str], body: &str) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: dialer\r\nConnection: close\r\n");
    for h in extra {
        req += &format!("{h}\r\n");
    }
    req += &format!("Content-Length: {}\r\n\r\n{body}", body.len());
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    Answer {
        status: head.split(' ').nth(1).unwrap().parse().unwrap(),
        head: head.to_string(),
        body: body.to_string(),
    }
}

/// The `dialer-session` cookie a login answer sets.
pub fn session_cookie(head: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.eq_ignore_ascii_case("set-cookie") && v.trim().starts_with("dialer-session="))
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("no session cookie in {head}"))
}

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text page.
pub fn series(page: &str, name: &str) -> Option<f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

// ---- skips ----

/// Say on stdout, in one line CI counts (`tests/run.sh`), that the running test skips
/// something: `SKIPPED: <test>: <reason>`. Written to the process's stdout directly, not with
/// `println!`, which the test harness captures and shows only for failing tests.
pub fn skipped(reason: &str) {
    use std::io::Write as _;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "SKIPPED: {test}: {reason}");
    let _ = out.flush();
}

// ---- ports and zones ----

pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An `Etc/GMT±N` zone where it is now between 10:00 and 19:59 (inside US calling hours).
pub fn daytime_zone() -> String {
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
        if (10..20).contains(&now.to_zoned_datetime(tz).hour()) {
            return name;
        }
    }
    panic!("no zone with daytime found");
}

// ---- the child process ----

/// A child process, killed (if still running) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    pub fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).unwrap()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let r = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(r, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Wait for the exit, at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.0.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < within,
                "still running {within:?} after being asked to stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `dialer run --config <config>` with `env` set, stdout and stderr to `log`, and none of the
/// caller's `DIALER_*`, `NOTIFY_SOCKET` or `WATCHDOG_*` variables unless given in `env`.
pub fn dialer_run(config: &Path, args: &[&str], env: &[(&str, &str)], log: &Path) -> Proc {
    let out = std::fs::File::create(log).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dialer"));
    cmd.arg("run").args(args).arg("--config").arg(config);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("DIALER_")
            || k.starts_with("WATCHDOG_")
            || k == "NOTIFY_SOCKET"
            || k == "JOURNAL_STREAM"
            || k == "CREDENTIALS_DIRECTORY"
        {
            cmd.env_remove(k);
        }
    }
    cmd.env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("spawn dialer run");
    Proc(child)
}

/// Wait until the API at `addr` says ready; fail with the log if the process exits first.
pub async fn wait_ready(proc: &mut Proc, addr: SocketAddr, log: &Path, within: Duration) {
    let started = Instant::now();
    loop {
        if TcpStream::connect(addr).await.is_ok() && get(addr, "/ready", None).await.status == 200 {
            return;
        }
        if let Ok(Some(status)) = proc.0.try_wait() {
            panic!(
                "dialer run exited with {status}:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < within,
            "not ready after {within:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll `check` every 100 ms until it gives a value, at most `within` (then fail with `what`).
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---- `dialer demo` with its wallboard ----

/// `dialer demo --json --api 127.0.0.1:0 --supervisor sue` (and `args`) with `password` on
/// standard input, run from the repository root, once it has said where its API is.
pub struct Demo {
    pub proc: Proc,
    /// The API's address, from the wallboard URL the demo printed.
    pub api: SocketAddr,
    /// Standard error's lines so far (read on a thread of its own, so the pipe never fills).
    pub seen: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Demo {
    pub fn start(state: &Path, password: &str, args: &[&str]) -> Demo {
        use std::io::{BufRead, Write};
        let mut child = Command::new(env!("CARGO_BIN_EXE_dialer"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "demo",
                "--json",
                "--api",
                "127.0.0.1:0",
                "--supervisor",
                "sue",
            ])
            .args(args)
            .arg("--state")
            .arg(state)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run dialer demo");
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, "{password}").unwrap();
        drop(stdin);
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let url = loop {
            let line = lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("no wallboard URL on standard error ({e}): {seen:#?}"));
            seen.push(line.clone());
            if let Some((_, rest)) = line.split_once("the wallboard is at ") {
                assert!(rest.contains("log in as sue"), "{line}");
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        let api: SocketAddr = url
            .strip_prefix("http://")
            .and_then(|u| u.strip_suffix("/wallboard"))
            .unwrap_or_else(|| panic!("not a wallboard URL: {url}"))
            .parse()
            .unwrap();
        assert!(api.ip().is_loopback() && api.port() != 0, "{api}");
        Demo {
            proc: Proc(child),
            api,
            seen,
            lines,
        }
    }

    /// Wait for the demo to end (within `within`); its summary (stdout, one JSON object). Fails
    /// on a non-zero exit, showing standard error.
    pub fn summary(mut self, within: Duration) -> Value {
        let status = self.proc.wait_exit(within);
        self.seen.extend(self.lines.try_iter());
        assert!(status.success(), "dialer demo: {status}: {:#?}", self.seen);
        let mut out = String::new();
        std::io::Read::read_to_string(self.proc.0.stdout.as_mut().unwrap(), &mut out).unwrap();
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
    }
}

// ---- config files ----

/// Ports and agents of a `dialer.toml` for tests.
pub struct Setup {
    /// The daemon's SIP port.
    pub sip: u16,
    /// Where trunk `main` points.
    pub trunk: u16,
    pub api: u16,
    /// Agents `(id, SIP port of their phone)`, all in group `sales`, each with token variable
    /// `DIALER_AGENT_<ID>_TOKEN`.
    pub agents: Vec<(String, u16)>,
    pub max_channels: u32,
    /// RTP ports `rtp_min..rtp_min + 400` (ports taken by others are skipped).
    pub rtp_min: u16,
}

impl Setup {
    pub fn new(agents: &[&str]) -> Setup {
        Setup {
            sip: free_udp_port(),
            trunk: free_udp_port(),
            api: free_tcp_port(),
            agents: agents
                .iter()
                .map(|a| (a.to_string(), free_udp_port()))
                .collect(),
            max_channels: 20,
            rtp_min: 40000 + (std::process::id() % 40) as u16 * 400,
        }
    }

    pub fn api_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.api))
    }

    /// Write `dir/dialer.toml` (store `state/dialer.db`, campaigns in `dir/campaigns`); the
    /// supervisor token variable is `DIALER_API_TOKEN`.
    pub fn write(&self, dir: &Path) -> std::path::PathBuf {
        std::fs::create_dir_all(dir.join("campaigns")).unwrap();
        let mut agents = String::new();
        for (id, port) in &self.agents {
            agents += &format!(
                "\n[[agents]]\nid = \"{id}\"\nname = \"{id}\"\nsip_uri = \"sip:{id}@127.0.0.1:{port}\"\n\
                 groups = [\"sales\"]\ntoken_env = \"DIALER_AGENT_{}_TOKEN\"\n",
                id.to_uppercase()
            );
        }
        let config = dir.join("dialer.toml");
        std::fs::write(
            &config,
            format!(
                r#"state_dir = "state"
campaigns_dir = "campaigns"

[sip]
bind = "127.0.0.1:{sip}"

[[trunks]]
name = "main"
host = "127.0.0.1"
port = {trunk}
max_channels = {max_channels}
calls_per_second = 20.0
{agents}
[api]
bind = "127.0.0.1:{api}"
token_env = "DIALER_API_TOKEN"

[media]
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
"#,
                sip = self.sip,
                trunk = self.trunk,
                api = self.api,
                max_channels = self.max_channels,
                rtp_min = self.rtp_min,
                rtp_max = self.rtp_min + 400,
            ),
        )
        .unwrap();
        config
    }
}

/// A campaign file's text: `name`, `mode`, trunk `main`, group `sales`, list `leads` from
/// `lists/<name>.csv` (`phone`, `tz`), open all week 08:00–21:00 in `zone`, dispositions `sale`
/// (final, success) and `call_back` (callback), the example safe-harbor message; `extra` is
/// appended.
pub fn campaign_toml(name: &str, mode: &str, zone: &str, extra: &str) -> String {
    let safe_harbor = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio/safe_harbor.wav");
    campaign_toml_with(
        name,
        mode,
        zone,
        &format!("safe_harbor = \"{}\"", safe_harbor.display()),
        extra,
    )
}

/// [`campaign_toml`] with `top` (top-level keys, `safe_harbor` among them) instead of the
/// example safe-harbor message.
pub fn campaign_toml_with(name: &str, mode: &str, zone: &str, top: &str, extra: &str) -> String {
    format!(
        r#"name = "{name}"
kind = "cold"
mode = "{mode}"
trunk = "main"
caller_id = "+12025550100"
agent_groups = ["sales"]
{top}

[[lists]]
name = "leads"
file = "lists/{name}.csv"
columns = {{ phone = "phone", timezone = "tz" }}

[hours]
timezone = "{zone}"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "08:00"
end = "21:00"

[[dispositions]]
code = "sale"
label = "Sale"
effect = "final"
success = true

[[dispositions]]
code = "call_back"
label = "Call back"
effect = "callback"
{extra}"#
    )
}

// ---- the simulated carrier ----

/// The carrier on the trunk's port, answering every call busy (a busy lead is due again only
/// after minutes).
pub async fn busy_carrier(setup: &Setup) -> (Carrier, Media) {
    let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let media = Media::start(DriverConfig::default());
    let carrier = Carrier::start(
        SocketAddr::new(lo, setup.trunk),
        vec![lo],
        CarrierConfig {
            mix: OutcomeMix {
                person: 0.0,
                machine: 0.0,
                busy: 1.0,
                no_answer: 0.0,
                invalid: 0.0,
                congestion: 0.0,
            },
            reject_after: Span::secs(0.1, 0.3),
            ..CarrierConfig::default()
        },
        7,
        media.clone(),
        Sounds::builtin().unwrap(),
    )
    .await
    .unwrap();
    (carrier, media)
}
