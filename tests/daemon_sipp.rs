//! The daemon end to end on loopback, with sipp as the trunk and as the agent's phone.
//!
//! The daemon nails up the agent's leg (sipp's built-in UAS, echoing RTP), dials the lead through
//! the trunk (a sipp scenario that answers like a person and hangs up after 3 s), bridges the
//! person to the agent, and stores the attempt, the agent's intervals and the lead's state.
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

mod storedb;

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::entity::{agent_state_interval, call_attempt, lead};
use sea_orm::{EntityTrait, QueryOrder};

fn have_sipp() -> bool {
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
        eprintln!("note: sipp not installed; daemon end-to-end test skipped");
    }
    ok
}

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Sipp(Child);

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipp(args: &[&str]) -> Sipp {
    let child = Command::new("sipp")
        .args(args)
        .args(["-i", "127.0.0.1", "-nostdin", "-timeout", "90s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sipp");
    Sipp(child)
}

/// An `Etc/GMT±N` zone where it is now between 10:00 and 19:59, so the test can dial at any
/// hour of the real day inside US calling hours.
fn daytime_zone() -> String {
    let now = jiff::Timestamp::now();
    for offset in -12i32..=12 {
        // Etc/GMT-5 is UTC+5 (POSIX sign).
        let name = match offset {
            0 => "Etc/GMT".to_string(),
            o if o > 0 => format!("Etc/GMT-{o}"),
            o => format!("Etc/GMT+{}", -o),
        };
        let Ok(tz) = jiff::tz::TimeZone::get(&name) else {
            continue;
        };
        let hour = now.to_zoned_datetime(tz).hour();
        if (10..20).contains(&hour) {
            return name;
        }
    }
    panic!("no zone with daytime found");
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

fn setup(dir: &Path, sip_port: u16, trunk_port: u16, agent_port: u16, zone: &str) -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::create_dir_all(dir.join("campaigns/lists")).unwrap();
    write(
        &dir.join("campaigns/lists/leads.csv"),
        "phone,tz,name\n+12025550143,ZONE,Dana\n"
            .replace("ZONE", zone)
            .as_str(),
    );
    let safe_harbor = repo.join("campaigns/audio/safe_harbor.wav");
    write(
        &dir.join("campaigns/e2e.toml"),
        &format!(
            r#"
name = "e2e"
kind = "cold"
mode = "progressive"
trunk = "main"
caller_id = "+12025550100"
agent_groups = ["sales"]
safe_harbor = "{safe_harbor}"

[[lists]]
name = "leads"
file = "lists/leads.csv"
columns = {{ phone = "phone", timezone = "tz" }}

[hours]
timezone = "{zone}"
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "08:00"
end = "21:00"

[dialing]
ring_timeout = "15s"
calls_per_second = 5.0
max_concurrent = 5

[amd]
enabled = false

[[dispositions]]
code = "sale"
label = "Sale"
effect = "final"
success = true
"#,
            safe_harbor = safe_harbor.display()
        ),
    );
    // A port range of its own (busy ports in it are skipped).
    let rtp_min = 30000 + (std::process::id() % 500) as u16 * 40;
    let rtp_max = rtp_min + 40;
    let config = dir.join("dialer.toml");
    write(
        &config,
        &format!(
            r#"
state_dir = "state"
campaigns_dir = "campaigns"

[sip]
bind = "127.0.0.1:{sip_port}"

[[trunks]]
name = "main"
host = "127.0.0.1"
port = {trunk_port}
max_channels = 10
calls_per_second = 5.0

[[agents]]
id = "alice"
name = "Alice"
sip_uri = "sip:alice@127.0.0.1:{agent_port}"
groups = ["sales"]

[media]
rtp_port_min = {rtp_min}
rtp_port_max = {rtp_max}
"#
        ),
    );
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_is_bridged_to_the_nailed_up_agent_and_stored() {
    if !have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sip_port, trunk_port, agent_port) = (free_port(), free_port(), free_port());
    let zone = daytime_zone();
    let config_path = setup(dir.path(), sip_port, trunk_port, agent_port, &zone);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _agent = sipp(&[
        "-sn",
        "uas",
        "-p",
        &agent_port.to_string(),
        "-rtp_echo",
        "-m",
        "1",
    ]);
    let scenario = repo.join("tests/sipp/carrier_person.xml");
    let _carrier = sipp(&[
        "-sf",
        scenario.to_str().unwrap(),
        "-p",
        &trunk_port.to_string(),
        "-m",
        "1",
    ]);
    std::thread::sleep(Duration::from_millis(300));

    let loaded = config::load_all(&config_path).expect("test config is valid");
    let db = storedb::sqlite();
    let store = db.open().await;
    storedb::seed_one_lead(&store, &loaded.campaigns[0], &zone).await;

    let options = Options {
        tick: Duration::from_millis(100),
        login_all_agents: true,
        drain_deadline: Duration::from_secs(10),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    let control = daemon.control();

    // The attempt ends when sipp hangs up (3 s after answering).
    let started = Instant::now();
    let attempt = loop {
        let rows = call_attempt::Entity::find()
            .order_by_asc(call_attempt::Column::Id)
            .all(store.conn())
            .await
            .unwrap();
        if let Some(a) = rows.iter().find(|a| a.end_at_ms.is_some()) {
            break a.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(45),
            "no finished attempt after 45 s: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    assert_eq!(attempt.sip_status, Some(200));
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    assert!(attempt.live && !attempt.abandoned);
    let answer = attempt.answer_at_ms.expect("answer time");
    let connect = attempt.connect_at_ms.expect("connect time");
    assert!(attempt.dial_at_ms <= answer && answer <= connect);
    assert!(
        connect - answer < 2000,
        "connected {} ms after the answer",
        connect - answer
    );
    let end = attempt.end_at_ms.unwrap();
    assert!(end - answer >= 2500, "talked {} ms", end - answer);

    // Alice is in wrap-up with her leg up; her disposition ends it and applies to the lead.
    let agents = control.agents().await.unwrap();
    assert_eq!(agents[0].state, dialer::agents::State::WrapUp);
    control
        .ask(dialer::daemon::control::Request::Disposition {
            agent: "alice".into(),
            code: "sale".into(),
            notes: None,
            callback_after: None,
        })
        .await
        .unwrap();
    daemon.stop().await;

    let l = lead::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.status, "done");
    assert_eq!(l.last_outcome.as_deref(), Some("sale"));
    assert_eq!(l.lease_owner, None);
    let intervals = agent_state_interval::Entity::find()
        .order_by_asc(agent_state_interval::Column::StartedAtMs)
        .all(store.conn())
        .await
        .unwrap();
    let states: Vec<&str> = intervals.iter().map(|i| i.state.as_str()).collect();
    assert!(
        states
            .windows(3)
            .any(|w| w == ["ready", "on_call", "wrap_up"]),
        "intervals: {states:?}"
    );
    let on_call = intervals.iter().find(|i| i.state == "on_call").unwrap();
    assert_eq!(on_call.attempt_id, Some(attempt.id));
}
