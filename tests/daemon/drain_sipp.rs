//! Stopping the daemon (SIGTERM's path, `Daemon::stop`) with a call bridged, on loopback with
//! sipp as the carrier and as the agent's phone, and the agent acting through the HTTP API.
//!
//! - a call that ends during the drain leaves its agent in wrap-up: the stop waits for the
//!   disposition, which the API still takes and the store keeps;
//! - an agent who never disposes: at the drain deadline the wrap-up is cut short and the lead is
//!   released at once, due after the campaign's retry delay, not held for an hour;
//! - a call still up at the drain deadline is hung up and its wrap-up cut the same way;
//! - the agent's phone (and the carrier) answer our BYEs 2 s late: the stop waits for those
//!   answers before it returns (the SIP socket closes when the process exits);
//! - every attempt stores the SIP Call-ID its INVITE carried, the one sipp saw.
//!
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use dialer::agents::State;
use dialer::daemon::api::{Api, Phase, Readiness, Tokens};
use dialer::daemon::config;
use dialer::daemon::control::SwitchboardHandle;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::Store;
use dialer::store::entity::{agent_state_interval, call_attempt, disposition, lead};
use sea_orm::{EntityTrait, QueryOrder};

use crate::e2e::{Carrier, CarrierEnd, CarrierMedia, Setup, Sipp};
use crate::rig::{eventually, post};
use crate::{e2e, storedb};

const ALICE: &str = "alice-token-0123456789";
/// How late the agent's phone (and, in one test, the carrier) answers a BYE.
const BYE_ANSWER_DELAY: Duration = Duration::from_secs(2);
/// `retry.delay.interrupted` of the test campaign.
const INTERRUPTED_DELAY_MS: i64 = 7 * 60 * 1000;

/// The agent's phone: answers the nailed-up leg, echoes RTP, and answers the BYE
/// [`BYE_ANSWER_DELAY`] after it comes.
fn slow_agent_phone(port: u16) -> Sipp {
    let xml = format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="agent phone answering BYE late">
  <recv request="INVITE"/>
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
      o=agent 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000

    ]]>
  </send>
  <recv request="ACK"/>
  <recv request="BYE"/>
  <pause milliseconds="{}"/>
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
  </send>
</scenario>
"#,
        BYE_ANSWER_DELAY.as_millis()
    );
    Sipp::scenario(
        "agent",
        &xml,
        &["-p", &port.to_string(), "-rtp_echo", "-m", "1"],
    )
}

/// The carrier: answers after 200 ms of ringing and ends as `end` says (its BYE answered at
/// once); with `end` = [`CarrierEnd::WaitBye`] it answers our BYE [`BYE_ANSWER_DELAY`] late.
fn carrier(port: u16, end: CarrierEnd) -> Sipp {
    let c = Carrier {
        ring: Duration::from_millis(200),
        media: CarrierMedia::Sipp,
        stream: None,
        end,
        keys: vec![],
    };
    let mut xml = c.scenario();
    if end == CarrierEnd::WaitBye {
        let bye = "<recv request=\"BYE\"/>\n";
        assert_eq!(xml.matches(bye).count(), 1);
        xml = xml.replace(
            bye,
            &format!(
                "{bye}  <pause milliseconds=\"{}\"/>\n",
                BYE_ANSWER_DELAY.as_millis()
            ),
        );
    }
    Sipp::scenario("carrier", &xml, &["-p", &port.to_string(), "-m", "1"])
}

struct Running {
    _db: storedb::TestDb,
    store: Store,
    daemon: Daemon,
    control: SwitchboardHandle,
    api: SocketAddr,
    _stop_api: tokio::sync::oneshot::Sender<()>,
}

/// A fresh SQLite store with the campaign's one lead, the daemon (alice logged in, this drain
/// deadline) and its HTTP API with alice's token.
async fn start(setup: &Setup, config_path: &Path, drain: Duration) -> Running {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let db = storedb::sqlite();
    let store = db.open().await;
    let loaded = config::load_all(config_path).expect("test config is valid");
    storedb::seed_one_lead(&store, &loaded.campaigns[0], &setup.zone).await;
    let options = Options {
        tick: Duration::from_millis(100),
        login_all_agents: true,
        drain_deadline: drain,
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");
    let control = daemon.control();
    let tokens = Tokens::new(None, [("alice".into(), ALICE.to_string())]).unwrap();
    let api = Api::new(daemon.control(), tokens, Readiness::new(), None);
    api.readiness().set(Phase::Running);
    let (addr, stop_api) = e2e::serve_api(&api).await;
    Running {
        _db: db,
        store,
        daemon,
        control,
        api: addr,
        _stop_api: stop_api,
    }
}

/// The campaign `e2e` (progressive, AMD off: a person is bridged to alice at the answer) with
/// `retry.delay.interrupted` = 7 minutes.
fn setup() -> Setup {
    Setup {
        tables: "[retry.delay]\ninterrupted = \"7m\"".into(),
        ..Setup::new(&["alice"])
    }
}

async fn alice_is(control: &SwitchboardHandle, state: State, within: Duration, sipps: &[&Sipp]) {
    let what = format!("alice {state:?}\n{}", e2e::logs(sipps));
    eventually(&what, within, || async {
        let agents = control.agents().await.ok()?;
        agents
            .iter()
            .any(|a| a.id == "alice" && a.state == state)
            .then_some(())
    })
    .await;
}

/// A call bridged to alice: the store, the daemon with this `drain` deadline, the agent's
/// phone answering BYEs late and the carrier ending as `end` says; returns once alice is on
/// the call.
async fn call_up(end: CarrierEnd, drain: Duration) -> Bridged {
    let dir = tempfile::tempdir().unwrap();
    let setup = setup();
    let config_path = setup.write(dir.path());
    let phone = slow_agent_phone(setup.agent_port("alice"));
    let carrier = carrier(setup.trunk(), end);
    let r = start(&setup, &config_path, drain).await;
    alice_is(
        &r.control,
        State::OnCall,
        Duration::from_secs(30),
        &[&carrier, &phone],
    )
    .await;
    Bridged {
        _dir: dir,
        phone,
        carrier,
        r,
    }
}

struct Bridged {
    _dir: tempfile::TempDir,
    phone: Sipp,
    carrier: Sipp,
    r: Running,
}

/// The store's one attempt, carrying the Call-ID the carrier saw.
async fn the_attempt(store: &Store, carrier: &Sipp) -> call_attempt::Model {
    let mut attempts = attempts(store).await;
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    let attempt = attempts.remove(0);
    assert_eq!(attempt.call_id, Some(call_id_seen(carrier)));
    attempt
}

async fn attempts(store: &Store) -> Vec<call_attempt::Model> {
    call_attempt::Entity::find()
        .order_by_asc(call_attempt::Column::Id)
        .all(store.conn())
        .await
        .unwrap()
}

async fn the_lead(store: &Store) -> lead::Model {
    lead::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap()
}

/// The one Call-ID in a sipp's message trace (a one-call scenario).
fn call_id_seen(sipp: &Sipp) -> String {
    let logs = sipp.logs();
    let ids: std::collections::BTreeSet<&str> = logs
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.get(..8)
                .filter(|h| h.eq_ignore_ascii_case("call-id:"))
                .map(|_| l[8..].trim())
        })
        .collect();
    assert_eq!(ids.len(), 1, "Call-IDs in sipp's trace: {ids:?}\n{logs}");
    ids.into_iter().next().unwrap_or_default().to_owned()
}

/// Stop the daemon in a task of its own; returns when it was asked and the task.
fn stop(daemon: Daemon) -> (Instant, tokio::task::JoinHandle<Instant>) {
    let asked = Instant::now();
    let task = tokio::spawn(async move {
        daemon.stop().await;
        Instant::now()
    });
    (asked, task)
}

/// sipp finished its scenario (the BYE was answered) with success.
async fn finished(sipp: &mut Sipp) {
    let status = sipp.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "sipp: {status}\n{}", sipp.logs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_ending_during_the_drain_keeps_its_agents_disposition() {
    if !e2e::have_sipp("drain end-to-end test") {
        return;
    }
    // The customer hangs up 3 s after answering.
    let Bridged {
        mut phone,
        mut carrier,
        r,
        _dir,
    } = call_up(
        CarrierEnd::HangUpAfter(Duration::from_millis(3000)),
        Duration::from_secs(30),
    )
    .await;
    let (asked, stopping) = stop(r.daemon);
    // The customer hangs up during the drain: alice wraps up and the stop waits for her.
    alice_is(
        &r.control,
        State::WrapUp,
        Duration::from_secs(15),
        &[&carrier, &phone],
    )
    .await;
    assert!(
        !stopping.is_finished(),
        "the stop did not wait for alice's wrap-up"
    );
    let a = post(
        r.api,
        "/v1/agents/alice/disposition",
        Some(ALICE),
        r#"{"code":"sale","notes":"after the stop"}"#,
    )
    .await;
    assert_eq!(
        a.status, 200,
        "the disposition during the drain: {}",
        a.body
    );
    let disposed = Instant::now();
    let stopped = tokio::time::timeout(Duration::from_secs(20), stopping)
        .await
        .expect("the stop ends once the wrap-up is done")
        .unwrap();
    // Long before the 30 s drain deadline, once alice's phone answered the BYE.
    assert!(stopped - asked < Duration::from_secs(20));
    eprintln!(
        "drain: stop returned {:?} after it was asked, {:?} after the disposition",
        stopped - asked,
        stopped - disposed
    );
    assert!(
        stopped - disposed >= BYE_ANSWER_DELAY,
        "stopped {:?} after the disposition, before the agent's phone answered the BYE",
        stopped - disposed
    );
    finished(&mut phone).await;
    finished(&mut carrier).await;

    let attempt = the_attempt(&r.store, &carrier).await;
    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    let d = disposition::Entity::find()
        .all(r.store.conn())
        .await
        .unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(
        (
            d[0].code.as_str(),
            d[0].attempt_id,
            d[0].agent_id.as_deref()
        ),
        ("sale", Some(attempt.id), Some("alice"))
    );
    assert_eq!(d[0].notes.as_deref(), Some("after the stop"));
    let l = the_lead(&r.store).await;
    assert_eq!(
        (l.status.as_str(), l.last_outcome.as_deref()),
        ("done", Some("sale"))
    );
    assert_eq!(l.lease_owner, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrap_up_cut_short_by_the_drain_deadline_releases_the_lead() {
    if !e2e::have_sipp("drain end-to-end test") {
        return;
    }
    let drain = Duration::from_secs(5);
    let Bridged {
        mut phone,
        mut carrier,
        r,
        _dir,
    } = call_up(CarrierEnd::HangUpAfter(Duration::from_millis(1500)), drain).await;
    let (asked, stopping) = stop(r.daemon);
    // The customer hangs up during the drain; alice never posts a disposition.
    alice_is(
        &r.control,
        State::WrapUp,
        Duration::from_secs(5),
        &[&carrier, &phone],
    )
    .await;
    let stopped = tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("the stop ends")
        .unwrap();
    // The drain deadline, then alice's leg is hung up and her phone answers 2 s later; the stop
    // returned after that answer, not at the end of its 5 s wait for it.
    stopped_after_the_bye_answers(stopped - asked, drain);
    finished(&mut phone).await;
    finished(&mut carrier).await;

    let attempt = the_attempt(&r.store, &carrier).await;
    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    let end = attempt.end_at_ms.expect("ended");
    // No disposition; the lead is free at once and due after retry.delay.interrupted from the
    // call's end, not held for the hour a disposition may take.
    assert!(
        disposition::Entity::find()
            .all(r.store.conn())
            .await
            .unwrap()
            .is_empty()
    );
    let l = the_lead(&r.store).await;
    assert_eq!(l.status, "active");
    assert_eq!(l.last_outcome.as_deref(), Some("human"));
    assert_eq!(l.lease_owner, None);
    assert_eq!(l.lease_until_ms, None);
    assert_eq!(l.next_attempt_at_ms, Some(end + INTERRUPTED_DELAY_MS));
    // Her wrap-up ran until the deadline.
    let wrap: Vec<agent_state_interval::Model> = agent_state_interval::Entity::find()
        .all(r.store.conn())
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.state == "wrap_up")
        .collect();
    assert_eq!(wrap.len(), 1, "{wrap:?}");
    let wrap_ms = wrap[0].ended_at_ms.unwrap() - wrap[0].started_at_ms;
    assert!(
        wrap_ms >= 1000 && wrap_ms <= drain.as_millis() as i64 + 1000,
        "wrap-up of {wrap_ms} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_up_at_the_drain_deadline_is_hung_up_and_its_bye_answered_before_exit() {
    if !e2e::have_sipp("drain end-to-end test") {
        return;
    }
    // The customer never hangs up, and answers our BYE 2 s late.
    let drain = Duration::from_secs(3);
    let Bridged {
        mut phone,
        mut carrier,
        r,
        _dir,
    } = call_up(CarrierEnd::WaitBye, drain).await;
    let (asked, stopping) = stop(r.daemon);
    let stopped = tokio::time::timeout(Duration::from_secs(30), stopping)
        .await
        .expect("the stop ends")
        .unwrap();
    stopped_after_the_bye_answers(stopped - asked, drain);
    finished(&mut carrier).await;
    finished(&mut phone).await;

    let attempt = the_attempt(&r.store, &carrier).await;
    assert_eq!(attempt.agent_id.as_deref(), Some("alice"));
    let end = attempt.end_at_ms.expect("ended at the deadline");
    let l = the_lead(&r.store).await;
    assert_eq!(l.status, "active");
    assert_eq!(l.last_outcome, attempt.outcome);
    assert_eq!(l.lease_owner, None);
    assert_eq!(l.next_attempt_at_ms, Some(end + INTERRUPTED_DELAY_MS));
}

/// A stop that took `took` with a `drain` deadline returned after the far ends answered the BYEs
/// sent at the deadline (they answer [`BYE_ANSWER_DELAY`] late), not at the end of the daemon's
/// 5 s wait for those answers.
fn stopped_after_the_bye_answers(took: Duration, drain: Duration) {
    eprintln!("drain: stop returned {took:?} after it was asked ({drain:?} drain)");
    assert!(
        took >= drain + BYE_ANSWER_DELAY,
        "stopped {took:?} after the stop was asked, before the BYEs were answered"
    );
    assert!(
        took < drain + Duration::from_millis(4500),
        "stopped {took:?} after the stop was asked: the BYEs' answers were not taken"
    );
}
