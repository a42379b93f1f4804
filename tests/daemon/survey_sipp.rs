//! The agentless survey end to end: the daemon dials through a sipp trunk that answers like a
//! person, plays the questions, takes the RFC 4733 keys sipp sends (from sipp's own DTMF pcaps)
//! and stores one answer per question, then plays the closing message and hangs up.
//! Skipped with a note when sipp is missing, unless `DIALER_REQUIRE_SIPP=1`.

use std::time::Duration;

use dialer::daemon::config;
use dialer::daemon::run::{Daemon, Options};
use dialer::store::entity::survey_answer;
use sea_orm::{EntityTrait, QueryOrder};

use crate::e2e::{Carrier, CarrierEnd, CarrierMedia};
use crate::{e2e, storedb};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_answers_the_survey_with_keys_and_each_answer_is_stored() {
    if !e2e::have_sipp("the survey test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let audio = e2e::repo().join("campaigns/audio");
    let wav = |f: &str| audio.join(f).display().to_string();
    // AMD off: the survey starts at the answer. No intro, so the first key comes while the
    // first (6 s) question plays: barge-in.
    let setup = e2e::Setup {
        campaign: "survey".into(),
        mode: "agentless".into(),
        tables: format!(
            r#"
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
        ),
        ..e2e::Setup::new(&[])
    };
    let config_path = setup.write(dir.path());
    let mut carrier = Carrier {
        ring: Duration::from_millis(200),
        media: CarrierMedia::Sipp,
        stream: None,
        end: CarrierEnd::WaitBye,
        keys: vec![
            (Duration::from_millis(2500), '2'),
            (Duration::from_millis(5500), '5'),
        ],
    }
    .start(setup.trunk());

    let loaded = config::load_all(&config_path).expect("test config is valid");
    let db = storedb::sqlite();
    let store = db.open().await;
    storedb::seed_one_lead(&store, &loaded.campaigns[0], &setup.zone).await;
    let options = Options {
        tick: Duration::from_millis(100),
        drain_deadline: Duration::from_secs(10),
        ..Options::default()
    };
    let daemon = Daemon::start(loaded.config, loaded.campaigns, store.clone(), options)
        .await
        .expect("daemon starts");

    // Two keys, the closing message (3 s), the dialer's BYE, which ends sipp's scenario.
    let attempt = e2e::finished_attempt(&store, Duration::from_secs(60), &[&carrier]).await;
    carrier.exit(Duration::from_secs(20)).await;
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
        ],
        "{}",
        carrier.logs()
    );
    let answer_at = attempt.answer_at_ms.unwrap();
    let end_at = attempt.end_at_ms.unwrap();
    for a in &answers {
        assert_eq!((a.attempt_id, a.lead_id), (attempt.id, attempt.lead_id));
        assert!(answer_at <= a.answered_at_ms && a.answered_at_ms <= end_at);
    }
    // The first key came 2.5 s into the 6 s question and answered it there.
    let first = answers[0].answered_at_ms - answer_at;
    assert!(first < 5500, "first answer {first} ms after the answer");
    // The dialer hung up after the closing message (3 s) that followed the second answer.
    let after = end_at - answers[1].answered_at_ms;
    assert!(
        (2500..10_000).contains(&after),
        "hung up {after} ms after the last answer"
    );
}
