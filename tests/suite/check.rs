//! `dialer check` through the real binary, and the example campaigns.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The secrets the example `dialer.toml` names, set.
const SECRETS: [(&str, &str); 5] = [
    ("DIALER_TRUNK_MAIN_PASSWORD", "pw"),
    ("DIALER_AGENT_ALICE_TOKEN", "alice-token"),
    ("DIALER_AGENT_BOB_TOKEN", "bob-token"),
    ("DIALER_AGENT_CAROL_TOKEN", "carol-token"),
    ("DIALER_API_TOKEN", "super-token"),
];

/// Run `dialer ARGS` in `dir` with a clean environment plus the example's secrets and `env`.
fn dialer(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut all = SECRETS.to_vec();
    all.extend_from_slice(env);
    dialer_bare(dir, args, &all)
}

/// Run `dialer ARGS` in `dir` with a clean environment plus `env` only.
fn dialer_bare(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn examples_pass_check() {
    let o = dialer(&repo(), &["check", "campaigns/"], &[]);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The daemon config (./dialer.toml, cross-checked) and all five campaigns.
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[0].starts_with("dialer.toml: ok: daemon config, 1 trunk, 3 agents"));
    for f in [
        "cold_sales",
        "collections",
        "hot_upsell",
        "survey",
        "warm_followup",
    ] {
        assert!(
            out.contains(&format!("campaigns/{f}.toml: ok: campaign")),
            "{f} missing in {out}"
        );
    }
}

#[test]
fn no_paths_checks_the_config_and_its_campaigns_dir() {
    let o = dialer(&repo(), &["check"], &[]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 6);
    let o = dialer(&repo(), &["check", "--config", "nope.toml"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "nope.toml: cannot read the file: No such file or directory (os error 2)\n"
    );
}

const BROKEN: &str = r#"
kind = "cold"
mode = "predictive"
trunk = "backup"
caller_id = "+1 202 555 0143"
agent_groups = ["sales", "night"]
safe_harbor = "audio/safe_harbor.wav"

[[lists]]
file = "lists/cold_prospects.csv"
columns = { phone = "phone", tz = "tz" }

[hours]
timezone = "Mars/Olympus_Mons"

[dialling]
ring_timeout = "20s"

[dialing]
ring_timeout = "10s"
calls_per_second = "fast"

[abandon]
cap = 0.04

[amd]
on_machine = "voicemail"

[[dispositions]]
code = "Sale"
effect = "final"
"#;

/// A copy of the examples' directory with `renewals.toml` added.
fn workspace(renewals: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let c = d.path().join("campaigns");
    for sub in ["audio", "lists", "dnc"] {
        std::fs::create_dir_all(c.join(sub)).unwrap();
        for e in std::fs::read_dir(repo().join("campaigns").join(sub)).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                continue; // e.g. audio/sim/ (the simulated carrier's voices)
            }
            std::fs::copy(e.path(), c.join(sub).join(e.file_name())).unwrap();
        }
    }
    std::fs::copy(repo().join("dialer.toml"), d.path().join("dialer.toml")).unwrap();
    std::fs::write(c.join("renewals.toml"), renewals).unwrap();
    d
}

#[test]
fn a_broken_file_gets_every_problem_with_file_and_key() {
    let d = workspace(BROKEN);
    let o = dialer(d.path(), &["check", "campaigns/renewals.toml"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let f = "campaigns/renewals.toml";
    let want = [
        format!(
            "{f}: caller_id: \"+1 202 555 0143\" is not in E.164 form (write \"+12025550143\")"
        ),
        format!("{f}: lists[0].columns.tz: unknown key"),
        format!(
            "{f}: hours.timezone: \"Mars/Olympus_Mons\" is not a known IANA time zone (e.g. \"America/New_York\")"
        ),
        format!("{f}: dialing.ring_timeout: 10s is below the 15 s minimum"),
        format!("{f}: dialing.calls_per_second: expected a number, found a string (\"fast\")"),
        format!("{f}: abandon.cap: 0.04 is out of range (above 0, at most 0.03 = 3 %)"),
        format!(
            "{f}: amd.voicemail_message: missing (required when on_machine = \"voicemail\", which warm and hot lists default to)"
        ),
        format!("{f}: dispositions[0].code: \"Sale\" is not a snake_case code"),
        format!("{f}: dialling: unknown key (did you mean `dialing`?)"),
    ];
    assert_eq!(stdout(&o).lines().collect::<Vec<_>>(), want);
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "dialer check: 9 problems in 1 file\n"
    );
}

#[test]
fn cross_checks_and_duplicate_names_across_the_directory() {
    let text = std::fs::read_to_string(repo().join("campaigns/cold_sales.toml"))
        .unwrap()
        .replace("trunk = \"main\"", "trunk = \"backup\"")
        .replace(
            "agent_groups = [\"sales\"]",
            "agent_groups = [\"sales\", \"night\"]",
        );
    let d = workspace(&text);
    std::fs::copy(
        repo().join("campaigns/cold_sales.toml"),
        d.path().join("campaigns/cold_sales.toml"),
    )
    .unwrap();
    let o = dialer(d.path(), &["check", "campaigns"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).lines().collect::<Vec<_>>(),
        [
            "campaigns/renewals.toml: name: campaign name \"cold-sales\" is already used by campaigns/cold_sales.toml",
            "campaigns/renewals.toml: trunk: no trunk \"backup\" in dialer.toml (trunks: main)",
            "campaigns/renewals.toml: agent_groups[1]: no agent in dialer.toml is in group \"night\"",
        ]
    );
}

#[test]
fn environment_overrides_are_checked_too() {
    let o = dialer(
        &repo(),
        &["check", "campaigns/"],
        &[
            ("DIALER__CAMPAIGN__COLD_SALES__DIALING__RING_TIMEOUT", "5s"),
            ("DIALER__SIP__BIND", "nowhere"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o).lines().collect::<Vec<_>>(),
        [
            "dialer.toml: sip.bind: \"nowhere\" is not an address:port like \"127.0.0.1:5060\"",
            "campaigns/cold_sales.toml: dialing.ring_timeout: 5s is below the 15 s minimum",
        ]
    );
}

/// A US campaign that records without an announcement is refused, naming the key and the rule
/// (here `recording = true` comes from the environment over the file's announcing table).
#[test]
fn recording_without_the_announcement_is_refused() {
    let o = dialer(
        &repo(),
        &["check", "campaigns/cold_sales.toml"],
        &[("DIALER__CAMPAIGN__COLD_SALES__RECORDING", "true")],
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("campaigns/cold_sales.toml: recording.announce: missing:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.contains("every party's consent") && line.contains("CA, CT, FL"),
        "{line}"
    );
    // As shipped (with `recording.announce`), the file passes.
    let o = dialer(&repo(), &["check", "campaigns/cold_sales.toml"], &[]);
    assert!(!stdout(&o).contains("recording"), "{}", stdout(&o));
}

#[test]
fn json_output() {
    let d = workspace(BROKEN);
    let o = dialer(
        d.path(),
        &["check", "--json", "campaigns/renewals.toml", "dialer.toml"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["files"][0]["file"], "dialer.toml");
    assert_eq!(v["files"][0]["ok"], true);
    assert_eq!(v["files"][1]["file"], "campaigns/renewals.toml");
    assert_eq!(v["files"][1]["ok"], false);
    let problems = v["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 9);
    assert_eq!(problems[3]["key"], "dialing.ring_timeout");
    assert_eq!(problems[3]["message"], "10s is below the 15 s minimum");
    assert_eq!(problems[3]["file"], "campaigns/renewals.toml");
}

/// The sample lists are importable: every phone is a valid number in the list's region.
#[test]
fn example_lists_hold_valid_numbers() {
    let campaigns = dialer::campaign::load_dir_report(
        &repo().join("campaigns"),
        &dialer::campaign::Env::default(),
    );
    assert!(campaigns.1.is_empty(), "{:?}", campaigns.1);
    assert_eq!(campaigns.0.len(), 5);
    for c in &campaigns.0 {
        for l in &c.lists {
            let region: phonenumber::country::Id = l.default_region.parse().unwrap();
            let mut r = csv::Reader::from_path(&l.file).unwrap();
            let headers = r.headers().unwrap().clone();
            let col = headers.iter().position(|h| h == l.columns.phone).unwrap();
            let mut n = 0;
            for row in r.records() {
                let row = row.unwrap();
                let phone = &row[col];
                let p = phonenumber::parse(Some(region), phone).unwrap();
                assert!(p.is_valid(), "{}: {phone}", l.file.display());
                n += 1;
            }
            assert!(n >= 4, "{}", l.file.display());
        }
    }
}

#[test]
fn the_daemon_config_alone_brings_its_campaigns() {
    let o = dialer(&repo(), &["check", "dialer.toml"], &[]);
    assert!(o.status.success(), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 6, "{}", stdout(&o));
}

/// The warning for each secret of the example `dialer.toml` that is not set.
fn unset(key: &str, var: &str, costs: &str) -> String {
    format!(
        "dialer.toml: {key}: warning: {var} is not set (no environment variable or systemd \
         credential of that name): {costs}"
    )
}

#[test]
fn unset_secrets_are_warnings_and_strict_fails_on_them() {
    // Only Bob's token is set: every other secret the config names is a warning.
    let env = [("DIALER_AGENT_BOB_TOKEN", "bob-token")];
    let o = dialer_bare(&repo(), &["check", "dialer.toml"], &env);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            unset(
                "trunks[0].password_env",
                "DIALER_TRUNK_MAIN_PASSWORD",
                "`dialer run` refuses to start without trunk \"main\"'s password"
            ),
            unset(
                "agents[0].token_env",
                "DIALER_AGENT_ALICE_TOKEN",
                "agent \"alice\" cannot use the HTTP API"
            ),
            unset(
                "agents[2].token_env",
                "DIALER_AGENT_CAROL_TOKEN",
                "agent \"carol\" cannot use the HTTP API"
            ),
            unset(
                "api.token_env",
                "DIALER_API_TOKEN",
                "the supervisor cannot use the HTTP API"
            ),
        ]
    );
    // Then the usual OK lines: the config and its five campaigns.
    assert_eq!(lines.len(), 4 + 6, "{out}");
    assert!(
        lines[4].starts_with("dialer.toml: ok: daemon config"),
        "{out}"
    );
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "dialer check: 4 warnings (--strict makes them fail the check)\n"
    );

    let o = dialer_bare(&repo(), &["check", "--strict", "dialer.toml"], &env);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stdout(&o).lines().count(), 10);

    let o = dialer_bare(
        &repo(),
        &["check", "--json", "--strict", "dialer.toml"],
        &env,
    );
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0));
    let w = v["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 4);
    assert_eq!(w[3]["file"], "dialer.toml");
    assert_eq!(w[3]["key"], "api.token_env");

    // Every secret set (a systemd credential counts as set): no warning, strict passes.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("DIALER_API_TOKEN"), "super-token\n").unwrap();
    let creds_dir = creds.path().to_str().unwrap();
    let mut env: Vec<(&str, &str)> = SECRETS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "DIALER_API_TOKEN")
        .collect();
    env.push(("CREDENTIALS_DIRECTORY", creds_dir));
    let o = dialer_bare(&repo(), &["check", "--strict", "dialer.toml"], &env);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!stdout(&o).contains("warning"), "{}", stdout(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
}

#[test]
fn a_secret_written_into_the_config_points_to_its_env_key() {
    let d = workspace(&std::fs::read_to_string(repo().join("campaigns/cold_sales.toml")).unwrap());
    let config = std::fs::read_to_string(d.path().join("dialer.toml"))
        .unwrap()
        .replace("token_env = \"DIALER_API_TOKEN\"", "token = \"hunter2\"")
        .replace(
            "password_env = \"DIALER_TRUNK_MAIN_PASSWORD\"",
            "password = \"hunter2\"",
        )
        .replace(
            "token_env = \"DIALER_AGENT_BOB_TOKEN\"",
            "token = \"hunter2\"",
        );
    std::fs::write(d.path().join("dialer.toml"), config).unwrap();
    let o = dialer(d.path(), &["check", "dialer.toml"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let hint = |key: &str, secret: &str, env_key: &str| {
        format!(
            "dialer.toml: {key}: unknown key `{secret}`; secrets are read from the environment: \
             use `{env_key} = \"VAR\"` (a variable, or a systemd credential, of that name holds it)"
        )
    };
    assert_eq!(
        stdout(&o).lines().collect::<Vec<_>>(),
        [
            hint("trunks[0].password", "password", "password_env"),
            hint("agents[1].token", "token", "token_env"),
            hint("api.token", "token", "token_env"),
        ]
    );
}
