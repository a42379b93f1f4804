//! Loading and validation tests on real files in temporary directories.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::domain::Outcome;

/// A temporary campaigns directory with a WAV, a CSV list and a DNC file.
struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = Self { dir };
        d.wav("audio/safe.wav");
        d.wav("audio/vm.wav");
        d.write("lists/a.csv", "phone,tz\n+12025550143,America/New_York\n");
        d.write("dnc.txt", "+12025550144\n");
        d
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    fn wav(&self, rel: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for i in 0..800 {
            w.write_sample(((i % 20) * 100) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
}

const MINIMAL: &str = r#"
kind = "cold"
mode = "predictive"
trunk = "main"
caller_id = "+12025550143"
agent_groups = ["sales"]
safe_harbor = "audio/safe.wav"

[[lists]]
file = "lists/a.csv"
columns = { phone = "phone", timezone = "tz" }

[hours]
timezone = "America/New_York"

[[dispositions]]
code = "sale"
effect = "final"
success = true
"#;

fn no_env() -> Env {
    Env::default()
}

fn problems(r: Result<Campaign, Problems>) -> Vec<String> {
    match r {
        Ok(c) => panic!("expected problems, loaded {}", c.name),
        Err(p) => {
            p.0.iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect()
        }
    }
}

#[test]
fn minimal_cold_campaign_gets_builtin_and_cold_defaults() {
    let d = Dir::new();
    let f = d.write("renewals.toml", MINIMAL);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.name, "renewals");
    assert_eq!(c.source, f);
    assert_eq!(c.kind, ListKind::Cold);
    assert_eq!(c.mode, Mode::Predictive);
    assert_eq!(c.regime, Regime::Us);
    assert_eq!(c.dialing.ring_timeout, Duration::from_secs(25));
    assert_eq!(c.dialing.connect_limit, Duration::from_secs(2));
    assert_eq!(c.abandon.window, AbandonWindow::Rolling30Days);
    assert_eq!(c.abandon.cap, 0.03);
    // cold kind defaults
    assert_eq!(c.retry.max_attempts, 3);
    assert_eq!(c.retry.delay.no_answer, Duration::from_secs(4 * 3600));
    assert_eq!(c.amd.on_machine, OnMachine::Hangup);
    assert_eq!(c.priors.hit_rate, 0.15);
    // built-in defaults the kind does not touch
    assert_eq!(c.retry.delay.congestion, Duration::from_secs(300));
    // Detector tuning left out keeps the detector's own defaults.
    assert_eq!(
        c.amd.detector,
        crate::amd::Settings {
            beep_wait_ms: 10_000,
            ..crate::amd::Settings::default()
        }
    );
    assert_eq!(c.lists.len(), 1);
    let l = &c.lists[0];
    assert_eq!(l.name, "a");
    assert_eq!(l.file, d.path("lists/a.csv"));
    assert_eq!(l.default_region, "US");
    assert_eq!(l.columns.timezone.as_deref(), Some("tz"));
    assert_eq!(c.hours.timezone_name, "America/New_York");
    assert_eq!(c.hours.days.len(), 5);
    assert_eq!(c.safe_harbor, d.path("audio/safe.wav"));
    assert_eq!(c.dispositions[0].effect, DispositionEffect::Final);
    assert!(c.dispositions[0].conversation);
    assert_eq!(
        c.retry.delay_for(Outcome::Busy),
        Some(Duration::from_secs(1800))
    );
    assert_eq!(c.retry.delay_for(Outcome::InvalidNumber), None);
}

#[test]
fn retry_delays_are_keyed_by_outcome() {
    let d = Dir::new();
    let c = load_with(&d.write("c.toml", MINIMAL), &no_env()).unwrap();
    for o in Outcome::ALL {
        assert_eq!(
            RETRY_OUTCOMES.contains(o),
            c.retry.delay.own(*o).is_some(),
            "{o}"
        );
    }
    assert_eq!(
        c.retry.delay_for(Outcome::Shed),
        Some(c.retry.delay.no_answer)
    );
    // A key that names no outcome with a delay: the file and the key.
    let f = d.write(
        "c.toml",
        &(MINIMAL.to_string() + "\n[retry.delay]\nno_anwser = \"1h\"\nshed = \"1h\"\n"),
    );
    let Err(Problems(ps)) = load_with(&f, &no_env()) else {
        panic!("unknown retry.delay keys were accepted");
    };
    let mut got: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
    got.sort();
    assert_eq!(
        got,
        [
            format!(
                "{}: retry.delay.no_anwser: unknown key (did you mean `no_answer`?)",
                f.display()
            ),
            format!("{}: retry.delay.shed: unknown key", f.display()),
        ]
    );
}

#[test]
fn hot_kind_defaults_apply_and_the_file_overrides_them() {
    let d = Dir::new();
    let text = MINIMAL.replace("kind = \"cold\"", "kind = \"hot\"")
        + "\n[amd]\nvoicemail_message = \"audio/vm.wav\"\n[retry]\nmax_attempts = 5\n";
    let f = d.write("hot.toml", &text);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.kind, ListKind::Hot);
    assert_eq!(
        c.amd.on_machine,
        OnMachine::Voicemail {
            message: d.path("audio/vm.wav")
        }
    );
    assert_eq!(c.retry.max_attempts, 5, "file beats the kind default (8)");
    assert_eq!(
        c.retry.delay.no_answer,
        Duration::from_secs(1800),
        "hot default"
    );
    assert_eq!(c.priors.hit_rate, 0.40);
}

#[test]
fn warm_kind_needs_a_voicemail_message() {
    let d = Dir::new();
    let f = d.write(
        "w.toml",
        &MINIMAL.replace("kind = \"cold\"", "kind = \"warm\""),
    );
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "amd.voicemail_message: missing (required when on_machine = \"voicemail\", which warm and hot lists default to)"
        ]
    );
}

#[test]
fn amd_tuning_keys_are_the_detectors_own_names() {
    let d = Dir::new();
    let text = MINIMAL.to_string()
        + "\n[amd]\nsilence_floor = 40\nafter_short_greeting_silence_ms = 450\nmargin_db = 12\n\
           beep_min_hz = 500\nbeep_wait_ms = 4000\nquestion_rise_semitones = 2.5\n\
           after_question_silence_ms = 600\n";
    let f = d.write("t.toml", &text);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(
        c.amd.detector,
        crate::amd::Settings {
            silence_floor: 40,
            after_short_greeting_silence_ms: 450,
            margin_db: 12.0,
            beep_min_hz: 500,
            beep_wait_ms: 4000,
            question_rise_semitones: 2.5,
            after_question_silence_ms: 600,
            ..crate::amd::Settings::default()
        }
    );
    // the same key from the environment
    let env = Env::from_pairs([("DIALER__CAMPAIGN__T__AMD__GREETING_MS", "2500")]);
    assert_eq!(load_with(&f, &env).unwrap().amd.detector.greeting_ms, 2500);
}

#[test]
fn amd_tuning_problems_name_the_key() {
    let d = Dir::new();
    let text = MINIMAL.to_string()
        + "\n[amd]\nsilence_threshold = 256\nbeep_min_hz = 1900\nbeep_max_hz = 1000\n";
    let f = d.write("t.toml", &text);
    let p = problems(load_with(&f, &no_env()));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p[0].starts_with("amd.silence_threshold: renamed to `silence_floor`"),
        "{p:?}"
    );
    assert!(p[1].starts_with("amd.beep_min_hz: "), "{p:?}");
    assert!(p[1].contains("beep_max_hz"), "{p:?}");
    let f = d.write(
        "u.toml",
        &(MINIMAL.to_string() + "\n[amd]\ngreeting_ms = 0\n"),
    );
    assert_eq!(
        problems(load_with(&f, &no_env())),
        ["amd.greeting_ms: amd setting `greeting_ms` must be greater than zero"]
    );
}

#[test]
fn environment_overrides_the_file() {
    let d = Dir::new();
    let f = d.write("cold-sales.toml", MINIMAL);
    let env = Env::from_pairs([
        ("DIALER__CAMPAIGN__COLD_SALES__DIALING__RING_TIMEOUT", "40s"),
        ("DIALER__CAMPAIGN__COLD_SALES__DIALING__MAX_CONCURRENT", "7"),
        ("DIALER__CAMPAIGN__COLD_SALES__ENABLED", "false"),
        ("DIALER__CAMPAIGN__COLD_SALES__CALLER_ID", "+12025550199"),
        ("DIALER__CAMPAIGN__COLD_SALES__AGENT_GROUPS", "sales, night"),
        // another campaign's variable does not apply
        ("DIALER__CAMPAIGN__OTHER__DIALING__RING_TIMEOUT", "90s"),
    ]);
    let c = load_with(&f, &env).unwrap();
    assert_eq!(c.dialing.ring_timeout, Duration::from_secs(40));
    assert_eq!(c.dialing.max_concurrent, 7);
    assert!(!c.enabled);
    assert_eq!(c.caller_id, "+12025550199");
    assert_eq!(c.agent_groups, ["sales", "night"]);
}

#[test]
fn environment_values_are_validated_like_file_values() {
    let d = Dir::new();
    let f = d.write("x.toml", MINIMAL);
    let env = Env::from_pairs([
        ("DIALER__CAMPAIGN__X__DIALING__RING_TIMEOUT", "10s"),
        ("DIALER__CAMPAIGN__X__DIALING__MAX_CONCURRENT", "ten"),
    ]);
    assert_eq!(
        problems(load_with(&f, &env)),
        [
            "dialing.ring_timeout: 10s is below the 15 s minimum",
            "dialing.max_concurrent: expected an integer, found a string (\"ten\")",
        ]
    );
}

#[test]
fn many_mistakes_are_all_reported_with_their_keys() {
    let d = Dir::new();
    let text = r#"
kind = "cold"
mode = "predictive"
trunk = "main"
caller_id = "2025550143"
agent_groups = ["sales"]
safe_harbor = "audio/missing.wav"
recording = "yes"

[[lists]]
file = "lists/nope.csv"
default_region = "USA"

[hours]
timezone = "America/Nowhere"
days = ["mon", "funday"]
start = "09:00"
end = "08:00"

[dialling]
ring_timeout = "20s"

[dialing]
ring_timeout = "10s"
max_concurrent = 0
connect_limit = "3s"

[abandon]
cap = 0.05

[dnc]
files = ["dnc.txt", "gone.txt"]

[[dispositions]]
code = "busy"
effect = "final"

[[dispositions]]
code = "call_me"
effect = "retry_after"

[priors]
hit_rate = 1.5
"#;
    let f = d.write("renewals.toml", text);
    let got = problems(load_with(&f, &no_env()));
    let want = [
        "caller_id: \"2025550143\" is not an E.164 number (write + and the country code, e.g. \"+12025550143\")".to_string(),
        format!("lists[0].file: file not found: {}", d.path("lists/nope.csv").display()),
        "lists[0].default_region: \"USA\" is not an ISO 3166 alpha-2 region (e.g. \"US\", \"GB\")".into(),
        "hours.timezone: \"America/Nowhere\" is not a known IANA time zone (e.g. \"America/New_York\")".into(),
        "hours.days[1]: \"funday\" is not a day (mon, tue, wed, thu, fri, sat, sun)".into(),
        "hours.end: 08:00:00 is not after the start (09:00:00)".into(),
        "dialing.ring_timeout: 10s is below the 15 s minimum".into(),
        "dialing.max_concurrent: 0 is out of range (1 to 100000)".into(),
        "dialing.connect_limit: 3s is above the 2 s maximum".into(),
        "abandon.cap: 0.05 is out of range (above 0, at most 0.03 = 3 %)".into(),
        format!("safe_harbor: file not found: {}", d.path("audio/missing.wav").display()),
        format!("dnc.files[1]: file not found: {}", d.path("gone.txt").display()),
        "dispositions[0].code: \"busy\" is a system outcome code; pick another".into(),
        "dispositions[1].retry_after: missing (required when effect = \"retry_after\")".into(),
        "recording: expected true or false, found a string (\"yes\")".into(),
        "priors.hit_rate: 1.5 is out of range (above 0, at most 1)".into(),
        "dialling: unknown key (did you mean `dialing`?)".into(),
    ];
    assert_eq!(got, want);
}

#[test]
fn uk_regime_enforces_ofcom_rules() {
    let d = Dir::new();
    let text = MINIMAL.replace(
        "caller_id = \"+12025550143\"",
        "caller_id = \"+442079460123\"\nregime = \"uk\"",
    ) + "\n[abandon]\nwindow = \"rolling_30_days\"\n[retry.delay]\nabandoned = \"24h\"\n";
    let f = d.write("uk.toml", &text);
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "abandon.window: the UK regime counts abandons per calendar day; use \"calendar_day\"",
            "retry.delay.abandoned: 24h is below the UK minimum of 72 h before redialing an abandoned call",
        ]
    );
    let ok = MINIMAL.replace(
        "caller_id = \"+12025550143\"",
        "caller_id = \"+442079460123\"\nregime = \"uk\"",
    );
    let f = d.write("uk.toml", &ok);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.abandon.window, AbandonWindow::CalendarDay);
    assert_eq!(c.abandon.amd_false_positive_rate, 0.02);
    assert_eq!(c.lists[0].default_region, "GB");

    // The estimate of people among AMD machines: UK only, 0 to 1.
    let f = d.write(
        "uk.toml",
        &(ok.clone() + "\n[abandon]\namd_false_positive_rate = 0.05\n"),
    );
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.abandon.amd_false_positive_rate, 0.05);
    let f = d.write(
        "uk.toml",
        &(ok + "\n[abandon]\namd_false_positive_rate = 1.5\n"),
    );
    assert_eq!(
        problems(load_with(&f, &no_env())),
        ["abandon.amd_false_positive_rate: 1.5 is out of range (0 to 1)"]
    );
    let us = MINIMAL.to_string() + "\n[abandon]\namd_false_positive_rate = 0.02\n";
    let f = d.write("us.toml", &us);
    let p = problems(load_with(&f, &no_env()));
    assert!(
        p.len() == 1 && p[0].starts_with("abandon.amd_false_positive_rate: only the UK regime"),
        "{p:?}"
    );
    let f = d.write("us.toml", MINIMAL);
    assert_eq!(
        load_with(&f, &no_env())
            .unwrap()
            .abandon
            .amd_false_positive_rate,
        0.0
    );
}

#[test]
fn us_hours_are_clamped_to_8_to_21_and_checked_in_the_leads_zone() {
    let d = Dir::new();
    let text = MINIMAL.replace(
        "timezone = \"America/New_York\"",
        "timezone = \"America/New_York\"\nstart = \"06:00\"\nend = \"23:30\"\ndays = [\"sat\", \"sun\"]",
    );
    let f = d.write("c.toml", &text);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.hours.start, jiff::civil::time(8, 0, 0, 0));
    assert_eq!(c.hours.end, jiff::civil::time(21, 0, 0, 0));
    let la = jiff::tz::TimeZone::get("America/Los_Angeles").unwrap();
    // Saturday 2026-03-07 15:30 UTC = 10:30 New York, 07:30 Los Angeles.
    let at: jiff::Timestamp = "2026-03-07T15:30:00Z".parse().unwrap();
    assert!(c.hours.is_open(at, &c.hours.timezone));
    assert!(!c.hours.is_open(at, &la));
    // Sunday 2026-03-08 is the US DST change: 13:00 UTC is 09:00 EDT (open), 06:00 PDT (closed).
    let at: jiff::Timestamp = "2026-03-08T13:00:00Z".parse().unwrap();
    assert!(c.hours.is_open(at, &c.hours.timezone));
    assert!(!c.hours.is_open(at, &la));
    // Monday is not a calling day.
    let at: jiff::Timestamp = "2026-03-09T16:00:00Z".parse().unwrap();
    assert!(!c.hours.is_open(at, &c.hours.timezone));
}

#[test]
fn bad_toml_names_the_line() {
    let d = Dir::new();
    let f = d.write("bad.toml", "kind = \"cold\"\nmode = \n");
    let got = problems(load_with(&f, &no_env()));
    assert_eq!(got.len(), 1);
    assert!(got[0].starts_with("line 2: not valid TOML:"), "{got:?}");
}

#[test]
fn survey_and_agentless() {
    let d = Dir::new();
    d.wav("audio/q1.wav");
    let text = MINIMAL
        .replace("mode = \"predictive\"", "mode = \"agentless\"")
        .replace("agent_groups = [\"sales\"]", "")
        .replace(
            "[[dispositions]]\ncode = \"sale\"\neffect = \"final\"\nsuccess = true\n",
            "",
        )
        + r#"
[[survey.questions]]
id = "satisfied"
prompt = "audio/q1.wav"
answers = { "1" = "yes", "2" = "no" }

[[survey.questions]]
id = "recommend"
prompt = "Would you recommend us? Press 1 for yes."
answers = { "1" = "yes", "x" = "no" }
"#;
    let f = d.write("s.toml", &text);
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "survey.questions[1].prompt: an agentless survey plays its prompts: give a recorded .wav file (text is for agents to read)",
            "survey.questions[1].answers.x: \"x\" is not a DTMF key (0-9, *, #)"
        ]
    );
    let fixed = text.replace("\"x\" = \"no\"", "\"2\" = \"no\"");
    let f = d.write(
        "s.toml",
        &fixed.replace("Would you recommend us? Press 1 for yes.", "audio/q1.wav"),
    );
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.mode, Mode::Agentless);
    assert!(c.dispositions.is_empty());
    let s = c.survey.unwrap();
    assert_eq!(s.questions[0].prompt, Prompt::Wav(d.path("audio/q1.wav")));
    assert_eq!(s.questions[0].answers[&'1'], "yes");
    // An agent-assisted survey: the agent reads text questions.
    let f = d.write(
        "s.toml",
        &(fixed.replace(
            "mode = \"agentless\"",
            "mode = \"progressive\"\nagent_groups = [\"sales\"]",
        ) + "\n[[dispositions]]\ncode = \"sale\"\neffect = \"final\"\nsuccess = true\n"),
    );
    let c = load_with(&f, &no_env());
    let s = c.map(|c| c.survey.unwrap());
    assert!(
        matches!(&s, Ok(s) if matches!(s.questions[1].prompt, Prompt::Text(_))),
        "{s:?}"
    );
}

#[test]
fn duplicate_names_across_a_directory() {
    let d = Dir::new();
    d.write("a.toml", &format!("name = \"same\"\n{MINIMAL}"));
    d.write("b.toml", &format!("name = \"same\"\n{MINIMAL}"));
    d.write("notes.txt", "not a campaign");
    let (cs, ps) = load_dir_report(d.dir.path(), &no_env());
    assert_eq!(cs.len(), 2);
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].file, d.path("b.toml"));
    assert_eq!(ps[0].key, "name");
    assert_eq!(
        ps[0].message,
        format!(
            "campaign name \"same\" is already used by {}",
            d.path("a.toml").display()
        )
    );
}

#[test]
fn find_by_name_ignores_other_broken_files() {
    let d = Dir::new();
    d.write("a.toml", MINIMAL);
    d.write("b.toml", "kind = \"lukewarm\"\n");
    let c = find(d.dir.path(), "a", &no_env()).unwrap();
    assert_eq!(c.name, "a");
    let e = find(d.dir.path(), "b", &no_env()).unwrap_err();
    assert!(e.0.iter().any(|p| p.key == "kind"), "{e}");
    let e = find(d.dir.path(), "zzz", &no_env()).unwrap_err();
    assert_eq!(e.0[0].message, "no campaign named \"zzz\"");
}

#[test]
fn problem_display_is_file_key_message() {
    let p = Problem {
        file: Path::new("campaigns/renewals.toml").into(),
        key: "dialing.ring_timeout".into(),
        message: "10s is below the 15 s minimum".into(),
    };
    assert_eq!(
        p.to_string(),
        "campaigns/renewals.toml: dialing.ring_timeout: 10s is below the 15 s minimum"
    );
}

#[test]
fn list_columns_must_be_in_the_csv_header() {
    let d = Dir::new();
    let text = MINIMAL.replace(
        "columns = { phone = \"phone\", timezone = \"tz\" }",
        "columns = { phone = \"mobile\", timezone = \"tz\", account = \"acct\" }",
    );
    let f = d.write("c.toml", &text);
    let csv = d.path("lists/a.csv");
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            format!(
                "lists[0].columns.phone: column \"mobile\" is not in the header of {} (columns: phone, tz)",
                csv.display()
            ),
            format!(
                "lists[0].columns.account: column \"acct\" is not in the header of {} (columns: phone, tz)",
                csv.display()
            ),
        ]
    );
}

#[test]
fn list_headers_are_read_as_import_reads_them() {
    let d = Dir::new();
    let f = d.write("c.toml", MINIMAL);
    let csv = d.path("lists/a.csv");
    // A UTF-8 byte-order mark is not part of the first column's name.
    d.write(
        "lists/a.csv",
        "\u{feff}phone,tz\r\n+12025550143,America/New_York\r\n",
    );
    assert!(load_with(&f, &no_env()).is_ok());
    // A 1 MB column name is cut in the message.
    d.write(
        "lists/a.csv",
        &format!("mobile,{}\n", "x".repeat(1_000_000)),
    );
    let p = problems(load_with(&f, &no_env()));
    assert_eq!(p.len(), 2, "{p:?}");
    for m in &p {
        assert!(m.len() < 250 + csv.display().to_string().len(), "{m:.300}");
        assert!(m.contains("(1000000 bytes)"), "{m:.300}");
    }
    // UTF-16 is named.
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain("phone,tz\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    std::fs::write(&csv, utf16).unwrap();
    let p = problems(load_with(&f, &no_env()));
    assert!(
        p.len() == 1 && p[0].contains("UTF-16 little-endian"),
        "{p:?}"
    );
    // A Latin-1 header is read as the list's `encoding` says.
    std::fs::write(&csv, b"phone,tz,pr\xE9nom\n").unwrap();
    let p = problems(load_with(&f, &no_env()));
    assert!(p.len() == 1 && p[0].contains("--encoding latin1"), "{p:?}");
    let latin1 = MINIMAL.replace(
        "file = \"lists/a.csv\"",
        "file = \"lists/a.csv\"\nencoding = \"latin1\"",
    );
    let f = d.write("c.toml", &latin1);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(c.lists[0].encoding, crate::listfile::rows::Encoding::Latin1);
    let f = d.write("c.toml", &latin1.replace("\"latin1\"", "\"ebcdic\""));
    assert_eq!(
        problems(load_with(&f, &no_env())),
        ["lists[0].encoding: \"ebcdic\" is not one of: utf8, latin1"]
    );
}

#[test]
fn a_list_that_is_a_directory_or_a_device_is_named_so() {
    let d = Dir::new();
    std::fs::create_dir_all(d.path("lists/dir.csv")).unwrap();
    for (file, want) in [
        (
            d.path("lists/dir.csv"),
            format!(
                "{} is a directory, not a file",
                d.path("lists/dir.csv").display()
            ),
        ),
        (
            PathBuf::from("/dev/null"),
            "/dev/null is not a regular file (a device, pipe or socket)".to_string(),
        ),
    ] {
        let text = MINIMAL.replace(
            "\"lists/a.csv\"",
            &format!("{:?}", file.display().to_string()),
        );
        let f = d.write("c.toml", &text);
        assert_eq!(
            problems(load_with(&f, &no_env())),
            [format!("lists[0].file: {want}")]
        );
    }
}

#[test]
fn preview_timeout_is_for_preview_campaigns_and_bounded() {
    let d = Dir::new();
    let preview = MINIMAL.replace("mode = \"predictive\"", "mode = \"preview\"");
    let f = d.write("p.toml", &preview);
    assert_eq!(
        load_with(&f, &no_env()).unwrap().dialing.preview_timeout,
        None
    );
    let f = d.write(
        "p.toml",
        &format!("{preview}\n[dialing]\npreview_timeout = \"30s\"\n"),
    );
    assert_eq!(
        load_with(&f, &no_env()).unwrap().dialing.preview_timeout,
        Some(Duration::from_secs(30))
    );
    for (value, problem) in [
        (
            "\"2s\"",
            "dialing.preview_timeout: 2s is below the 5 s minimum (the agent needs time to read the lead)",
        ),
        (
            "\"2h\"",
            "dialing.preview_timeout: 2h is above the 1 h maximum (leave the key out to wait for the agent)",
        ),
        (
            "\"soon\"",
            "dialing.preview_timeout: \"soon\" is not a duration (expected number at 0); write e.g. \"15s\", \"30m\", \"4h\"",
        ),
        (
            "30",
            "dialing.preview_timeout: expected a duration string like \"15s\" or \"4h\", found an integer (30)",
        ),
    ] {
        let f = d.write(
            "p.toml",
            &format!("{preview}\n[dialing]\npreview_timeout = {value}\n"),
        );
        assert_eq!(problems(load_with(&f, &no_env())), [problem], "{value}");
    }
    // Other modes have no preview to time out.
    let f = d.write(
        "q.toml",
        &format!("{MINIMAL}\n[dialing]\npreview_timeout = \"30s\"\n"),
    );
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "dialing.preview_timeout: 30s: only a preview campaign waits for its agents to dial (mode = \"predictive\")"
        ]
    );
}

#[test]
fn shed_after_defaults_to_15_s_never_less_and_can_be_off() {
    let d = Dir::new();
    let f = d.write("s.toml", MINIMAL);
    assert_eq!(
        load_with(&f, &no_env()).unwrap().dialing.shed_after,
        Some(Duration::from_secs(15))
    );
    let dialing = |v: &str| format!("{MINIMAL}\n[dialing]\nshed_after = {v}\n");
    let f = d.write("s.toml", &dialing("\"20s\""));
    assert_eq!(
        load_with(&f, &no_env()).unwrap().dialing.shed_after,
        Some(Duration::from_secs(20))
    );
    let f = d.write("s.toml", &dialing("\"off\""));
    assert_eq!(load_with(&f, &no_env()).unwrap().dialing.shed_after, None);
    let f = d.write("s.toml", &dialing("\"10s\""));
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "dialing.shed_after: 10s is below the 15 s minimum (an unanswered call may not be hung up sooner)"
        ]
    );
    let f = d.write("s.toml", &dialing("15"));
    assert_eq!(problems(load_with(&f, &no_env())).len(), 1);
}

#[test]
fn shed_factor_defaults_to_the_pacers_and_is_at_least_1() {
    let d = Dir::new();
    let f = d.write("s.toml", MINIMAL);
    assert_eq!(
        load_with(&f, &no_env()).unwrap().dialing.shed_factor,
        crate::pacing::PredictiveConfig::default().shed_factor
    );
    let dialing = |v: &str| format!("{MINIMAL}\n[dialing]\nshed_factor = {v}\n");
    let f = d.write("s.toml", &dialing("10"));
    assert_eq!(load_with(&f, &no_env()).unwrap().dialing.shed_factor, 10.0);
    let f = d.write("s.toml", &dialing("2.5"));
    assert_eq!(load_with(&f, &no_env()).unwrap().dialing.shed_factor, 2.5);
    for v in ["0.5", "40"] {
        let f = d.write("s.toml", &dialing(v));
        assert_eq!(
            problems(load_with(&f, &no_env())),
            [format!(
                "dialing.shed_factor: {v} is out of range (1 to 25: below 1 a ringing call would go when safer than a new dial; above 25 predictive dials as if it could shed an over-dial it hardly ever sheds; to shed nothing, set shed_after = \"off\")"
            )]
        );
    }
    let f = d.write("s.toml", &dialing("\"high\""));
    assert_eq!(
        problems(load_with(&f, &no_env())),
        ["dialing.shed_factor: expected a number, found a string (\"high\")"]
    );
}

#[test]
fn names_labels_and_prompt_texts_have_length_limits() {
    let d = Dir::new();
    let huge = "a".repeat(1_000_000);
    let text = format!(
        "name = \"{huge}\"\n{}\n[[dispositions]]\ncode = \"{long_code}\"\nlabel = \"{long_label}\"\neffect = \"final\"\n",
        MINIMAL
            .replace(
                "agent_groups = [\"sales\"]",
                &format!("agent_groups = [\"{}\"]", "g".repeat(65))
            )
            .replace(
                "file = \"lists/a.csv\"",
                "file = \"lists/a.csv\"\nname = \"".to_owned().as_str()
            )
            .replace(
                "name = \"\ncolumns",
                &format!("name = \"{}\"\ncolumns", "l".repeat(65))
            ),
        long_code = "c".repeat(65),
        long_label = "L".repeat(201),
    );
    let f = d.write("big.toml", &text);
    let p = problems(load_with(&f, &no_env()));
    let all = p.join("\n");
    assert!(
        all.len() < 2_000,
        "a problem repeats a long value: {} bytes",
        all.len()
    );
    for want in [
        "name: 1000000 characters long; at most 64",
        "agent_groups[0]: 65 characters long; at most 64",
        "lists[0].name: 65 characters long; at most 64",
        "dispositions[1].code: 65 characters long; at most 64",
        "dispositions[1].label: 201 characters long; at most 200",
    ] {
        assert!(p.iter().any(|l| l == want), "no {want:?} in:\n{all}");
    }
    // At the limits, all is well.
    let text = format!(
        "name = \"{}\"\n{MINIMAL}\n[[dispositions]]\ncode = \"{}\"\nlabel = \"{}\"\neffect = \"final\"\n",
        "n".repeat(64),
        "c".repeat(64),
        "L".repeat(200)
    );
    let f = d.write("ok.toml", &text);
    load_with(&f, &no_env()).unwrap();
}

#[test]
fn compliance_rules_registry_and_postal_code_are_read_and_checked() {
    let d = Dir::new();
    let text = MINIMAL.replace(
        r#"columns = { phone = "phone", timezone = "tz" }"#,
        r#"columns = { phone = "phone", postal_code = "tz" }"#,
    ) + r#"
[dnc]
registry = "us-national"

[[compliance.rules]]
region = "US-NY"
hours = "09:00-20:00"
sunday = "closed"
cap_24h = 2
"#;
    let f = d.write("ok.toml", &text);
    let c = load_with(&f, &no_env()).unwrap();
    assert_eq!(
        c.dnc.registry,
        Some(crate::compliance::registry::Registry::UsNational)
    );
    assert_eq!(c.lists[0].columns.postal_code.as_deref(), Some("tz"));
    let r = &c.compliance.rules[0];
    assert_eq!((r.region.as_str(), r.cap_24h), ("US-NY", Some(2)));
    assert_eq!(r.sunday, Some(crate::compliance::states::Day::Closed));
    let bad = MINIMAL.to_string()
        + r#"
[dnc]
registry = "national"

[[compliance.rules]]
region = "US-NY"
hours = "9-5"

[[compliance.rules]]
region = "US-FL"
holidays = "open"
"#;
    let f = d.write("bad.toml", &bad);
    assert_eq!(
        problems(load_with(&f, &no_env())),
        [
            "compliance.rules[0].hours: \"9-5\" is not a window (\"HH:MM-HH:MM\", start before end) or \"closed\"",
            "compliance.rules[1].holidays: \"open\": only \"closed\" is known",
            "dnc.registry: unknown registry \"national\" (us-national, uk-tps, internal)",
        ]
    );
    let f = d.write(
        "nozip.toml",
        &MINIMAL.replace(
            r#"columns = { phone = "phone", timezone = "tz" }"#,
            r#"columns = { phone = "phone", postal_code = "zip" }"#,
        ),
    );
    let p = problems(load_with(&f, &no_env()));
    assert!(
        p.len() == 1
            && p[0]
                .starts_with("lists[0].columns.postal_code: column \"zip\" is not in the header"),
        "{p:?}"
    );
}

#[test]
fn a_us_campaign_that_records_must_announce_it() {
    let d = Dir::new();
    d.wav("audio/recorded.wav");
    // Not recording: nothing to announce.
    let c = load_with(&d.write("a.toml", MINIMAL), &no_env()).unwrap();
    assert_eq!(c.recording, Recording::default());
    // `recording = true` in the US: refused, naming the key and the rule.
    let top = |r: &str| MINIMAL.replace("kind = \"cold\"", &format!("kind = \"cold\"\n{r}"));
    let p = problems(load_with(
        &d.write("a.toml", &top("recording = true")),
        &no_env(),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("recording.announce: missing: a US campaign that records calls")
            && p[0].contains("CA, ")
            && p[0].contains("every party's consent"),
        "{p:?}"
    );
    // The table without an announcement: refused the same way.
    let p = problems(load_with(
        &d.write("a.toml", &top("recording = { enabled = true }")),
        &no_env(),
    ));
    assert!(p[0].starts_with("recording.announce: missing"), "{p:?}");
    // With it: loaded.
    let c = load_with(
        &d.write(
            "a.toml",
            &top("recording = { announce = \"audio/recorded.wav\" }"),
        ),
        &no_env(),
    )
    .unwrap();
    assert!(c.recording.enabled);
    assert_eq!(c.recording.announce, Some(d.path("audio/recorded.wav")));
    // An announcement that is not there is named.
    let p = problems(load_with(
        &d.write(
            "a.toml",
            &top("recording = { announce = \"audio/nope.wav\" }"),
        ),
        &no_env(),
    ));
    assert!(p[0].starts_with("recording.announce: "), "{p:?}");
    // Off in the table: nothing to announce.
    let c = load_with(
        &d.write("a.toml", &top("recording = { enabled = false }")),
        &no_env(),
    )
    .unwrap();
    assert!(!c.recording.enabled);
    // A UK campaign (one-party consent) may record without it.
    let uk = top("recording = true").replace(
        "caller_id = \"+12025550143\"",
        "caller_id = \"+442079460123\"\nregime = \"uk\"",
    );
    let c = load_with(&d.write("a.toml", &uk), &no_env()).unwrap();
    assert!(c.recording.enabled && c.recording.announce.is_none());
}

#[test]
fn recording_keep_is_read_and_a_bad_one_named() {
    let d = Dir::new();
    d.wav("audio/recorded.wav");
    let top = |keep: &str| {
        MINIMAL.replace(
            "kind = \"cold\"",
            &format!("kind = \"cold\"\nrecording = {{ announce = \"audio/recorded.wav\"{keep} }}"),
        )
    };
    let c = load_with(&d.write("a.toml", &top("")), &no_env()).unwrap();
    assert_eq!(c.recording.keep, None);
    let c = load_with(&d.write("a.toml", &top(", keep = \"90days\"")), &no_env()).unwrap();
    assert_eq!(
        c.recording.keep,
        Some(std::time::Duration::from_secs(90 * 86_400))
    );
    // Not a duration: the key and the value are named.
    let p = problems(load_with(
        &d.write("a.toml", &top(", keep = \"ninety\"")),
        &no_env(),
    ));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("recording.keep: \"ninety\" is not a duration"),
        "{p:?}"
    );
    // Under an hour: refused (the sweep runs hourly).
    let p = problems(load_with(
        &d.write("a.toml", &top(", keep = \"5m\"")),
        &no_env(),
    ));
    assert_eq!(
        p,
        ["recording.keep: \"5m\": at least 1h (recordings are deleted by the hour)"]
    );
    // Not a string.
    let p = problems(load_with(
        &d.write("a.toml", &top(", keep = 90")),
        &no_env(),
    ));
    assert!(p[0].starts_with("recording.keep: "), "{p:?}");
}
