//! The opt-out of a prerecorded message end to end: a person with no free agent hears the
//! safe-harbor message, presses 9 (an RFC 4733 event from sipp's own DTMF pcap) while it plays,
//! and the number is on the campaign's DNC list while the call is still up; the message stops,
//! the confirmation plays, the dialer hangs up, and the attempt keeps the evidence (key, time,
//! message). Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::time::{Duration, Instant};

use dialer::store::entity::{call_attempt, dnc_number, lead, opt_out};
use sea_orm::EntityTrait;

use crate::daemon_sipp::{alice_pauses_after_the_dial, start};
use crate::e2e;
use crate::e2e::{Carrier, CarrierEnd, CarrierMedia, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nine_during_safe_harbor_puts_the_number_on_the_dnc_list_before_the_call_ends() {
    if !e2e::have_sipp("the opt-out test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let audio = e2e::repo().join("campaigns/audio");
    // The example safe-harbor message (16.75 s) and the example confirmation (4.7 s).
    let setup = Setup {
        dialing: "connect_limit = \"1500ms\"".into(),
        tables: format!(
            "[dnc]\nopt_out_confirm = \"{}\"\n",
            audio.join("opt_out_confirm.wav").display()
        ),
        ..Setup::new(&["alice"])
    };
    let config_path = setup.write(dir.path());
    let _agent = e2e::agent_phone(setup.agent_port("alice"));
    // The phone rings 3 s (alice steps away meanwhile); the message starts ~1.4 s after the
    // answer; the person presses 9 four seconds after the answer, while it plays.
    let mut carrier = Carrier {
        ring: Duration::from_millis(3000),
        media: CarrierMedia::Sipp,
        stream: None,
        end: CarrierEnd::WaitBye,
        keys: vec![(Duration::from_millis(4000), '9')],
    }
    .start(setup.trunk());
    let (_db, store, daemon) = start(&setup, &config_path).await;
    alice_pauses_after_the_dial(&daemon.control(), &carrier).await;

    // Poll for the DNC entry; when it is there, the call must still be going.
    let started = Instant::now();
    let entry = loop {
        let rows = dnc_number::Entity::find().all(store.conn()).await.unwrap();
        if let Some(r) = rows.into_iter().next() {
            break r;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no DNC entry after 30 s\n{}",
            carrier.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let during = call_attempt::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .expect("the attempt");
    assert_eq!(
        during.end_at_ms, None,
        "the call had ended before the number was on the DNC list"
    );

    let attempt = e2e::finished_attempt(&store, Duration::from_secs(45), &[&carrier]).await;
    let status = carrier.exit(Duration::from_secs(20)).await;
    assert!(status.success(), "sipp: {status}\n{}", carrier.logs());
    daemon.stop().await;

    let campaign_id = attempt.campaign_id;
    assert_eq!(
        (
            entry.phone.as_str(),
            entry.campaign_id,
            entry.source.as_deref()
        ),
        ("+12025550143", campaign_id, Some("opt-out"))
    );
    assert_eq!(entry.reason.as_deref(), Some("key 9 during safe_harbor"));
    assert_eq!(attempt.outcome.as_deref(), Some("abandoned"));

    // The evidence, with the attempt.
    let ev = opt_out::Entity::find().all(store.conn()).await.unwrap();
    assert_eq!(ev.len(), 1, "{ev:?}");
    let ev = &ev[0];
    assert_eq!(
        (ev.attempt_id, ev.lead_id, ev.digits.as_str()),
        (attempt.id, attempt.lead_id, "9")
    );
    assert_eq!(
        (ev.message.as_str(), ev.scope.as_str()),
        ("safe_harbor", "campaign")
    );
    let answer = attempt.answer_at_ms.expect("answered");
    let message_at = attempt.message_at_ms.expect("the message played");
    let end = attempt.end_at_ms.unwrap();
    assert!(
        message_at < ev.at_ms && ev.at_ms < end,
        "key at {} ms, message at {} ms, end at {} ms (answer {answer})",
        ev.at_ms - answer,
        message_at - answer,
        end - answer
    );
    assert_eq!(entry.added_at_ms, ev.at_ms);
    // The message stopped at the key; the 4.7 s confirmation played; then the hang-up (the
    // whole message would have ended the call ~18 s after the answer).
    let after = end - ev.at_ms;
    assert!(
        (4000..9000).contains(&after),
        "hung up {after} ms after the key"
    );
    eprintln!(
        "opt-out: message {} ms, key {} ms, DNC, hang-up {} ms after the answer",
        message_at - answer,
        ev.at_ms - answer,
        end - answer
    );

    let l = lead::Entity::find()
        .one(store.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.status, "dnc");
    assert_eq!(l.next_attempt_at_ms, None);
}
