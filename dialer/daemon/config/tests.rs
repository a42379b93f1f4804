//! `dialer.toml` loading tests on real files.

use std::path::PathBuf;

use super::*;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const GOOD: &str = r#"
state_dir = "state"

[sip]
bind = "127.0.0.1:5060"

[[trunks]]
name = "main"
host = "127.0.0.1"
port = 5080
username = "dialer"
password_env = "DIALER_TRUNK_MAIN_PASSWORD"
max_channels = 10
calls_per_second = 2.5

[[agents]]
id = "alice"
sip_uri = "sip:alice@127.0.0.1:5070"
groups = ["sales", "collections"]
token_env = "DIALER_AGENT_ALICE_TOKEN"

[api]
token_env = "DIALER_API_TOKEN"
"#;

fn problems(r: Result<DaemonConfig, Problems>) -> Vec<String> {
    match r {
        Ok(_) => panic!("expected problems"),
        Err(p) => {
            p.0.iter()
                .map(|p| format!("{}: {}", p.key, p.message))
                .collect()
        }
    }
}

#[test]
fn defaults_file_and_relative_paths() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.state_dir, d.path().join("state"));
    assert_eq!(c.campaigns_dir, d.path().join("campaigns"));
    assert_eq!(c.media.recordings_dir, d.path().join("state/recordings"));
    assert_eq!(
        c.database_url(),
        format!(
            "sqlite://{}?mode=rwc",
            d.path().join("state/dialer.db").display()
        )
    );
    assert_eq!(c.sip.bind, "127.0.0.1:5060".parse().unwrap());
    assert_eq!(c.api.bind, "127.0.0.1:8080".parse().unwrap());
    assert_eq!((c.media.rtp_port_min, c.media.rtp_port_max), (10000, 20000));
    let t = c.trunk("main").unwrap();
    assert_eq!(
        (t.port, t.transport, t.max_channels),
        (5080, Transport::Udp, 10)
    );
    assert_eq!(t.calls_per_second, 2.5);
    assert_eq!(
        t.password_env.as_deref(),
        Some("DIALER_TRUNK_MAIN_PASSWORD")
    );
    assert_eq!(c.agents[0].name, "alice");
    assert_eq!(c.agents_in(&["collections".to_string()]).count(), 1);
    assert_eq!(c.agents_in(&["night".to_string()]).count(), 0);
}

#[test]
fn environment_overrides_and_state_dir_default() {
    let d = tempfile::tempdir().unwrap();
    let f = write(
        d.path(),
        "dialer.toml",
        &GOOD.replace("state_dir = \"state\"\n", ""),
    );
    let env = Env::from_pairs([
        ("DIALER__SIP__BIND", "127.0.0.1:5999"),
        ("DIALER__DATABASE_URL", "postgres://u@127.0.0.1/db"),
        ("DIALER__MEDIA__RTP_PORT_MIN", "30000"),
        ("DIALER__MEDIA__RTP_PORT_MAX", "30100"),
        // campaign overrides are not daemon keys
        ("DIALER__CAMPAIGN__X__TRUNK", "other"),
    ]);
    let c = load_with(&f, &env, Some("/var/lib/dialer-test")).unwrap();
    assert_eq!(c.sip.bind, "127.0.0.1:5999".parse().unwrap());
    assert_eq!(c.database_url(), "postgres://u@127.0.0.1/db");
    assert_eq!(c.state_dir, PathBuf::from("/var/lib/dialer-test"));
    assert_eq!((c.media.rtp_port_min, c.media.rtp_port_max), (30000, 30100));
    // The file beats DIALER_STATE_DIR.
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), Some("/var/lib/dialer-test")).unwrap();
    assert_eq!(c.state_dir, d.path().join("state"));
}

#[test]
fn every_mistake_is_reported() {
    let d = tempfile::tempdir().unwrap();
    let text = r#"
database_url = "mysql://x"
[sip]
bind = "localhost"

[[trunks]]
name = "main"
host = "127.0.0.1"
transport = "sctp"
password = "hunter2"

[[trunks]]
name = "main"
host = "127.0.0.2"
password_env = "lower-case"

[[agents]]
id = "bob"
sip_uri = "bob@127.0.0.1"
groups = []

[media]
rtp_port_min = 20000
rtp_port_max = 10000

[metrics]
bind = "x"
"#;
    let f = write(d.path(), "dialer.toml", text);
    assert_eq!(
        problems(load_with(&f, &Env::default(), None)),
        [
            "database_url: \"mysql://x\" is neither sqlite://… nor postgres://…",
            "sip.bind: \"localhost\" is not an address:port like \"127.0.0.1:5060\"",
            "trunks[0].transport: \"sctp\" is not one of: udp, tcp",
            "trunks[0].password: unknown key `password`; secrets are read from the environment: use `password_env = \"VAR\"` (a variable, or a systemd credential, of that name holds it)",
            "trunks[1].name: trunk \"main\" is defined twice",
            "trunks[1].password_env: \"lower-case\" is not an environment variable name (A-Z, 0-9, _)",
            "agents[0].sip_uri: \"bob@127.0.0.1\" is not a SIP URI like \"sip:alice@127.0.0.1:5070\" (or use phone = \"registered\" for a softphone that registers)",
            "agents[0].groups: at least one group is needed",
            "media.rtp_port_max: 10000 is not above rtp_port_min (20000)",
            "metrics: unknown key",
        ]
    );
}

#[test]
fn secrets_come_from_the_environment() {
    let t = Trunk {
        name: "main".into(),
        host: "127.0.0.1".into(),
        port: 5060,
        transport: Transport::Udp,
        username: None,
        password_env: Some("DIALER_TEST_SURELY_UNSET_PASSWORD_VAR".into()),
        max_channels: 1,
        calls_per_second: 1.0,
    };
    let e = t.password().unwrap_err();
    assert_eq!(e.name, "DIALER_TEST_SURELY_UNSET_PASSWORD_VAR");
    // PATH is set in every test environment.
    let t = Trunk {
        password_env: Some("PATH".into()),
        ..t
    };
    assert!(t.password().unwrap().is_some_and(|p| !p.is_empty()));
    let t = Trunk {
        password_env: None,
        ..t
    };
    assert_eq!(t.password().unwrap(), None);
}

#[test]
fn cross_check_trunks_and_agent_groups() {
    let d = tempfile::tempdir().unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(d.path().join("safe.wav"), spec).unwrap();
    w.write_sample(0i16).unwrap();
    w.finalize().unwrap();
    write(d.path(), "a.csv", "phone\n+12025550143\n");
    let campaign = |trunk: &str, groups: &str| {
        format!(
            "kind = \"cold\"\ntrunk = \"{trunk}\"\ncaller_id = \"+12025550143\"\n\
             agent_groups = {groups}\nsafe_harbor = \"safe.wav\"\n\
             [[lists]]\nfile = \"a.csv\"\n[hours]\ntimezone = \"America/Chicago\"\n\
             [[dispositions]]\ncode = \"sale\"\neffect = \"final\"\n"
        )
    };
    let ok = write(d.path(), "ok.toml", &campaign("main", "[\"sales\"]"));
    let bad = write(
        d.path(),
        "bad.toml",
        &campaign("backup", "[\"sales\", \"night\"]"),
    );
    let env = Env::default();
    let cs = vec![
        crate::campaign::load_with(&ok, &env).unwrap(),
        crate::campaign::load_with(&bad, &env).unwrap(),
    ];
    let f = write(d.path(), "dialer.toml", GOOD);
    let cfg = load_with(&f, &env, None).unwrap();
    let ps: Vec<String> = cross_check(&cfg, &cs)
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(
        ps,
        [
            format!(
                "{}: trunk: no trunk \"backup\" in {} (trunks: main)",
                bad.display(),
                f.display()
            ),
            format!(
                "{}: agent_groups[1]: no agent in {} is in group \"night\"",
                bad.display(),
                f.display()
            ),
        ]
    );
}

#[test]
fn load_all_loads_the_examples_and_reports_cross_problems() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let l = load_all_with(&repo.join("dialer.toml"), &Env::default(), None).unwrap();
    assert_eq!(l.campaigns.len(), 5);
    assert_eq!(l.config.campaigns_dir, repo.join("campaigns"));
    let env = Env::from_pairs([("DIALER__CAMPAIGN__HOT_UPSELL__TRUNK", "nope")]);
    let e = load_all_with(&repo.join("dialer.toml"), &env, None).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].key, "trunk");
    assert_eq!(e.0[0].file, repo.join("campaigns/hot_upsell.toml"));
}

#[test]
fn secrets_come_from_systemd_credentials_before_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("DIALER_API_TOKEN"), "from-credential\n").unwrap();
    let env =
        |n: &str| (n == "DIALER_API_TOKEN" || n == "ONLY_ENV").then(|| "from-env".to_string());
    assert_eq!(
        secret_from("DIALER_API_TOKEN", Some(dir.path()), env).unwrap(),
        "from-credential"
    );
    // No credential file of that name: the environment.
    assert_eq!(
        secret_from("ONLY_ENV", Some(dir.path()), env).unwrap(),
        "from-env"
    );
    assert_eq!(
        secret_from("DIALER_API_TOKEN", None, env).unwrap(),
        "from-env"
    );
    // Neither: the error names the secret.
    let err = secret_from("MISSING", Some(dir.path()), env).unwrap_err();
    assert!(err.to_string().contains("MISSING"), "{err}");
    // An empty credential counts as unset; a name cannot leave the directory.
    std::fs::write(dir.path().join("EMPTY"), "\n").unwrap();
    assert!(secret_from("EMPTY", Some(dir.path()), |_| None).is_err());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    assert!(
        secret_from("../DIALER_API_TOKEN", Some(&dir.path().join("sub")), |_| {
            None
        })
        .is_err()
    );
}

#[test]
fn a_reload_keeps_the_running_version_of_a_broken_campaign_file() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = repo.join("dialer.toml");
    let running = load_all_with(&config, &Env::default(), None)
        .unwrap()
        .campaigns;
    let hot = running.iter().find(|c| c.name == "hot-upsell").unwrap();
    // hot_upsell.toml breaks (no such trunk); cold_sales.toml changes validly.
    let env = Env::from_pairs([
        ("DIALER__CAMPAIGN__HOT_UPSELL__TRUNK", "nope"),
        ("DIALER__CAMPAIGN__HOT_UPSELL__CALLER_ID", "+12025550199"),
        ("DIALER__CAMPAIGN__COLD_SALES__DIALING__MAX_CONCURRENT", "7"),
    ]);
    let r = reload_with(&config, &env, None, &running).unwrap();
    assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
    assert_eq!(
        (r.problems[0].file.clone(), r.problems[0].key.as_str()),
        (repo.join("campaigns/hot_upsell.toml"), "trunk")
    );
    assert_eq!(
        r.kept,
        [(
            repo.join("campaigns/hot_upsell.toml"),
            "hot-upsell".to_string()
        )]
    );
    assert_eq!(r.loaded.campaigns.len(), 5);
    let get = |name: &str| r.loaded.campaigns.iter().find(|c| c.name == name).unwrap();
    // The running version, not the broken file's other (valid) change.
    assert_eq!(get("hot-upsell").caller_id, hot.caller_id);
    assert_eq!(get("hot-upsell").trunk, "main");
    assert_eq!(get("cold-sales").dialing.max_concurrent, 7);

    // A broken file that was not running stays out.
    let others: Vec<Campaign> = running
        .iter()
        .filter(|c| c.name != "hot-upsell")
        .cloned()
        .collect();
    let r = reload_with(&config, &env, None, &others).unwrap();
    assert!(r.kept.is_empty());
    assert!(!r.loaded.campaigns.iter().any(|c| c.name == "hot-upsell"));

    // A broken dialer.toml refuses the reload.
    let env = Env::from_pairs([("DIALER__SIP__BIND", "not an address")]);
    let e = reload_with(&config, &env, None, &running).unwrap_err();
    assert!(e.0.iter().any(|p| p.key == "sip.bind"), "{e}");
}

#[test]
fn node_id_defaults_to_the_host_name_and_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), None).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(c.node_id, host.trim());
    assert_eq!(c.node_id, host_name());

    let f = write(
        d.path(),
        "dialer.toml",
        &format!("node_id = \"dialer-2.east\"\n{GOOD}"),
    );
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.node_id, "dialer-2.east");
    let env = Env::from_pairs([("DIALER__NODE_ID", "node_b")]);
    assert_eq!(load_with(&f, &env, None).unwrap().node_id, "node_b");

    let long = "n".repeat(65);
    for (bad, shown) in [
        ("two words", "\"two words\""),
        ("", "\"\""),
        (long.as_str(), &format!("{:?}…", "n".repeat(64))[..]),
    ] {
        let f = write(
            d.path(),
            "dialer.toml",
            &format!("node_id = \"{bad}\"\n{GOOD}"),
        );
        assert_eq!(
            problems(load_with(&f, &Env::default(), None)),
            [format!(
                "node_id: {shown} is not a node id (1–64 letters, digits, `.`, `-`, `_`)"
            )]
        );
    }
}

/// The kinds of agent phone: a fixed URI (the default), a registered softphone; each kind's
/// keys checked, the other kind's refused, SIP users unique, the password never in the file.
#[test]
fn agent_phone_kinds() {
    let d = tempfile::tempdir().unwrap();
    let good = format!(
        "{GOOD}\n[[agents]]\nid = \"dave\"\nphone = \"registered\"\nsip_user = \"dave\"\n\
         password_env = \"DIALER_AGENT_DAVE_SIP_PASSWORD\"\ngroups = [\"sales\"]\n"
    );
    let f = write(d.path(), "dialer.toml", &good);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.sip.realm, "dialer");
    assert_eq!(
        c.agents[0].phone,
        Phone::Uri("sip:alice@127.0.0.1:5070".into())
    );
    assert_eq!(
        c.agents[1].phone,
        Phone::Registered {
            sip_user: "dave".into(),
            password_env: "DIALER_AGENT_DAVE_SIP_PASSWORD".into(),
        }
    );
    assert_eq!(c.agents[1].sip_uri(), None);
    assert_eq!(
        c.sip.digest_algorithms,
        [crate::sip::digest::Algorithm::Md5]
    );
    // A list given replaces the default one (not merged item by item).
    let sha = good.replace(
        "bind = \"127.0.0.1:5060\"\n",
        "bind = \"127.0.0.1:5060\"\ndigest_algorithms = [\"SHA-256\"]\n",
    );
    let f = write(d.path(), "dialer.toml", &sha);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(
        c.sip.digest_algorithms,
        [crate::sip::digest::Algorithm::Sha256]
    );
    let f = write(
        d.path(),
        "dialer.toml",
        &sha.replace("[\"SHA-256\"]", "[\"SHA-1\"]"),
    );
    assert_eq!(
        problems(load_with(&f, &Env::default(), None)),
        [
            "sip.digest_algorithms[0]: \"SHA-1\" is not a digest algorithm we offer (\"MD5\" or \"SHA-256\")"
        ]
    );
    let f = write(d.path(), "dialer.toml", &good);
    let c = load_with(&f, &Env::default(), None).unwrap();
    let unset: Vec<String> = unset_secrets(&c, |n| Err(SecretError { name: n.into() }))
        .into_iter()
        .filter(|p| p.key.starts_with("agents[1]"))
        .map(|p| format!("{}: {}", p.key, p.message))
        .collect();
    assert_eq!(
        unset,
        [
            "agents[1].password_env: DIALER_AGENT_DAVE_SIP_PASSWORD is not set (no environment \
          variable or systemd credential of that name): `dialer run` refuses to start without \
          agent \"dave\"'s phone password"
        ]
    );

    let bad = r#"
state_dir = "state"

[[agents]]
id = "a"
phone = "registered"
sip_user = "dave"
sip_uri = "sip:a@127.0.0.1"
password = "hunter2"
groups = ["g"]

[[agents]]
id = "b"
phone = "registered"
sip_user = "dave"
groups = ["g"]

[[agents]]
id = "c"
phone = "webphone"
groups = ["g"]

[[agents]]
id = "d"
sip_uri = "sip:d@127.0.0.1"
sip_user = "d"
groups = ["g"]

[[agents]]
id = "e"
phone = "registered"
sip_user = "e@x"
password_env = "X"
groups = ["g"]

[[agents]]
id = "f"
phone = "browser"
sip_uri = "sip:f@127.0.0.1"
groups = ["g"]
"#;
    let f = write(d.path(), "dialer.toml", bad);
    assert_eq!(
        problems(load_with(&f, &Env::default(), None)),
        [
            "agents[0].sip_uri: not a key of phone = \"registered\" (its phone is reached another way)",
            "agents[0].password: unknown key `password`; secrets are read from the environment: use `password_env = \"VAR\"` (a variable, or a systemd credential, of that name holds it)",
            "agents[0].password_env: missing (required for phone = \"registered\": the variable or systemd credential holding the phone's SIP password)",
            "agents[1].sip_user: SIP user \"dave\" belongs to another agent already",
            "agents[1].password_env: missing (required for phone = \"registered\": the variable or systemd credential holding the phone's SIP password)",
            "agents[2].phone: \"webphone\" is not a kind of agent phone: \"sip\" (a fixed sip_uri), \"registered\" (a softphone that registers) or \"browser\" (the agent's desktop page)",
            "agents[3].sip_user: not a key of phone = \"sip\" (its phone is reached another way)",
            "agents[4].sip_user: \"e@x\" is not a usable SIP user (1–64 letters, digits, `-`, `_`, `.`)",
            "agents[5].sip_uri: not a key of phone = \"browser\" (its phone is reached another way)",
        ]
    );
}

#[test]
fn unset_secrets_name_their_key_and_variable() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), None).unwrap();
    let unset = |n: &str| Err(SecretError { name: n.into() });
    let warned: Vec<(String, String)> = unset_secrets(&c, unset)
        .into_iter()
        .map(|p| {
            assert_eq!(p.file, f);
            (p.key, p.message)
        })
        .collect();
    let costs = [
        "`dialer run` refuses to start without trunk \"main\"'s password",
        "agent \"alice\" cannot use the HTTP API",
        "the supervisor cannot use the HTTP API",
    ];
    let want: Vec<(String, String)> = [
        ("trunks[0].password_env", "DIALER_TRUNK_MAIN_PASSWORD"),
        ("agents[0].token_env", "DIALER_AGENT_ALICE_TOKEN"),
        ("api.token_env", "DIALER_API_TOKEN"),
    ]
    .iter()
    .zip(costs)
    .map(|((key, var), costs)| {
        (
            key.to_string(),
            format!(
                "{var} is not set (no environment variable or systemd credential of that name): \
                 {costs}"
            ),
        )
    })
    .collect();
    assert_eq!(warned, want);
    // Alice's token set: the others are still warned about.
    let alice = |n: &str| match n {
        "DIALER_AGENT_ALICE_TOKEN" => Ok("t".to_owned()),
        _ => Err(SecretError { name: n.into() }),
    };
    let keys: Vec<String> = unset_secrets(&c, alice)
        .into_iter()
        .map(|p| p.key)
        .collect();
    assert_eq!(keys, ["trunks[0].password_env", "api.token_env"]);
    assert!(unset_secrets(&c, |_| Ok("t".to_owned())).is_empty());
}

#[test]
fn store_unwritable_watchdog() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.store.unwritable_watchdog, Duration::from_secs(60));

    let f = write(
        d.path(),
        "dialer.toml",
        &format!("{GOOD}\n[store]\nunwritable_watchdog = \"2m\"\n"),
    );
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.store.unwritable_watchdog, Duration::from_secs(120));

    for (value, wanted) in [
        (
            "\"200ms\"",
            "store.unwritable_watchdog: \"200ms\" is under 1s",
        ),
        (
            "\"soon\"",
            "store.unwritable_watchdog: \"soon\" is not a duration",
        ),
    ] {
        let f = write(
            d.path(),
            "dialer.toml",
            &format!("{GOOD}\n[store]\nunwritable_watchdog = {value}\n"),
        );
        let p = problems(load_with(&f, &Env::default(), None));
        assert!(p.iter().any(|m| m.starts_with(wanted)), "{p:?}");
    }
    let f = write(
        d.path(),
        "dialer.toml",
        &format!("{GOOD}\n[store]\nwatchdog = \"2m\"\n"),
    );
    let p = problems(load_with(&f, &Env::default(), None));
    assert!(p.iter().any(|m| m.starts_with("store.watchdog")), "{p:?}");
}

#[test]
fn names_are_short_and_safe() {
    let d = tempfile::tempdir().unwrap();
    let text = GOOD
        .replace(
            "name = \"main\"",
            &format!("name = \"{}\"", "t".repeat(100_000)),
        )
        .replace(
            "id = \"alice\"",
            "id = \"al ice\"\nname = \"".to_owned().as_str(),
        )
        .replace(
            "name = \"\nsip_uri",
            &format!("name = \"{}\"\nsip_uri", "N".repeat(201)),
        )
        .replace(
            "groups = [\"sales\", \"collections\"]",
            &format!("groups = [\"sales\", \"{}\"]", "g".repeat(65)),
        );
    let f = write(d.path(), "dialer.toml", &text);
    let p = problems(load_with(&f, &Env::default(), None));
    let all = p.join("\n");
    assert!(
        all.len() < 2_000,
        "a problem repeats a long value: {} bytes",
        all.len()
    );
    for want in [
        "trunks[0].name: 100000 characters long; at most 64",
        "agents[0].id: \"al ice\" is not a usable name (letters, digits, `-`, `_` and `.` only)",
        "agents[0].name: 201 characters long; at most 200",
        "agents[0].groups[1]: 65 characters long; at most 64",
    ] {
        assert!(p.iter().any(|l| l == want), "no {want:?} in:\n{all}");
    }
}

#[test]
fn desktop_pause_reasons_default_and_are_checked() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "dialer.toml", GOOD);
    let c = load_with(&f, &Env::default(), None).unwrap();
    let codes: Vec<&str> = c
        .desktop
        .pause_reasons
        .iter()
        .map(|r| r.code.as_str())
        .collect();
    assert_eq!(codes, ["break", "lunch", "training", "meeting"]);
    assert_eq!(c.api.max_event_streams, 1024);

    let own = format!(
        "{GOOD}\n[desktop]\npause_reasons = [{{code = \"coaching\", label = \"Coaching\"}}, {{code = \"lunch\", label = \"Lunch\"}}]\n"
    );
    let f = write(d.path(), "own.toml", &own);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(
        c.desktop.pause_reason("coaching").map(|r| r.label.as_str()),
        Some("Coaching")
    );
    assert!(c.desktop.pause_reason("break").is_none());

    let bad = format!(
        "{GOOD}\n[desktop]\npause_reasons = [{{code = \"lunch\", label = \"Lunch\"}}, {{code = \"lunch\", label = \"Late lunch\"}}, {{code = \"a b\", label = \"x\"}}, {{code = \"nap\", label = \" \", colour = \"red\"}}, {{label = \"No code\"}}]\n"
    );
    let f = write(d.path(), "bad.toml", &bad);
    let got = problems(load_with(&f, &Env::default(), None));
    for want in [
        "desktop.pause_reasons[1].code: pause reason \"lunch\" is listed twice",
        "desktop.pause_reasons[2].code: \"a b\" is not a usable name",
        "desktop.pause_reasons[3].label: empty label",
        "desktop.pause_reasons[3].colour: unknown key",
        "desktop.pause_reasons[4].code: missing",
    ] {
        assert!(
            got.iter().any(|p| p.starts_with(want)),
            "{want:?} not in {got:#?}"
        );
    }
    let empty = format!("{GOOD}\n[desktop]\npause_reasons = []\n");
    let f = write(d.path(), "empty.toml", &empty);
    let got = problems(load_with(&f, &Env::default(), None));
    assert!(
        got.iter()
            .any(|p| p.starts_with("desktop.pause_reasons: at least one reason")),
        "{got:#?}"
    );
}

/// `phone = "browser"` and `[webrtc]`: the defaults, a candidate address, and a bind on every
/// interface refused without `public_ip`.
#[test]
fn browser_phones_and_the_webrtc_section() {
    let d = tempfile::tempdir().unwrap();
    let good =
        format!("{GOOD}\n[[agents]]\nid = \"erin\"\nphone = \"browser\"\ngroups = [\"sales\"]\n");
    let f = write(d.path(), "dialer.toml", &good);
    let c = load_with(&f, &Env::default(), None).unwrap();
    let erin = c.agents.iter().find(|a| a.id.as_str() == "erin").unwrap();
    assert_eq!(erin.phone, Phone::Browser);
    assert_eq!(erin.phone.kind(), "browser");
    assert_eq!(c.webrtc.bind, "127.0.0.1:0".parse().unwrap());
    assert_eq!(c.webrtc.connect_wait, Duration::from_secs(30));
    assert_eq!(c.webrtc.candidate(), "127.0.0.1:0".parse().unwrap());

    let nat = format!(
        "{good}\n[webrtc]\nbind = \"0.0.0.0:3478\"\npublic_ip = \"203.0.113.7\"\nconnect_wait = \"10s\"\n"
    );
    let f = write(d.path(), "dialer.toml", &nat);
    let c = load_with(&f, &Env::default(), None).unwrap();
    assert_eq!(c.webrtc.candidate(), "203.0.113.7:3478".parse().unwrap());
    assert_eq!(c.webrtc.connect_wait, Duration::from_secs(10));

    let open = format!("{good}\n[webrtc]\nbind = \"0.0.0.0:3478\"\n");
    let f = write(d.path(), "dialer.toml", &open);
    assert_eq!(
        problems(load_with(&f, &Env::default(), None)),
        [
            "webrtc.bind: 0.0.0.0:3478 is on every interface: set public_ip to the address browsers reach (it goes into the answer's ICE candidate)"
        ]
    );
    let bad = format!("{good}\n[webrtc]\npublic_ip = \"nowhere\"\nconnect_wait = \"0s\"\n");
    let f = write(d.path(), "dialer.toml", &bad);
    let p = problems(load_with(&f, &Env::default(), None));
    assert!(
        p.iter()
            .any(|m| m.starts_with("webrtc.public_ip: \"nowhere\"")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.starts_with("webrtc.connect_wait")),
        "{p:?}"
    );
}
