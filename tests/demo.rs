//! `dialer demo` end to end through the real binary: the daemon against the simulated carrier
//! and agents on loopback. Its store must hold one finished attempt per dial with consistent
//! timestamps, outcomes that match what the simulated carrier drew, and the preview campaign
//! dialed by the agents who previewed its leads.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

fn count(map: &Value, key: &str) -> u64 {
    map.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[test]
fn demo_stores_one_consistent_attempt_per_dial() {
    let state = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dialer"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "demo",
            "--duration",
            "15s",
            "--json",
            "--seed",
            "7",
            "--agents",
            "9",
            "--state",
        ])
        .arg(state.path())
        .output()
        .expect("run dialer demo");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "dialer demo failed:\n{stderr}");
    let s: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));

    let attempts = s["attempts"].as_u64().unwrap();
    let carrier = &s["carrier"];
    let planned = &carrier["planned"];
    let by: &Value = &s["by_outcome"];
    eprintln!("attempts {attempts}, by outcome {by}, carrier {carrier}");
    assert!(
        attempts >= 10,
        "a 15 s demo dials more than {attempts} calls"
    );
    // One attempt per dial the carrier saw, every one finished, timestamps in order.
    assert_eq!(attempts, carrier["calls"].as_u64().unwrap());
    assert_eq!(s["unfinished_attempts"], 0);
    assert_eq!(s["inconsistent_timestamps"], 0);

    // Rejections come straight from SIP statuses: each matches the carrier's draws, but for
    // calls cut short when the demo stopped (interrupted).
    let interrupted = count(by, "interrupted");
    for (outcome, kind) in [
        ("busy", "busy"),
        ("congestion", "congestion"),
        ("invalid_number", "invalid"),
    ] {
        let (got, drawn) = (count(by, outcome), count(planned, kind));
        assert!(
            got <= drawn && drawn <= got + interrupted,
            "{outcome}: stored {got}, carrier drew {drawn}, interrupted {interrupted}"
        );
    }
    // Answered calls: people and machines as the carrier drew them, up to AMD's mistakes.
    let answered: u64 = ["human", "machine", "abandoned", "answered"]
        .iter()
        .map(|k| count(by, k))
        .sum();
    assert!(answered <= carrier["answered"].as_u64().unwrap() + interrupted);
    assert!(answered > 0);
    let drawn_people = count(planned, "person");
    let stored_people = count(by, "human") + count(by, "abandoned");
    assert!(drawn_people > 0 && stored_people > 0);

    // Agents' intervals were stored for every agent, and with nine agents on four campaigns
    // people reached agents within 15 s.
    let agents = s["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 9, "{agents:?}");
    let totals: BTreeMap<String, f64> = agents
        .iter()
        .map(|a| {
            (
                a["agent"].as_str().unwrap().to_owned(),
                a["occupancy"].as_f64().unwrap(),
            )
        })
        .collect();
    let talked: u64 = agents.iter().map(|a| a["calls"].as_u64().unwrap()).sum();
    assert!(talked > 0, "nobody talked: {agents:?}");
    assert!(totals.values().all(|o| (0.0..=1.0).contains(o)));

    // The preview campaign (collections) dials: the desks dial what they preview, and each of
    // its attempts names the agent who dialed it.
    assert!(
        count(&s["by_campaign"], "collections") > 0,
        "collections dialed nothing: {}",
        s["by_campaign"]
    );
    assert_eq!(s["preview_attempts_without_agent"], 0);
    let previewed: f64 = agents
        .iter()
        .map(|a| a["preview_s"].as_f64().unwrap())
        .sum();
    assert!(previewed > 0.0, "{agents:?}");
    assert!(state.path().join("dialer.db").exists());
}
