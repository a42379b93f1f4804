//! The simulated carrier and agent phones over real UDP on 127.0.0.1: our own UAC endpoint
//! calls them, and a real media leg listens to (and talks to) them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use dialer::media::sdp::{LocalMedia, RemoteMedia};
use dialer::media::{self, Driver, DriverConfig, FRAME_SAMPLES};
use dialer::simnet::callee::Kind;
use dialer::simnet::carrier::plan_for;
use dialer::simnet::vad::Vad;
use dialer::simnet::{
    AgentDesk, AgentPhones, AgentsConfig, Carrier, CarrierConfig, CarrierStats, DeskError,
    OutcomeMix, Sounds, Span,
};
use dialer::sip::message::{HasHeaders as _, Message, Transport, Uri};
use dialer::sip::{
    CallEvent, CallId, CallReport, CallSpec, Endpoint, EndpointConfig, EndpointEvent,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};

// ---- a small UAC driver over a real socket -------------------------------------------------

enum Cmd {
    Place(
        Box<CallSpec>,
        oneshot::Sender<(CallId, mpsc::UnboundedReceiver<CallEvent>)>,
    ),
    Hangup(CallId),
}

#[derive(Clone)]
struct Uac {
    cmds: mpsc::UnboundedSender<Cmd>,
}

impl Uac {
    async fn start(far: SocketAddr) -> Uac {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut cfg = EndpointConfig::new(sock.local_addr().unwrap());
        cfg.allowed = vec![far.ip()];
        let mut ep = Endpoint::new(cfg, 42);
        let (cmds, mut rx) = mpsc::unbounded_channel::<Cmd>();
        tokio::spawn(async move {
            let mut routes: BTreeMap<CallId, mpsc::UnboundedSender<CallEvent>> = BTreeMap::new();
            let mut buf = vec![0u8; 65_535];
            loop {
                let deadline = ep.poll_timeout();
                tokio::select! {
                    r = sock.recv_from(&mut buf) => if let Ok((n, from)) = r {
                        ep.handle_datagram(std::time::Instant::now(), from, Transport::Udp, &buf[..n]);
                    },
                    c = rx.recv() => match c {
                        None => return,
                        Some(Cmd::Place(spec, reply)) => {
                            let id = ep.place_call(std::time::Instant::now(), *spec);
                            let (tx, erx) = mpsc::unbounded_channel();
                            routes.insert(id, tx);
                            let _ = reply.send((id, erx));
                        }
                        Some(Cmd::Hangup(id)) => ep.hangup(std::time::Instant::now(), id),
                    },
                    _ = async {
                        match deadline {
                            Some(at) => tokio::time::sleep_until(at.into()).await,
                            None => std::future::pending().await,
                        }
                    } => ep.handle_timeout(std::time::Instant::now()),
                }
                while let Some(t) = ep.poll_transmit() {
                    let _ = sock.send_to(&t.bytes, t.to).await;
                }
                while let Some(e) = ep.poll_event() {
                    if let EndpointEvent::Call { id, event } = e
                        && let Some(tx) = routes.get(&id)
                    {
                        let _ = tx.send(event);
                    }
                }
            }
        });
        Uac { cmds }
    }

    async fn call(
        &self,
        far: SocketAddr,
        user: &str,
        offer: String,
        ring: Duration,
    ) -> (CallId, mpsc::UnboundedReceiver<CallEvent>) {
        let spec = CallSpec {
            target: Uri::parse(&format!("sip:{user}@{far}")).unwrap(),
            dest: far,
            transport: Transport::Udp,
            from: Uri::parse("sip:+15550100@127.0.0.1").unwrap(),
            credentials: None,
            offer: Some(("application/sdp".into(), Bytes::from(offer))),
            ring_timeout: ring,
            talk_limit: None,
            wall_start: jiff::Timestamp::now(),
            pinned: false,
        };
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Place(Box::new(spec), tx)).ok().unwrap();
        rx.await.unwrap()
    }

    fn hangup(&self, id: CallId) {
        let _ = self.cmds.send(Cmd::Hangup(id));
    }
}

async fn next_event(rx: &mut mpsc::UnboundedReceiver<CallEvent>, within: Duration) -> CallEvent {
    timeout(within, rx.recv())
        .await
        .expect("a call event in time")
        .expect("call events")
}

async fn until_ended(rx: &mut mpsc::UnboundedReceiver<CallEvent>, within: Duration) -> CallReport {
    let end = Instant::now() + within;
    loop {
        match next_event(rx, end - Instant::now()).await {
            CallEvent::Ended(r) => return *r,
            _ => continue,
        }
    }
}

/// A media leg that records the level of every frame it hears.
struct Ear {
    leg: media::Leg,
    levels: Arc<Mutex<Vec<(u32, f64)>>>,
}

/// Power share of 1 kHz in a frame (Goertzel), 0..1.
fn tone_share(f: &[i16; FRAME_SAMPLES]) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * 1000.0 / 8000.0).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut energy = 0.0;
    for &x in f {
        let x = f64::from(x);
        energy += x * x;
        let s0 = x + k * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let p = s1 * s1 + s2 * s2 - k * s1 * s2;
    if energy < 1.0 {
        return 0.0;
    }
    (2.0 * p / (FRAME_SAMPLES as f64 * energy)).min(1.0)
}

impl Ear {
    fn open(media: &Driver) -> Ear {
        let leg = media.open_leg().unwrap();
        let levels = Arc::new(Mutex::new(Vec::new()));
        let l2 = levels.clone();
        media
            .set_analyzer(
                leg.id,
                Box::new(move |f: &[i16; FRAME_SAMPLES]| {
                    l2.lock().unwrap().push((Vad::level(f), tone_share(f)));
                }),
            )
            .unwrap();
        Ear { leg, levels }
    }

    fn offer(&self) -> String {
        LocalMedia::offer(self.leg.local.ip(), self.leg.local.port(), 1).to_sdp()
    }

    /// Voice segments heard (by the simnet's own detector settings).
    fn segments(&self) -> usize {
        self.voice_changes().0
    }

    /// Voice segments heard that have also ended (their hangover of quiet frames passed).
    fn segments_ended(&self) -> usize {
        self.voice_changes().1
    }

    /// (voice starts, voice ends) the simnet's detector finds in what was heard so far.
    fn voice_changes(&self) -> (usize, usize) {
        let levels = self.levels.lock().unwrap();
        let mut vad = Vad::default();
        let (mut starts, mut ends) = (0, 0);
        for (lvl, _) in levels.iter() {
            let f = [(*lvl).min(30_000) as i16; FRAME_SAMPLES];
            match vad.push(&f) {
                Some(true) => starts += 1,
                Some(false) => ends += 1,
                None => {}
            }
        }
        (starts, ends)
    }

    fn frames(&self) -> Vec<(u32, f64)> {
        self.levels.lock().unwrap().clone()
    }
}

/// The carrier's counters once `done` holds (its call tasks finish just after the SIP ends).
async fn stats_when(c: &Carrier, done: impl Fn(&CarrierStats) -> bool) -> CarrierStats {
    let start = Instant::now();
    loop {
        let s = c.stats();
        if done(&s) || start.elapsed() > Duration::from_secs(3) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn answered(ev: &CallEvent) -> Option<RemoteMedia> {
    match ev {
        CallEvent::Answered { answer, .. } => Some(RemoteMedia::parse(answer).unwrap()),
        _ => None,
    }
}

async fn wait_answer(rx: &mut mpsc::UnboundedReceiver<CallEvent>) -> RemoteMedia {
    loop {
        let ev = next_event(rx, Duration::from_secs(10)).await;
        if let Some(m) = answered(&ev) {
            return m;
        }
        assert!(
            !matches!(ev, CallEvent::Ended(_)),
            "ended before the answer: {ev:?}"
        );
    }
}

/// A call placed by a fresh UAC to `far` (user `to`), with an [`Ear`] as its media, once
/// answered: the ear hears the far end. The UAC lives as long as the returned handle.
async fn answered_call(
    far: SocketAddr,
    to: &str,
    media: &Driver,
) -> (Uac, CallId, Ear, mpsc::UnboundedReceiver<CallEvent>) {
    let uac = Uac::start(far).await;
    let ear = Ear::open(media);
    let (id, mut rx) = uac
        .call(far, to, ear.offer(), Duration::from_secs(20))
        .await;
    let remote = wait_answer(&mut rx).await;
    media.set_remote(ear.leg.id, &remote).unwrap();
    (uac, id, ear, rx)
}

fn only(kind: Kind) -> OutcomeMix {
    let mut m = OutcomeMix {
        person: 0.0,
        machine: 0.0,
        busy: 0.0,
        no_answer: 0.0,
        invalid: 0.0,
        congestion: 0.0,
    };
    match kind {
        Kind::Person => m.person = 1.0,
        Kind::Machine => m.machine = 1.0,
        Kind::Busy => m.busy = 1.0,
        Kind::NoAnswer => m.no_answer = 1.0,
        Kind::Invalid => m.invalid = 1.0,
        Kind::Congestion => m.congestion = 1.0,
    }
    m
}

async fn carrier(cfg: CarrierConfig, seed: u64, media: &Driver) -> Carrier {
    Carrier::start(
        "127.0.0.1:0".parse().unwrap(),
        vec!["127.0.0.1".parse().unwrap()],
        cfg,
        seed,
        media.clone(),
        Sounds::builtin().unwrap(),
    )
    .await
    .unwrap()
}

// ---- the carrier ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcome_mix_and_ring_times_match_the_config() {
    let media = Driver::start(DriverConfig::default());
    let cfg = CarrierConfig {
        ring_person: Span::secs(0.1, 0.3),
        ring_machine: Span::secs(0.1, 0.3),
        reject_after: Span::secs(0.05, 0.15),
        ..CarrierConfig::default()
    };
    let seed = 2026;
    let c = carrier(cfg.clone(), seed, &media).await;
    let uac = Uac::start(c.local()).await;
    let n = 240u64;
    let mut reports = Vec::new();
    for batch in 0..(n / 40) {
        let mut calls = Vec::new();
        for i in 0..40 {
            let user = format!("+1555000{:04}", batch * 40 + i);
            // Nobody listens on port 9: the carrier's RTP goes nowhere, which is fine here.
            let offer = LocalMedia::offer("127.0.0.1".parse().unwrap(), 9, 1).to_sdp();
            calls.push(
                uac.call(c.local(), &user, offer, Duration::from_secs(1))
                    .await,
            );
        }
        for (id, mut rx) in calls {
            loop {
                match next_event(&mut rx, Duration::from_secs(10)).await {
                    CallEvent::Answered { .. } => uac.hangup(id),
                    CallEvent::Ended(r) => {
                        reports.push(*r);
                        break;
                    }
                    _ => {}
                }
            }
        }
    }
    // Exactly what the seeded plans say, whatever order the INVITEs arrived in.
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for i in 1..=n {
        *expected
            .entry(plan_for(&cfg, seed, i).kind.key())
            .or_default() += 1;
    }
    let mut got: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &reports {
        let k = match r.outcome.as_str() {
            "answered" => "answered",
            "busy" => "busy",
            "no_answer" => "no_answer",
            "invalid_number" => "invalid",
            "congestion" => "congestion",
            o => panic!("unexpected outcome {o}"),
        };
        *got.entry(k).or_default() += 1;
    }
    let answered = expected.get("person").unwrap_or(&0) + expected.get("machine").unwrap_or(&0);
    assert_eq!(
        got.get("answered").copied().unwrap_or(0),
        answered,
        "{got:?}"
    );
    for k in ["busy", "no_answer", "invalid", "congestion"] {
        assert_eq!(got.get(k), expected.get(k), "{k}: {got:?} vs {expected:?}");
    }
    let stats = stats_when(&c, |s| {
        s.answered == answered && s.hung_up_by_dialer == answered
    })
    .await;
    assert_eq!(stats.hung_up_by_dialer, answered);
    assert_eq!(stats.calls, n);
    assert_eq!(stats.planned, expected);
    assert_eq!(stats.answered, answered);
    assert_eq!(stats.cancelled_before_answer, 0);
    // And the plans follow the configured probabilities (4 standard deviations).
    for (kind, p) in cfg.mix.probabilities() {
        let share = *expected.get(kind.key()).unwrap_or(&0) as f64 / n as f64;
        let tol = 4.0 * (p * (1.0 - p) / n as f64).sqrt();
        assert!((share - p).abs() <= tol, "{}: {share} vs {p}", kind.key());
    }
    // Ring times: never before the drawn minimum, never far past the maximum.
    for r in &reports {
        let ms = r.ring_ms();
        match r.outcome.as_str() {
            "answered" => assert!((100..=1300).contains(&ms), "answered after {ms} ms"),
            "no_answer" => {
                assert_eq!(r.sip_status, Some(487));
                assert!((1000..=2000).contains(&ms), "cancelled after {ms} ms");
            }
            _ => assert!((50..=1150).contains(&ms), "rejected after {ms} ms"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_says_hello_and_hangs_up_when_nobody_speaks() {
    let media = Driver::start(DriverConfig::default());
    let cfg = CarrierConfig {
        mix: only(Kind::Person),
        ring_person: Span::secs(0.3, 0.3),
        greet_delay: Span::secs(0.2, 0.2),
        patience: Span::secs(0.8, 0.8),
        ..CarrierConfig::default()
    };
    let c = carrier(cfg, 7, &media).await;
    let (_uac, _, ear, mut rx) = answered_call(c.local(), "+15551230000", &media).await;
    let r = until_ended(&mut rx, Duration::from_secs(15)).await;
    assert_eq!(r.ended_by, Some(dialer::sip::EndedBy::Them));
    assert!(r.ring_ms() >= 300, "{}", r.ring_ms());
    // "hello?" (0.9 s), 0.8 s, "hello? anyone there?" (2.2 s), 0.8 s.
    let talk = r.talk_ms();
    assert!((4000..9000).contains(&talk), "hung up after {talk} ms");
    // "hello? anyone there?" may pause between its words.
    assert!(
        ear.segments() >= 2,
        "heard {} voice segments",
        ear.segments()
    );
    let s = c.stats();
    assert_eq!(s.persons_hung_up_unspoken, 1);
    assert_eq!(s.persons_spoken_to, 0);
    assert_eq!(s.hung_up_by_dialer, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_spoken_to_talks_then_hangs_up() {
    let media = Driver::start(DriverConfig::default());
    let cfg = CarrierConfig {
        mix: only(Kind::Person),
        ring_person: Span::secs(0.2, 0.2),
        greet_delay: Span::secs(0.2, 0.2),
        patience: Span::secs(3.0, 3.0),
        talk: Span::secs(3.0, 3.0),
        ..CarrierConfig::default()
    };
    let c = carrier(cfg, 8, &media).await;
    let (_uac, _, ear, mut rx) = answered_call(c.local(), "+15551230001", &media).await;
    // Like an agent: wait for the end of the hello, then speak. Every frame heard from here
    // on comes after the hello, so loud ones are the person talking back.
    let start = Instant::now();
    while ear.segments_ended() == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no complete hello heard"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let heard_before = ear.frames().len();
    media
        .play(ear.leg.id, Sounds::builtin().unwrap().agent_talk)
        .unwrap();
    let r = until_ended(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(r.ended_by, Some(dialer::sip::EndedBy::Them));
    let s = c.stats();
    assert_eq!(s.persons_spoken_to, 1, "{s:?} after {} ms", r.talk_ms());
    assert_eq!(s.persons_hung_up_after_talk, 1);
    // The person talked back: loud frames after we started speaking.
    let frames = ear.frames();
    let loud_after = frames[heard_before..]
        .iter()
        .filter(|(l, _)| *l > 300)
        .count();
    assert!(loud_after > 50, "{loud_after} loud frames after we spoke");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voicemail_plays_greeting_then_beep_and_records_the_message() {
    let media = Driver::start(DriverConfig::default());
    let cfg = CarrierConfig {
        mix: only(Kind::Machine),
        ring_machine: Span::secs(0.2, 0.2),
        voicemail_quiet: Duration::from_secs(1),
        ..CarrierConfig::default()
    };
    let c = carrier(cfg, 9, &media).await;
    let (_uac, _, ear, mut rx) = answered_call(c.local(), "+15551230002", &media).await;
    // Wait for the beep's end, then leave a message.
    let start = Instant::now();
    let beep_end = loop {
        assert!(start.elapsed() < Duration::from_secs(15), "no beep heard");
        let f = ear.frames();
        let beep: Vec<usize> = f
            .iter()
            .enumerate()
            .filter(|(_, (l, t))| *l > 1000 && *t > 0.9)
            .map(|(i, _)| i)
            .collect();
        if beep.len() >= 15 && f.len() > beep[beep.len() - 1] + 3 {
            break beep;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let frames = ear.frames();
    let first_beep = beep_end[0];
    let greeting_voice = frames[..first_beep]
        .iter()
        .filter(|(l, t)| *l > 300 && *t < 0.5)
        .count();
    assert!(
        greeting_voice > 100,
        "only {greeting_voice} voice frames before the beep"
    );
    assert!(
        (15..=25).contains(&beep_end.len()),
        "beep of {} frames",
        beep_end.len()
    );
    media
        .play(ear.leg.id, Sounds::builtin().unwrap().hello_again)
        .unwrap();
    let r = until_ended(&mut rx, Duration::from_secs(10)).await;
    assert_eq!(r.ended_by, Some(dialer::sip::EndedBy::Them));
    let s = stats_when(&c, |s| s.messages_recorded == 1).await;
    assert_eq!(s.messages_recorded, 1);
    assert_eq!(s.spoke_before_beep, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmitted_invite_is_one_call_and_cancel_gets_487() {
    let media = Driver::start(DriverConfig::default());
    let cfg = CarrierConfig {
        mix: only(Kind::NoAnswer),
        ..CarrierConfig::default()
    };
    let c = carrier(cfg, 10, &media).await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let far = c.local();
    let inv = format!(
        "INVITE sip:+15551239999@{far} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKretx1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:d@{me}>;tag=a1\r\nTo: <sip:+15551239999@{far}>\r\n\
         Call-ID: retx1@test\r\nCSeq: 1 INVITE\r\nContact: <sip:d@{me}>\r\nContent-Length: 0\r\n\r\n"
    );
    // The INVITE and two retransmissions, spaced as a UAC's timer would space them (shortened):
    // copies that come while the call already runs. The spacing is the scenario, not a wait.
    for _ in 0..3 {
        sock.send_to(inv.as_bytes(), far).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut buf = vec![0u8; 65_535];
    let mut statuses = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Ok((n, _))) = timeout(deadline - Instant::now(), sock.recv_from(&mut buf)).await {
        if let Ok(Message::Response(r)) = Message::parse(&buf[..n]) {
            statuses.push(r.status);
        }
        if statuses.contains(&180) && statuses.iter().filter(|s| **s == 100).count() >= 3 {
            break;
        }
    }
    assert!(statuses.contains(&180), "{statuses:?}");
    assert_eq!(c.stats().calls, 1);
    let cancel = format!(
        "CANCEL sip:+15551239999@{far} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bKretx1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:d@{me}>;tag=a1\r\nTo: <sip:+15551239999@{far}>\r\n\
         Call-ID: retx1@test\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n"
    );
    sock.send_to(cancel.as_bytes(), far).await.unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Ok(Ok((n, _))) = timeout(deadline - Instant::now(), sock.recv_from(&mut buf)).await {
        if let Ok(Message::Response(r)) = Message::parse(&buf[..n]) {
            got.push((r.status, r.cseq().map(|c| c.method.to_string()).unwrap()));
        }
        if got.iter().any(|(s, _)| *s == 487) {
            break;
        }
    }
    assert!(got.contains(&(200, "CANCEL".into())), "{got:?}");
    assert!(got.contains(&(487, "INVITE".into())), "{got:?}");
    assert_eq!(c.stats().calls, 1);
    assert_eq!(c.stats().cancelled_before_answer, 0); // a no-answer call is not "cancelled early"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_refused() {
    let media = Driver::start(DriverConfig::default());
    let c = Carrier::start(
        "127.0.0.1:0".parse().unwrap(),
        vec!["10.9.9.9".parse().unwrap()],
        CarrierConfig::default(),
        1,
        media.clone(),
        Sounds::builtin().unwrap(),
    )
    .await
    .unwrap();
    let uac = Uac::start(c.local()).await;
    let (_, mut rx) = uac
        .call(
            c.local(),
            "+15551230003",
            LocalMedia::offer("127.0.0.1".parse().unwrap(), 9, 1).to_sdp(),
            Duration::from_secs(5),
        )
        .await;
    let r = until_ended(&mut rx, Duration::from_secs(5)).await;
    assert_eq!(r.sip_status, Some(403));
    let s = stats_when(&c, |s| s.refused == 1).await;
    assert_eq!((s.calls, s.refused), (0, 1));
}

// ---- agent phones --------------------------------------------------------------------------

#[derive(Default)]
struct Desk {
    log: Mutex<Vec<String>>,
}

impl AgentDesk for Desk {
    fn catalogue(&self, _agent: &str) -> Vec<String> {
        vec!["sale".into(), "callback".into()]
    }
    async fn hangup(&self, agent: &str) -> Result<(), DeskError> {
        self.log.lock().unwrap().push(format!("hangup {agent}"));
        Ok(())
    }
    async fn dispose(&self, agent: &str, code: &str) -> Result<(), DeskError> {
        self.log
            .lock()
            .unwrap()
            .push(format!("dispose {agent} {code}"));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_phone_answers_stays_up_talks_and_works_the_desk() {
    let media = Driver::start(DriverConfig::default());
    let desk = Arc::new(Desk::default());
    let cfg = AgentsConfig {
        talk: Span::secs(1.5, 1.5),
        wrap: Span::secs(0.5, 0.5),
        ..AgentsConfig::default()
    };
    let phones = AgentPhones::start(
        &[
            ("alice".to_owned(), "127.0.0.1:0".parse().unwrap()),
            ("bob".to_owned(), "127.0.0.1:0".parse().unwrap()),
        ],
        vec!["127.0.0.1".parse().unwrap()],
        cfg,
        3,
        media.clone(),
        Sounds::builtin().unwrap(),
        desk.clone(),
    )
    .await
    .unwrap();
    let alice = phones.phones()[0].clone();
    assert!(alice.sip_uri().starts_with("sip:alice@127.0.0.1:"));
    let (uac, id, ear, mut rx) = answered_call(alice.local, "alice", &media).await;
    // The nailed-up leg stays up, and the agent is quiet while nobody is connected.
    assert!(timeout(Duration::from_secs(2), rx.recv()).await.is_err());
    assert_eq!(ear.segments(), 0);
    assert_eq!(phones.stats().legs_up, 1);
    // A second leg to the same phone is refused as busy.
    let (_, mut rx2) = uac
        .call(alice.local, "alice", ear.offer(), Duration::from_secs(20))
        .await;
    assert_eq!(
        until_ended(&mut rx2, Duration::from_secs(5))
            .await
            .sip_status,
        Some(486)
    );
    // A customer is bridged in and says hello: the agent talks, hangs up after the talk
    // time, wraps up and disposes.
    media
        .play(ear.leg.id, Sounds::builtin().unwrap().hello)
        .unwrap();
    let start = Instant::now();
    while desk.log.lock().unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            desk.log.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = desk.log.lock().unwrap().clone();
    assert_eq!(log[0], "hangup alice");
    assert!(
        log[1] == "dispose alice sale" || log[1] == "dispose alice callback",
        "{log:?}"
    );
    assert!(ear.segments() >= 1, "the agent never spoke");
    let s = phones.stats();
    assert_eq!((s.calls, s.hangups, s.dispositions), (1, 1, 1));
    // Still up after all that; the dialer ends the leg at logout.
    uac.hangup(id);
    let r = until_ended(&mut rx, Duration::from_secs(5)).await;
    assert!(r.talk_ms() > 4000);
    // The phone counts the leg down once its call task has seen the BYE through.
    let start = Instant::now();
    while phones.stats().legs_down == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "leg not down: {:?}",
            phones.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(phones.stats().legs_down, 1);
}
