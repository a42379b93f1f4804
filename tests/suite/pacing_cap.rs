//! The cap is a legal line: whatever a campaign's keys say, predictive's abandon rate over a
//! window long enough to judge (at least 300 live answers) stays at or under the cap.
//!
//! A seeded property test over simulated shifts: each case draws a carrier (live answers 8–60 %,
//! ring and talk times) and the campaign keys the simulator models, far from the truth where
//! they are guesses: the cap (0.5–3 %), `dialing.shed_after` (off or 15–40 s) and
//! `dialing.shed_factor` (its whole range, log-uniform), the ring timeout,
//! calls per second, concurrent calls, and every `[priors]` key (a hit rate from a tenth to ten
//! times the truth, ring, talk and wrap-up times from a fifth to five times). The shift runs
//! until a progressive pacer would have had ~330 live answers; predictive must have at least 300
//! and be at or under the cap. Same seed, same cases: a failure names its case and replays.
//! Talk times are short (20–90 s) so that 300 live answers take minutes of virtual time and the
//! whole test stays under ~30 s in a debug build.

use std::time::Instant;

use dialer::pacing::predictive::MAX_SHED_FACTOR;
use dialer::pacing::{MIN_SHED_RING, Pacer, Predictive, PredictiveConfig};
use dialer::sim::{Report, Scenario, simulate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CASES: u64 = 12;
const SEED: u64 = 18;

/// One drawn case: the scenario text and the campaign's shedding keys.
struct Case {
    text: String,
    shed_after: Option<std::time::Duration>,
    shed_factor: f64,
    cap: f64,
}

/// The range `dialing.shed_factor` accepts.
const SHED_FACTOR: (f64, f64) = (1.0, MAX_SHED_FACTOR);

fn draw(rng: &mut ChaCha8Rng) -> Case {
    let agents: u32 = rng.random_range(4..=30);
    let human: f64 = rng.random_range(0.08..0.6);
    let machine: f64 = rng.random_range(0.0..(0.95 - human).min(0.3));
    let busy: f64 = rng.random_range(0.0..0.05);
    let ring: f64 = rng.random_range(2.0..16.0);
    let timeout: f64 = rng.random_range(15.0..60.0);
    let talk: f64 = rng.random_range(20.0..90.0);
    let wrap: f64 = rng.random_range(3.0..20.0);
    let cap: f64 = [0.005, 0.01, 0.02, 0.03][rng.random_range(0..4)];
    let shed_after = if rng.random_bool(0.4) {
        None
    } else {
        Some(MIN_SHED_RING + std::time::Duration::from_secs(rng.random_range(0..=25)))
    };
    // A guess from a `lo`th to `hi` times the truth, log-uniform.
    let mut off = |x: f64, lo: f64, hi: f64| x * (rng.random_range(lo.ln()..hi.ln())).exp();
    let p_hit = off(human, 0.1, 10.0).min(0.95);
    let p_machine = off(machine.max(0.02), 0.2, 5.0).min(1.0 - p_hit);
    let p_ring = off(ring, 0.2, 5.0);
    let p_talk = off(talk, 0.2, 5.0);
    let p_wrap = off(wrap, 0.2, 5.0);
    let limits = match rng.random_range(0..3) {
        0 => String::new(),
        1 => format!("channels = {}\n", rng.random_range(agents..=agents * 6)),
        _ => format!("max_cps = {:.2}\n", rng.random_range(0.3..10.0)),
    };
    // Progressive's live answers per second: each agent talks, wraps up, then waits for
    // dials that ring up to the timeout until one brings a person.
    let cycle = talk + wrap + timeout / human;
    let duration = 330.0 * cycle / f64::from(agents);
    let text = format!(
        r#"
[scenario]
agents = {agents}
duration_s = {duration:.0}
{limits}[calls]
human_rate = {human:.4}
machine_rate = {machine:.4}
busy_rate = {busy:.4}
ring_s = {{ dist = "lognormal", mean = {ring:.2}, sd = {ring_sd:.2} }}
no_answer_s = {timeout:.1}
talk_s = {{ dist = "lognormal", mean = {talk:.1}, sd = {talk_sd:.1} }}
wrap_s = {{ dist = "lognormal", mean = {wrap:.1}, sd = {wrap_sd:.1} }}
amd_human_s = 1.5
amd_machine_s = 3.2
max_abandon = {cap}
[priors]
hit_rate = {p_hit:.4}
machine_rate = {p_machine:.4}
ring_mean_s = {p_ring:.2}
talk_mean_s = {p_talk:.1}
wrap_mean_s = {p_wrap:.1}
"#,
        ring_sd = ring / 2.0,
        talk_sd = talk * 0.6,
        wrap_sd = wrap / 2.0,
    );
    Case {
        text,
        shed_after,
        // Drawn below from a stream of its own, so the other keys stay as they were.
        shed_factor: PredictiveConfig::default().shed_factor,
        cap,
    }
}

fn run(i: u64, case: &Case) -> Result<Report, String> {
    let sc = Scenario::parse(&case.text, &format!("case {i}"), &format!("case-{i}"))
        .map_err(|e| e.to_string())?;
    let pacer = Pacer::Predictive(Predictive::new(PredictiveConfig {
        shed_after: case.shed_after,
        shed_factor: case.shed_factor,
        ..PredictiveConfig::default()
    }));
    Ok(simulate(&sc, pacer, SEED + i, Instant::now()))
}

#[test]
fn no_campaign_keys_let_predictive_exceed_the_cap() {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let mut cases: Vec<Case> = (0..CASES).map(|_| draw(&mut rng)).collect();
    let mut factors = ChaCha8Rng::seed_from_u64(SEED + 1);
    for c in &mut cases {
        c.shed_factor = factors
            .random_range(SHED_FACTOR.0.ln()..=SHED_FACTOR.1.ln())
            .exp();
    }
    // Two threads: the machine's cores are shared.
    let results: Vec<(u64, Result<Report, String>)> = std::thread::scope(|s| {
        let halves: Vec<_> = [0u64, 1]
            .into_iter()
            .map(|half| {
                let cases = &cases;
                s.spawn(move || {
                    (0..CASES)
                        .filter(|i| i % 2 == half)
                        .map(|i| (i, run(i, &cases[i as usize])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        halves
            .into_iter()
            .flat_map(|h| h.join().expect("a simulation thread panicked"))
            .collect()
    });
    let mut failures = Vec::new();
    for (i, r) in results {
        let case = &cases[i as usize];
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("case {i}: {e}"));
                continue;
            }
        };
        eprintln!(
            "case {i}: {} agents, cap {}, shed {:?} × {:.1}: {} live answers, {} abandoned ({:.2} %), occupancy {:.1} %",
            r.agents,
            case.cap,
            case.shed_after,
            case.shed_factor,
            r.human_answers,
            r.abandoned,
            100.0 * r.abandon_rate,
            100.0 * r.occupancy
        );
        if r.human_answers < 300 {
            failures.push(format!(
                "case {i}: only {} live answers, too few to judge:\n{}",
                r.human_answers, case.text
            ));
        } else if r.abandon_rate > case.cap {
            failures.push(format!(
                "case {i}: abandon rate {:.4} over the cap {} ({} of {}), shed_after {:?}, shed_factor {:.1}:\n{}",
                r.abandon_rate,
                case.cap,
                r.abandoned,
                r.human_answers,
                case.shed_after,
                case.shed_factor,
                case.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
