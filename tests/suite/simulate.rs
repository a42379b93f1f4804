//! The pacing claim of docs/experiments/pacing.md ("The pacers compared"), as a test: on every example
//! scenario of `campaigns/scenarios/`, the predictive pacer keeps each seeded shift under the
//! scenario's abandon cap and keeps the agents busier than progressive dialing does.
//!
//! The simulator is deterministic (same scenario, pacer and seed, same numbers), so this is a
//! fixed set of shifts, not a sample that may fail by chance: seeds 1–3 per scenario, with the
//! pacers `dialer simulate --compare` runs (predictive with its default shedding after 15 s),
//! and again with shedding off (`dialing.shed_after = "off"`: the cap is a legal line whatever
//! the settings), where the small teams, whose window has about a hundred live answers, run
//! seeds 1–10: on them one abandon is a whole point.
//! To stay quick in a debug build, shifts are cut to about 12 agent-hours (at least 15 minutes,
//! and 15 minutes past a change of the answer rate): small-cold runs 2 hours, mid-warm 24
//! minutes, collapse 45, large-hot and bench-60x8h 15. The figures in docs/experiments/pacing.md
//! are seeds 1–10 over whole shifts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use dialer::pacing::{Mode, Pacer, Predictive, PredictiveConfig};
use dialer::sim::{Report, Scenario, simulate};

const SEEDS: u64 = 3;
/// Seeds of a team of 10 agents or fewer with shedding off (their window is an hour or so of
/// about a hundred live answers; seed 9 of small-colder is the run that ended at 3.23 %
/// before the pacer kept an abandon in hand).
const SMALL_TEAM_SEEDS: u64 = 10;

fn scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/scenarios");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

/// The pacer `dialer simulate` builds for `mode` (its `--shed-after` default for predictive,
/// or `--shed-after off` when `shedding` is false).
fn pacer(mode: Mode, shedding: bool) -> Pacer {
    match mode {
        Mode::Predictive if shedding => {
            Pacer::Predictive(Predictive::new(PredictiveConfig::default()))
        }
        Mode::Predictive => Pacer::Predictive(Predictive::new(PredictiveConfig {
            shed_after: None,
            ..PredictiveConfig::default()
        })),
        m => Pacer::new(m),
    }
}

/// The shift length used here: see the module's note.
fn shortened(mut sc: Scenario) -> Scenario {
    let budget = 12.0 * 3600.0 / f64::from(sc.team.agents.max(1));
    let floor = sc.calls.change_at_s.map_or(900.0, |c| c + 900.0).max(900.0);
    sc.team.duration_s = sc.team.duration_s.min(budget.max(floor));
    sc
}

/// Run the scenario of `file` and check it; the figures go to stderr.
fn check(file: &Path, shedding: bool) {
    let sc = shortened(Scenario::load(file).unwrap_or_else(|e| panic!("{e}")));
    let seeds = if shedding || sc.team.agents > 10 {
        SEEDS
    } else {
        SMALL_TEAM_SEEDS
    };
    let predictive = runs(&sc, Mode::Predictive, shedding, seeds);
    let progressive = runs(&sc, Mode::Progressive, shedding, seeds);
    for r in &predictive {
        eprintln!(
            "{} ({:.0} min, shedding {}) seed {}: predictive occupancy {:.3}, abandon {:.4} ({} of {} people)",
            sc.name,
            sc.team.duration_s / 60.0,
            if shedding { "on" } else { "off" },
            r.seed,
            r.occupancy,
            r.abandon_rate,
            r.abandoned,
            r.human_answers
        );
        assert!(
            shedding || r.shed == 0,
            "{}: shed with shedding off",
            sc.name
        );
        // Enough people that the rate means something (at a 3 % cap, 3 abandons per 100):
        // small-colder's hour, the small window of issue 18, has about a hundred; with shedding
        // off, a small team dials progressively until the window holds an abandon in hand, and
        // again once it has spent it, and brings fewer (seeds 5 and 9: 60 and 61).
        let least = if shedding { 90 } else { 60 };
        assert!(r.human_answers >= least, "{}: {r:?}", sc.name);
        assert!(
            r.abandon_rate <= sc.calls.max_abandon,
            "{} seed {} (shedding {shedding}): abandon rate {:.4} over the cap {}",
            sc.name,
            r.seed,
            r.abandon_rate,
            sc.calls.max_abandon
        );
    }
    for r in &progressive {
        assert_eq!(
            r.abandoned, 0,
            "{} seed {}: progressive abandoned",
            sc.name, r.seed
        );
    }
    let (pred, prog) = (mean_occupancy(&predictive), mean_occupancy(&progressive));
    eprintln!(
        "{}: occupancy predictive {pred:.3}, progressive {prog:.3}",
        sc.name
    );
    // Beats it on every seed, and clearly on average.
    for (a, b) in predictive.iter().zip(&progressive) {
        assert!(
            a.occupancy > b.occupancy,
            "{} seed {}: predictive {:.3} against progressive {:.3}",
            sc.name,
            a.seed,
            a.occupancy,
            b.occupancy
        );
    }
    assert!(
        pred >= prog + 0.05,
        "{}: predictive {pred:.3} is not clearly above progressive {prog:.3}",
        sc.name
    );
}

fn runs(sc: &Scenario, mode: Mode, shedding: bool, seeds: u64) -> Vec<Report> {
    let base = Instant::now();
    (1..=seeds)
        .map(|seed| simulate(sc, pacer(mode, shedding), seed, base))
        .collect()
}

fn mean_occupancy(rs: &[Report]) -> f64 {
    rs.iter().map(|r| r.occupancy).sum::<f64>() / rs.len() as f64
}

#[test]
fn predictive_stays_under_the_cap_and_beats_progressive_on_every_example_scenario() {
    every_scenario(true);
}

#[test]
fn with_shedding_off_predictive_stays_under_the_cap_on_every_example_scenario() {
    every_scenario(false);
}

fn every_scenario(shedding: bool) {
    let files = scenarios();
    assert!(files.len() >= 4, "{files:?}");
    // One thread per scenario: the shifts are independent and the machine has cores.
    std::thread::scope(|s| {
        let running: Vec<_> = files
            .iter()
            .map(|f| (f, s.spawn(move || check(f, shedding))))
            .collect();
        let failed: Vec<String> = running
            .into_iter()
            .filter_map(|(f, h)| h.join().is_err().then(|| f.display().to_string()))
            .collect();
        assert!(failed.is_empty(), "failed (see above): {failed:?}");
    });
}
