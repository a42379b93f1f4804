//! The agentless survey end to end: the daemon dials through a sipp trunk that answers like a
//! person, plays the questions, takes the RFC 4733 keys sipp sends (from sipp's own DTMF pcaps)
//! and stores one answer per question, then plays the closing message and hangs up.
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

mod rig;
mod storedb;

use std::path::Path;
use std::time::Duration;

use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::entity::{call_attempt, survey_answer};
use sea_orm::{EntityTrait, QueryOrder};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_the_survey_with_keys_and_each_answer_is_stored() {
    if !rig::have_sipp() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let setup = rig::Setup::new(&[]);
    let config_path = setup.write(dir.path());
    let zone = rig::daytime_zone();
    let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio");
    let wav = |f: &str| audio.join(f).display().to_string();
    // No AMD: the survey starts at the answer. No intro, so the first key comes during the
    // first question (barge-in).
    let extra = format!(
        r#"
[dialing]
ring_timeout = "15s"

[amd]
enabled = false

[survey]
outro = "{outro}"

[[survey.questions]]
id = "satisfied"
prompt = "{q1}"
answers = {{ "1" = "yes", "2" = "no" }}

[[survey.questions]]
id = "recommend"
prompt = "{q2}"
answers = {{ "1" = "1", "3" = "3", "5" = "5" }}
"#,
        outro = wav("survey_thanks.wav"),
        q1 = wav("survey_q1.wav"),
        q2 = wav("survey_q2.wav"),
    );
    std::fs::write(
        dir.path().join("campaigns/survey.toml"),
        rig::campaign_toml("survey", "agentless", &zone, &extra),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("campaigns/lists")).unwrap();
    std::fs::write(
        dir.path().join("campaigns/lists/survey.csv"),
        format!("phone,tz\n+12025550143,{zone}\n"),
    )
    .unwrap();

    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp/carrier_survey.xml");
    let _carrier = rig::sipp(&[
        "-sf",
        scenario.to_str().unwrap(),
        "-p",
        &setup.trunk.to_string(),
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
        drain_deadline: Duration::from_secs(10),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");

    // Two keys, the closing message (3 s), the dialer's BYE.
    let attempt = rig::eventually("a finished attempt", Duration::from_secs(60), || {
        let store = store.clone();
        async move {
            call_attempt::Entity::find()
                .order_by_asc(call_attempt::Column::Id)
                .all(store.conn())
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.end_at_ms.is_some())
        }
    })
    .await;
    daemon.stop().await;

    assert_eq!(attempt.outcome.as_deref(), Some("human"));
    assert!(attempt.live && !attempt.abandoned);
    let answers = survey_answer::Entity::find()
        .order_by_asc(survey_answer::Column::Id)
        .all(store.conn())
        .await
        .unwrap();
    let got: Vec<(&str, &str, Option<&str>)> = answers
        .iter()
        .map(|a| (a.question.as_str(), a.answer.as_str(), a.digits.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("satisfied", "no", Some("2")),
            ("recommend", "5", Some("5"))
        ]
    );
    let answer_at = attempt.answer_at_ms.unwrap();
    for a in &answers {
        assert_eq!(a.attempt_id, attempt.id);
        assert_eq!(a.lead_id, attempt.lead_id);
        assert!(answer_at <= a.answered_at_ms && a.answered_at_ms <= attempt.end_at_ms.unwrap());
    }
    // The first key came 2.5 s into a 6 s question: it cut the question short.
    let first = answers[0].answered_at_ms - answer_at;
    assert!(first < 5500, "first answer {first} ms after the answer");
    // The dialer hung up after the closing message, not sipp's timeout.
    let talk = attempt.end_at_ms.unwrap() - answer_at;
    assert!((5500..30_000).contains(&talk), "call lasted {talk} ms");
}
