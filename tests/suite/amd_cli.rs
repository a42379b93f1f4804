//! `dialer amd` end to end: the binary on corpus files, JSON lines and the table.

use std::process::Command;

fn corpus(name: &str) -> String {
    format!("{}/tests/amd/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn json_lines_name_the_file_result_cause_and_beep() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(["amd", "--json"])
        .arg(corpus("a_human_02.wav"))
        .arg(corpus("a_machine_22.wav"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(
        rows[0]["file"]
            .as_str()
            .unwrap()
            .ends_with("a_human_02.wav")
    );
    assert_eq!(rows[0]["result"], "human");
    assert_eq!(rows[0]["beep_ms"], serde_json::Value::Null);
    assert!(rows[0]["decision_ms"].as_u64().unwrap() > 0);
    assert_eq!(rows[1]["result"], "machine");
    assert_eq!(rows[1]["cause"], "beep");
    // labelled beep at 1575 ms
    let beep = rows[1]["beep_ms"].as_u64().unwrap();
    assert!(beep.abs_diff(1575) <= 300, "{beep}");
}

#[test]
fn a_missing_file_is_named_and_fails_but_the_others_are_classified() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .arg("amd")
        .arg("/nonexistent/greeting.wav")
        .arg(corpus("a_human_02.wav"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/greeting.wav"), "{err}");
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.starts_with("FILE"), "{table}");
    assert!(table.contains("a_human_02.wav"), "{table}");
    assert!(table.contains("human"), "{table}");
}

#[test]
fn a_bad_setting_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .args(["amd", "--set", "greting_ms=100"])
        .arg(corpus("a_human_02.wav"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("greting_ms"), "{err}");
}
