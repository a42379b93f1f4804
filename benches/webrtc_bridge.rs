//! How many agents with a phone in the browser (WebRTC: ICE-lite, DTLS-SRTP, G.711) one core of
//! the dialer carries, bridged to plain RTP customer legs, before more than 1 % of packets
//! arrive more than 20 ms late; and beside it, in the same run, the same calls with plain RTP
//! agent phones.
//!
//! `cargo bench --bench webrtc_bridge [-- STEP,STEP,… [SECONDS]]` (default steps
//! 25,50,100,150,200,300; 8 s measured after 3 s of warm-up). One JSON line per step and kind,
//! then one line with the largest step of each kind within 1 % late.
//!
//! This process is the dialer's side, held to one core's worth of threads: the media [`Driver`]
//! with one worker (the customer and agent legs, bridged) and the WebRTC [`Gateway`] on a
//! single-threaded tokio runtime (every page's peer: SRTP both ways, the loopback hop to the
//! agent's leg). A child process (this binary again, `WEBRTC_BENCH_ROLE=phones`) plays every
//! customer (a plain RTP socket) and every browser (a str0m client doing ICE, DTLS and SRTP
//! like a page, [`SimBrowser`]), or plain RTP agent phones for the `rtp` kind, on one thread.
//! Each phone sends a 20 ms G.711 packet whose first 8 bytes are the instant it was sent; the
//! packet is late when it reaches the far phone more than 20 ms later (lost counts as late). The
//! child is on the other core; its CPU is printed apart (`phones_cpu_pct`), and `dialer_cpu_pct`
//! is the dialer's side.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{Driver, DriverConfig};
use dialer::webrtc::{BrowserOut, Gateway, GatewayConfig, SimBrowser};
use serde_json::{Value, json};
use tokio::net::UdpSocket;

#[path = "common/proc_stats.rs"]
mod proc_stats;
use proc_stats::{cpu_seconds, loadavg};

const WARMUP: Duration = Duration::from_secs(3);
const LATE: Duration = Duration::from_millis(20);
const FRAME: Duration = Duration::from_millis(20);

fn main() {
    if std::env::var("WEBRTC_BENCH_ROLE").as_deref() == Ok("phones") {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(phones());
        return;
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let steps: Vec<usize> = args
        .first()
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![25, 50, 100, 150, 200, 300]);
    let secs: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(8);
    println!(
        "{}",
        json!({
            "bench": "webrtc_bridge",
            "late": "a packet reaching the far phone more than 20 ms after its phone sent it; \
                     lost counts as late",
            "dialer_side": "media driver with 1 worker + the WebRTC gateway on 1 thread",
            "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "loadavg": loadavg(),
        })
    );
    let mut best = json!({"bench": "webrtc_bridge", "summary": true});
    for kind in ["rtp", "webrtc"] {
        let mut max = 0;
        let mut per_call = Value::Null;
        for &n in &steps {
            let r = step(kind, n, Duration::from_secs(secs));
            println!("{r}");
            let late = r["late_fraction"].as_f64().unwrap_or(1.0);
            if late <= 0.01 {
                max = n;
                per_call = r["dialer_cpu_pct_of_core_per_call"].clone();
            } else {
                break;
            }
        }
        best[format!("{kind}_max_calls_within_1pct_late")] = json!(max);
        best[format!("{kind}_dialer_cpu_pct_of_core_per_call")] = per_call;
    }
    best["loadavg"] = json!(loadavg());
    println!("{best}");
}

/// One step: `n` calls of `kind`, measured for `measure`.
fn step(kind: &str, n: usize, measure: Duration) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let exe = std::env::current_exe().expect("current exe");
        let mut child = Command::new(exe)
            .env("WEBRTC_BENCH_ROLE", "phones")
            .arg(kind)
            .arg(n.to_string())
            .arg(measure.as_secs().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the phones");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut stdin = child.stdin.take().expect("stdin");
        let mut read = || {
            let mut line = String::new();
            out.read_line(&mut line).expect("a line from the phones");
            serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
        };
        let media = Driver::start(DriverConfig {
            keepalive: false,
            inactivity: Duration::ZERO,
            workers: 1,
            ..DriverConfig::default()
        });
        let gateway = Gateway::start(GatewayConfig {
            bind: "127.0.0.1:0".parse().unwrap(),
            candidate: "127.0.0.1:0".parse().unwrap(),
            agents: (0..n).map(|i| format!("a{i}")).collect(),
        })
        .await
        .expect("gateway");
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let far = |port: u16| {
            let sdp = LocalMedia::offer(lo, port, 1).to_sdp();
            RemoteMedia::parse(sdp.as_bytes()).expect("sdp")
        };
        let hello = read();
        let mut lines = Vec::new();
        let mut waits = Vec::new();
        let mut agent_legs = Vec::new();
        for i in 0..n {
            let call = &hello["calls"][i];
            let customer = media.open_leg().expect("leg");
            let agent = media.open_leg().expect("leg");
            let port = |k: &str| u16::try_from(call[k].as_u64().unwrap()).unwrap();
            media
                .set_remote(customer.id, &far(port("customer")))
                .expect("remote");
            let mut line =
                json!({"customer_leg": customer.local.port(), "agent_leg": agent.local.port()});
            if kind == "webrtc" {
                let id = format!("a{i}");
                let offer = call["offer"].as_str().unwrap().to_owned();
                let answer = gateway.offer(&id, offer).await.expect("answer");
                line["answer"] = json!(answer);
                waits.push(gateway.attach(&id, agent.local));
            } else {
                media
                    .set_remote(agent.id, &far(port("agent")))
                    .expect("remote");
            }
            media.bridge(customer.id, agent.id, None).expect("bridge");
            lines.push(line);
            agent_legs.push((customer, agent));
        }
        writeln!(stdin, "{}", json!({"calls": lines})).expect("tell the phones");
        stdin.flush().expect("flush");
        for (w, (_, agent)) in waits.into_iter().zip(&agent_legs) {
            let attached = tokio::time::timeout(Duration::from_secs(30), w)
                .await
                .expect("every page's phone up within 30 s")
                .expect("attached");
            let remote = RemoteMedia::parse(attached.remote_sdp().as_bytes()).expect("sdp");
            media.set_remote(agent.id, &remote).expect("remote");
        }
        writeln!(stdin, "go").expect("go");
        stdin.flush().expect("flush");
        tokio::time::sleep(WARMUP).await;
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        tokio::time::sleep(measure).await;
        let (cpu1, wall) = (cpu_seconds(), t0.elapsed());
        let result = read();
        let _ = child.wait();
        let dialer_pct = 100.0 * (cpu1 - cpu0) / wall.as_secs_f64();
        let sent = result["sent"].as_f64().unwrap_or(0.0);
        let on_time = result["on_time"].as_f64().unwrap_or(0.0);
        let late_fraction = if sent > 0.0 {
            1.0 - on_time / sent
        } else {
            1.0
        };
        json!({
            "kind": kind,
            "calls": n,
            "packets_sent": sent,
            "on_time": on_time,
            "late_fraction": (late_fraction * 1e4).round() / 1e4,
            "to_agent": result["to_agent"],
            "to_customer": result["to_customer"],
            "dialer_cpu_pct": (dialer_pct * 10.0).round() / 10.0,
            "dialer_cpu_pct_of_core_per_call": (dialer_pct / n as f64 * 1e3).round() / 1e3,
            "phones_cpu_pct": result["cpu_pct"],
            "loadavg": loadavg(),
        })
    })
}

/// The child: every customer and every agent phone (browser or plain RTP), one thread.
async fn phones() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let webrtc = args[0] == "webrtc";
    let n: usize = args[1].parse().expect("n");
    let measure = Duration::from_secs(args[2].parse().expect("secs"));
    let base = Instant::now();
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut calls = Vec::new();
    let mut hello = Vec::new();
    for _ in 0..n {
        let customer = UdpSocket::bind(lo).await.expect("bind");
        let agent = UdpSocket::bind(lo).await.expect("bind");
        let mut line = json!({
            "customer": customer.local_addr().unwrap().port(),
            "agent": agent.local_addr().unwrap().port(),
        });
        let browser = if webrtc {
            let (b, offer) =
                SimBrowser::offer(Instant::now(), agent.local_addr().unwrap()).expect("browser");
            line["offer"] = json!(offer);
            Some(b)
        } else {
            None
        };
        hello.push(line);
        calls.push((customer, agent, browser));
    }
    println!("{}", json!({"calls": hello}));
    let stdin = std::io::stdin();
    let mut line = String::new();
    stdin.lock().read_line(&mut line).expect("the legs");
    let legs: Value = serde_json::from_str(&line).expect("json");
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let (start_tx, start) = tokio::sync::watch::channel(false);
    for (i, (customer, agent, browser)) in calls.into_iter().enumerate() {
        let leg = &legs["calls"][i];
        let port = |k: &str| u16::try_from(leg[k].as_u64().unwrap()).unwrap();
        let customer_leg = SocketAddr::from(([127, 0, 0, 1], port("customer_leg")));
        let agent_leg = SocketAddr::from(([127, 0, 0, 1], port("agent_leg")));
        let mut browser = browser;
        if let Some(b) = browser.as_mut() {
            b.answer(leg["answer"].as_str().unwrap()).expect("answer");
        }
        let tx = done_tx.clone();
        let start = start.clone();
        tokio::spawn(async move {
            let r = call(
                base,
                measure,
                start,
                customer,
                customer_leg,
                agent,
                agent_leg,
                browser,
            )
            .await;
            let _ = tx.send(r);
        });
    }
    drop(done_tx);
    // The calls run (ICE, DTLS) while the dialer's side waits for every page's phone; then "go".
    tokio::task::spawn_blocking(|| {
        let mut go = String::new();
        std::io::stdin().lock().read_line(&mut go).expect("go");
    })
    .await
    .expect("stdin");
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let _ = start_tx.send(true);
    let mut total = Counts::default();
    let mut to_agent = Counts::default();
    let mut to_customer = Counts::default();
    while let Some((a, c)) = done_rx.recv().await {
        to_agent.add(&a);
        to_customer.add(&c);
        total.add(&a);
        total.add(&c);
    }
    let cpu_pct = 100.0 * (cpu_seconds() - cpu0) / t0.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "sent": total.sent, "on_time": total.on_time,
            "to_agent": to_agent.json(), "to_customer": to_customer.json(),
            "cpu_pct": (cpu_pct * 10.0).round() / 10.0,
        })
    );
}

#[derive(Default, Clone, Copy)]
struct Counts {
    sent: u64,
    on_time: u64,
    received: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.sent += o.sent;
        self.on_time += o.on_time;
        self.received += o.received;
    }
    fn json(&self) -> Value {
        json!({"sent": self.sent, "received": self.received, "on_time": self.on_time})
    }
}

/// A frame stamped with its sending instant (nanoseconds since `base`).
fn frame(base: Instant) -> Vec<u8> {
    let mut p = vec![0xffu8; 160];
    let ns = base.elapsed().as_nanos() as u64;
    p[..8].copy_from_slice(&ns.to_le_bytes());
    p
}

/// A received frame: counted if it was sent inside the window, on time if within 20 ms.
fn arrived(base: Instant, window: (Duration, Duration), payload: &[u8], c: &mut Counts) {
    let Some(b) = payload.get(..8) else {
        return;
    };
    let sent = Duration::from_nanos(u64::from_le_bytes(b.try_into().unwrap()));
    if sent < window.0 || sent >= window.1 {
        return;
    }
    c.received += 1;
    if base.elapsed().saturating_sub(sent) <= LATE {
        c.on_time += 1;
    }
}

fn rtp(seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    dialer::media::rtp::build(
        0x5eed,
        0,
        dialer::media::rtp::Header {
            seq,
            timestamp: ts,
            marker: false,
        },
        payload,
    )
}

/// One call's two phones; returns (what reached the agent, what reached the customer).
#[allow(clippy::too_many_arguments)]
async fn call(
    base: Instant,
    measure: Duration,
    mut start: tokio::sync::watch::Receiver<bool>,
    customer: UdpSocket,
    customer_leg: SocketAddr,
    agent: UdpSocket,
    agent_leg: SocketAddr,
    mut browser: Option<SimBrowser>,
) -> (Counts, Counts) {
    let mut to_agent = Counts::default();
    let mut to_customer = Counts::default();
    let mut cbuf = vec![0u8; 2048];
    let mut abuf = vec![0u8; 2048];
    // Drain the browser: datagrams out, audio in.
    let flush = |b: &mut SimBrowser, agent: &UdpSocket, counts: &mut Counts, window| {
        let mut sends = Vec::new();
        let next = b.poll(&mut |o| match o {
            BrowserOut::Transmit { to, datagram } => sends.push((to, datagram)),
            BrowserOut::Audio { payload, .. } => arrived(base, window, &payload, counts),
            _ => {}
        });
        for (to, d) in sends {
            let _ = agent.try_send_to(&d, to);
        }
        next
    };
    let mut started = false;
    let mut tick = tokio::time::interval(FRAME);
    let mut window = (Duration::MAX, Duration::MAX);
    let mut end = Instant::now() + Duration::from_secs(3600);
    let mut seq = 0u16;
    let mut ts = 0u32;
    loop {
        let next = match browser.as_mut() {
            Some(b) => flush(b, &agent, &mut to_agent, window),
            None => None,
        }
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
        tokio::select! {
            _ = start.wait_for(|go| *go), if !started => {
                started = true;
                let now = base.elapsed();
                window = (now + WARMUP, now + WARMUP + measure);
                end = Instant::now() + WARMUP + measure + Duration::from_millis(200);
            }
            _ = tick.tick(), if started => {
                if Instant::now() >= end {
                    break;
                }
                let in_window = |c: &mut Counts| {
                    let now = base.elapsed();
                    if now >= window.0 && now < window.1 {
                        c.sent += 1;
                    }
                };
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                let _ = customer.try_send_to(&rtp(seq, ts, &frame(base)), customer_leg);
                in_window(&mut to_agent);
                match browser.as_mut() {
                    Some(b) => b.send_audio(Instant::now(), u64::from(ts) + 8000, &frame(base)),
                    None => {
                        let _ = agent.try_send_to(&rtp(seq, ts, &frame(base)), agent_leg);
                    }
                }
                in_window(&mut to_customer);
            }
            r = customer.recv_from(&mut cbuf) => {
                if let Ok((len, _)) = r
                    && let Some(p) = dialer::media::rtp::Packet::parse(&cbuf[..len])
                {
                    arrived(base, window, p.payload, &mut to_customer);
                }
            }
            r = agent.recv_from(&mut abuf) => {
                if let Ok((len, from)) = r {
                    match browser.as_mut() {
                        Some(b) => b.receive(Instant::now(), from, &abuf[..len]),
                        None => {
                            if let Some(p) = dialer::media::rtp::Packet::parse(&abuf[..len]) {
                                arrived(base, window, p.payload, &mut to_agent);
                            }
                        }
                    }
                }
            }
            () = tokio::time::sleep_until(next.into()) => {
                if let Some(b) = browser.as_mut() {
                    b.timeout(Instant::now());
                }
            }
        }
    }
    (to_agent, to_customer)
}
