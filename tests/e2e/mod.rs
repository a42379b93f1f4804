//! End-to-end helpers for the tests that run the daemon against sipp on 127.0.0.1: sipp
//! processes (their SIP message and error logs are kept and shown when a test fails), a config
//! dir with one campaign, carrier scenarios, audio files for sipp to stream, a UDP peer that
//! captures the RTP the dialer sends, and a tone detector. Built on `tests/rig` (ports, zone,
//! `dialer.toml`, campaign text): a test binary using it declares `mod rig;` too. Compiled into
//! `tests/suite` and `tests/daemon`, each using a part of it: hence `dead_code` allowed.
#![allow(dead_code)]

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dialer::media::Codec;
use dialer::media::rtp::Packet;
use dialer::store::Store;
use dialer::store::entity::call_attempt;
use sea_orm::{EntityTrait, QueryOrder};

use crate::rig;

pub mod baresip;
pub mod greeting_peer;

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

// ---- sipp ----

/// Whether sipp is installed. Without it the caller skips, saying so on stdout
/// ([`rig::skipped`]), unless `DIALER_REQUIRE_SIPP=1` (CI), where a missing sipp fails the test.
pub fn have_sipp(what: &str) -> bool {
    let ok = Command::new("sipp")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !ok {
        assert!(
            std::env::var("DIALER_REQUIRE_SIPP").as_deref() != Ok("1"),
            "sipp is required (DIALER_REQUIRE_SIPP=1) but not installed"
        );
        rig::skipped(&format!("sipp is not installed; {what} not run"));
    }
    ok
}

/// Whether something listens on 127.0.0.1:`port` (UDP, or TCP in LISTEN state), from the
/// kernel's socket tables: looking does not take the port, as a test bind would.
pub fn bound(port: u16, tcp: bool) -> bool {
    let file = if tcp {
        "/proc/net/tcp"
    } else {
        "/proc/net/udp"
    };
    let table = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let local = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        f.len() > 3 && local.iter().any(|l| l == f[1]) && (!tcp || f[3] == "0A")
    })
}

/// Wait until `child` listens on 127.0.0.1:`port` (see [`bound`]); a failure naming `name` if
/// it exits first or takes more than 10 s.
pub fn wait_bound(child: &mut Child, name: &str, port: u16, tcp: bool) -> Result<(), String> {
    let started = Instant::now();
    while !bound(port, tcp) {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{name} exited ({status}) before binding port {port}"
            ));
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("{name} has not bound port {port} after 10 s"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A sipp process on 127.0.0.1, killed when dropped. Its stderr, unexpected messages and SIP
/// message trace go to files in a temp dir of its own.
pub struct Sipp {
    name: String,
    child: Child,
    dir: tempfile::TempDir,
    status: Option<ExitStatus>,
}

impl Sipp {
    /// Start sipp with `args` (plus `-i 127.0.0.1 -nostdin -timeout 90s` and the traces).
    pub fn start(name: &str, args: &[&str]) -> Sipp {
        Sipp::spawn(tempfile::tempdir().expect("tempdir"), name, args)
    }

    /// sipp running the scenario `xml` (written to its temp dir) with `args`.
    pub fn scenario(name: &str, xml: &str, args: &[&str]) -> Sipp {
        let dir = tempfile::tempdir().expect("tempdir");
        let sf = dir.path().join(format!("{name}.xml"));
        std::fs::write(&sf, xml).expect("write scenario");
        let mut all = vec!["-sf", sf.to_str().expect("utf-8 path")];
        all.extend_from_slice(args);
        Sipp::spawn(dir, name, &all)
    }

    fn spawn(dir: tempfile::TempDir, name: &str, args: &[&str]) -> Sipp {
        let stderr = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let child = Command::new("sipp")
            .args(args)
            .args(["-i", "127.0.0.1", "-nostdin", "-timeout", "90s"])
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(dir.path().join("messages.log"))
            .arg("-trace_err")
            .arg("-error_file")
            .arg(dir.path().join("errors.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn sipp");
        Sipp {
            name: name.to_owned(),
            child,
            dir,
            status: None,
        }
    }

    /// Wait until sipp listens on UDP `port` of 127.0.0.1; a test failure with its logs if it
    /// exits first or takes over 10 s.
    pub fn wait_bound(&mut self, port: u16) {
        if let Err(e) = wait_bound(&mut self.child, &format!("sipp {}", self.name), port, false) {
            panic!("{e}\n{}", self.logs());
        }
    }

    /// Wait for sipp to exit by itself; a test failure with its logs if it does not in time.
    pub async fn exit(&mut self, within: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(s) = self.status {
                return s;
            }
            if let Some(s) = self.child.try_wait().expect("sipp status") {
                self.status = Some(s);
                return s;
            }
            if started.elapsed() > within {
                panic!(
                    "sipp {} still running after {within:?}\n{}",
                    self.name,
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its stderr, unexpected messages and the end of its SIP message trace.
    pub fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        let messages = read("messages.log");
        let tail: String = {
            let lines: Vec<&str> = messages.lines().collect();
            lines[lines.len().saturating_sub(120)..].join("\n")
        };
        format!(
            "---- sipp {}: stderr ----\n{}\n---- errors ----\n{}\n---- messages (last 120 lines) ----\n{}\n",
            self.name,
            read("stderr.log"),
            read("errors.log"),
            tail
        )
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The logs of several sipps, for a failure message.
pub fn logs(sipps: &[&Sipp]) -> String {
    sipps.iter().map(|s| s.logs()).collect()
}

// ---- the HTTP API in process ----

/// Serve `api` on a free port of 127.0.0.1; the sender stops it.
pub async fn serve_api(
    api: &dialer::daemon::api::Api,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = api.clone();
    tokio::spawn(async move {
        server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    (addr, stop)
}

// ---- clocks ----

/// Now as unix milliseconds (the store's clock).
pub fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

// ---- the config dir ----

/// A config dir for the daemon: `dialer.toml` from [`rig::Setup`] (SIP, trunk `main`, the
/// agents in group `sales`, the API port, an RTP port range) and one progressive campaign
/// `campaigns/<campaign>.toml` from [`rig::campaign_toml_with`] whose list holds one lead, Dana,
/// in `zone` (where it is daytime). The string fields are TOML lines of the campaign file.
pub struct Setup {
    pub rig: rig::Setup,
    pub zone: String,
    pub campaign: String,
    /// The campaign's mode (default `progressive`).
    pub mode: String,
    pub safe_harbor: PathBuf,
    /// More top-level keys of the campaign.
    pub top: String,
    /// `dialing.ring_timeout` (default `15s`).
    pub ring_timeout: String,
    /// More keys of `[dialing]` (5 calls/s, 5 at once).
    pub dialing: String,
    /// The `[amd]` table's body (default: AMD off).
    pub amd: String,
    /// More tables of the campaign, at its end (`[survey]` …).
    pub tables: String,
}

impl Setup {
    /// Campaign `e2e`, these agents on fresh ports, AMD off, the example safe-harbor message.
    pub fn new(agents: &[&str]) -> Setup {
        Setup {
            rig: rig::Setup::new(agents),
            zone: rig::daytime_zone(),
            campaign: "e2e".into(),
            mode: "progressive".into(),
            safe_harbor: repo().join("campaigns/audio/safe_harbor.wav"),
            top: String::new(),
            ring_timeout: "15s".into(),
            dialing: String::new(),
            amd: "enabled = false".into(),
            tables: String::new(),
        }
    }

    /// Where trunk `main` points.
    pub fn trunk(&self) -> u16 {
        self.rig.trunk
    }

    /// The port of an agent's phone.
    pub fn agent_port(&self, id: &str) -> u16 {
        self.rig
            .agents
            .iter()
            .find(|(a, _)| a == id)
            .map(|(_, p)| *p)
            .unwrap_or_else(|| panic!("no agent {id}"))
    }

    /// Write the files under `dir`; returns the path of `dialer.toml`.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let config = self.rig.write(dir);
        let campaigns = dir.join("campaigns");
        std::fs::create_dir_all(campaigns.join("lists")).unwrap();
        std::fs::write(
            campaigns.join(format!("lists/{}.csv", self.campaign)),
            format!("phone,tz,name\n+12025550143,{},Dana\n", self.zone),
        )
        .unwrap();
        let top = format!(
            "safe_harbor = \"{}\"\n{}",
            self.safe_harbor.display(),
            self.top
        );
        let extra = format!(
            "\n[dialing]\nring_timeout = \"{}\"\ncalls_per_second = 5.0\nmax_concurrent = 5\n{}\n\n[amd]\n{}\n{}\n",
            self.ring_timeout, self.dialing, self.amd, self.tables
        );
        std::fs::write(
            campaigns.join(format!("{}.toml", self.campaign)),
            rig::campaign_toml_with(&self.campaign, &self.mode, &self.zone, &top, &extra),
        )
        .unwrap();
        config
    }
}

/// The agent's phone: sipp's built-in UAS on `port`, echoing the RTP it gets, for one call;
/// returned once it listens.
pub fn agent_phone(port: u16) -> Sipp {
    let mut sipp = Sipp::start(
        "agent",
        &[
            "-sn",
            "uas",
            "-p",
            &port.to_string(),
            "-rtp_echo",
            "-m",
            "1",
        ],
    );
    sipp.wait_bound(port);
    sipp
}

// ---- the carrier ----

/// Where the carrier's SDP answer says its media is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierMedia {
    /// sipp's own RTP socket (`[auto_media_port]`, the one `rtp_stream` sends from).
    Sipp,
    /// Another socket on 127.0.0.1 (an [`RtpCapture`]): the dialer's RTP goes there.
    Port(u16),
}

/// How the called party ends the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarrierEnd {
    /// It hangs up this long after the ACK.
    HangUpAfter(Duration),
    /// It waits for the dialer's BYE.
    WaitBye,
}

/// A carrier that answers one call: 100, 180, `ring` later 200 with SDP (PCMU and RFC 4733
/// events), then streams `stream` (a G.711 µ-law WAV) from the ACK on, presses `keys` (each
/// this long after the ACK, from sipp's own DTMF pcaps), and ends as `end` says.
#[derive(Debug, Clone)]
pub struct Carrier {
    pub ring: Duration,
    pub media: CarrierMedia,
    pub stream: Option<PathBuf>,
    pub end: CarrierEnd,
    /// Key presses `(after the ACK, digit 0-9)`, in time order.
    pub keys: Vec<(Duration, char)>,
}

impl Carrier {
    /// A customer answering after 200 ms of ringing who says `tone_ms` of 1 kHz, is then
    /// quiet, and hangs up `hang_up_after` after answering (the tone written under `dir`).
    pub fn tone_then_hang_up(dir: &Path, tone_ms: usize, hang_up_after: Duration) -> Carrier {
        let mut pcm = tone(1000.0, tone_ms, 8000.0);
        pcm.extend(silence(hang_up_after.as_millis() as usize - tone_ms + 500));
        let stream = write_ulaw(&dir.join("customer.wav"), &pcm);
        Carrier {
            ring: Duration::from_millis(200),
            media: CarrierMedia::Sipp,
            stream: Some(stream),
            end: CarrierEnd::HangUpAfter(hang_up_after),
            keys: vec![],
        }
    }

    /// The sipp scenario.
    pub fn scenario(&self) -> String {
        let media_port = match self.media {
            CarrierMedia::Sipp => "[auto_media_port]".to_string(),
            CarrierMedia::Port(p) => p.to_string(),
        };
        let stream = match &self.stream {
            Some(wav) => format!(
                r#"
    <action>
      <exec rtp_stream="{},1,0"/>
    </action>"#,
                wav.display()
            ),
            None => String::new(),
        };
        let mut keys = String::new();
        let mut at = Duration::ZERO;
        for (when, digit) in &self.keys {
            assert!(
                digit.is_ascii_digit() && *when >= at,
                "keys: {:?}",
                self.keys
            );
            keys += &format!(
                r#"
  <pause milliseconds="{}"/>
  <nop>
    <action>
      <exec play_pcap_audio="/usr/share/sip-tester/dtmf_2833_{digit}.pcap"/>
    </action>
  </nop>"#,
                (*when - at).as_millis()
            );
            at = *when;
        }
        let end = match self.end {
            CarrierEnd::WaitBye => r#"
  <recv request="BYE"/>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>"#
                .to_string(),
            CarrierEnd::HangUpAfter(d) => format!(
                r#"
  <pause milliseconds="{}"/>
  <send retrans="500">
    <![CDATA[

      BYE [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:callee@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
      To: [$remote_from]
      [last_Call-ID:]
      CSeq: 1 BYE
      Max-Forwards: 70
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>"#,
                d.as_millis()
            ),
        };
        // What a BYE of its own needs from the INVITE (sipp refuses a variable set but not used).
        let keep = match self.end {
            CarrierEnd::HangUpAfter(_) => {
                r#"
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
      <ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
    </action>"#
            }
            CarrierEnd::WaitBye => "",
        };
        format!(
            r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="carrier">
  <recv request="INVITE">{keep}
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 100 Trying
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
  <send>
    <![CDATA[

      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0

    ]]>
  </send>
{ring}
  <send retrans="500">
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=carrier 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {media_port} RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15

    ]]>
  </send>
  <recv request="ACK">{stream}
  </recv>{keys}{end}
</scenario>
"#,
            ring = if self.ring.is_zero() {
                String::new()
            } else {
                format!(r#"  <pause milliseconds="{}"/>"#, self.ring.as_millis())
            },
        )
    }

    /// Start sipp with this scenario on `port`, for one call; returned once it listens.
    pub fn start(&self, port: u16) -> Sipp {
        let mut sipp = Sipp::scenario(
            "carrier",
            &self.scenario(),
            &["-p", &port.to_string(), "-m", "1"],
        );
        sipp.wait_bound(port);
        sipp
    }
}

// ---- audio ----

/// A file of the AMD corpus.
pub fn corpus(name: &str) -> PathBuf {
    repo().join("tests/amd/corpus").join(name)
}

/// 8 kHz mono samples of a WAV file.
pub fn read_wav(path: &Path) -> Vec<i16> {
    dialer::media::wav::read_8k_mono(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn silence(ms: usize) -> Vec<i16> {
    vec![0; ms * 8]
}

/// A sine tone at 8 kHz.
pub fn tone(hz: f64, ms: usize, amplitude: f64) -> Vec<i16> {
    (0..ms * 8)
        .map(|i| (amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

/// The samples as they come out of a G.711 µ-law round trip (what the far end decodes).
pub fn ulaw_round_trip(pcm: &[i16]) -> Vec<i16> {
    pcm.iter()
        .map(|&s| Codec::Pcmu.decode_sample(Codec::Pcmu.encode_sample(s)))
        .collect()
}

/// Write samples as a G.711 µ-law WAV (what sipp's `rtp_stream` sends as is).
pub fn write_ulaw(path: &Path, pcm: &[i16]) -> PathBuf {
    dialer::media::wav::write_g711(path, Codec::Pcmu, pcm).expect("write µ-law WAV");
    path.to_owned()
}

/// Write samples as a 16-bit PCM WAV (a campaign's message).
pub fn write_pcm(path: &Path, pcm: &[i16]) -> PathBuf {
    dialer::media::wav::write(path, 1, pcm).expect("write WAV");
    path.to_owned()
}

/// Goertzel power of `freq` in 8 kHz samples.
pub fn power(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = v as f64 + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

/// `freq` holds far more power in `x` than other frequencies of the telephone band.
pub fn dominated_by(x: &[i16], freq: f64) -> bool {
    let p = power(x, freq);
    p > 0.0
        && [300.0, 500.0, 900.0, 1300.0, 1700.0, 2500.0]
            .iter()
            .filter(|f| (**f - freq).abs() > 100.0)
            .all(|f| p > 100.0 * power(x, *f))
}

/// Mean absolute sample value.
pub fn level(x: &[i16]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter().map(|&s| (s as f64).abs()).sum::<f64>() / x.len() as f64
}

// ---- a UDP peer that captures RTP ----

/// One RTP packet the capture got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Arrival, unix ms.
    pub at_ms: i64,
    pub from: std::net::SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub payload_type: u8,
    /// The payload decoded as µ-law.
    pub pcm: Vec<i16>,
}

/// A UDP socket on 127.0.0.1 that records every RTP packet it gets (a thread of its own).
pub struct RtpCapture {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Received>>,
}

impl RtpCapture {
    pub fn start() -> RtpCapture {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind capture");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        let port = sock.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let at_ms = unix_ms();
                if let Some(p) = Packet::parse(&buf[..n]) {
                    got.push(Received {
                        at_ms,
                        from,
                        ssrc: p.ssrc,
                        seq: p.seq,
                        payload_type: p.payload_type,
                        pcm: p
                            .payload
                            .iter()
                            .map(|&b| Codec::Pcmu.decode_sample(b))
                            .collect(),
                    });
                }
            }
            got
        });
        RtpCapture { port, stop, thread }
    }

    /// Stop and return what arrived, in arrival order.
    pub fn finish(self) -> Vec<Received> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("capture thread")
    }
}

// ---- the store ----

/// Wait for the first finished attempt; a failure with the sipps' logs if none comes in time.
pub async fn finished_attempt(
    store: &Store,
    within: Duration,
    sipps: &[&Sipp],
) -> call_attempt::Model {
    let started = Instant::now();
    loop {
        let rows = call_attempt::Entity::find()
            .order_by_asc(call_attempt::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        if let Some(a) = rows.iter().find(|a| a.end_at_ms.is_some()) {
            return a.clone();
        }
        if started.elapsed() > within {
            panic!(
                "no finished attempt after {within:?}: {rows:?}\n{}",
                logs(sipps)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// 20 ms frames of `x` loud and dominated by `hz`.
pub fn tone_frames(x: &[i16], hz: f64) -> usize {
    x.chunks(160)
        .filter(|f| f.len() == 160 && level(f) > 500.0 && dominated_by(f, hz))
        .count()
}

/// Stop a `dialer run` (SIGTERM) whose state directory is `state` and read the one call it
/// stored, which alice took and nobody abandoned: the attempt, and the 20 ms frames of its
/// stereo recording carrying `left_hz` on the left (the customer) and `right_hz` on the right
/// (the agent).
pub async fn alices_recorded_call(
    daemon: &mut rig::Proc,
    state: &Path,
    log: impl Fn() -> String,
    left_hz: f64,
    right_hz: f64,
) -> (call_attempt::Model, usize, usize) {
    daemon.signal(libc::SIGTERM);
    assert!(
        daemon.wait_exit(Duration::from_secs(30)).success(),
        "{}",
        log()
    );
    let store = Store::open(&dialer::store::default_sqlite_url(state))
        .await
        .unwrap();
    let attempt = finished_attempt(&store, Duration::from_secs(1), &[]).await;
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    assert!(attempt.live && !attempt.abandoned, "{attempt:?}");
    let path = attempt.recording_path.clone().expect("a recording");
    let mut wav = hound::WavReader::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(wav.spec().channels, 2);
    let samples: Vec<i16> = wav.samples::<i16>().map(|s| s.unwrap()).collect();
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let frames = (tone_frames(&left, left_hz), tone_frames(&right, right_hz));
    (attempt, frames.0, frames.1)
}
