//! `dialer simulate`: a campaign shift in virtual time, with a chosen pacer.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

use super::Global;
use crate::pacing::{LiveRate, MIN_SHED_RING, Mode, Pacer, Predictive, PredictiveConfig};
use crate::sim::{
    Clairvoyance, INFORMED, Report, Scenario, simulate, simulate_clairvoyant, simulate_informed,
    simulate_projecting,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files (TOML; see docs/reference/files.md).
    #[arg(required = true, value_name = "SCENARIO.toml")]
    pub scenarios: Vec<PathBuf>,
    /// predictive, progressive, ratio:R (R lines per ready agent), vicidial; or, as bounds
    /// (no product pacer), predictive's rule told more than a pacer can know: informed (the
    /// carrier's and the team's true figures), clairvoyant:agents (and when each agent's talk
    /// and wrap-up end), clairvoyant (and each call's fate once dialed).
    #[arg(long, default_value = "predictive", value_parser = parse_pacer)]
    pub pacer: SimPacer,
    /// Seed of the simulated carrier and agents; the same seed gives the same numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Compare pacers over several seeds per scenario: occupancy and worst abandon rate.
    #[arg(long)]
    pub compare: bool,
    /// With --compare: seeds 1..=N.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub seeds: u64,
    /// With --compare: the pacers to compare, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "progressive,ratio:2,vicidial,predictive",
        value_parser = parse_pacer
    )]
    pub pacers: Vec<SimPacer>,
    /// Predictive: hang up a call still ringing after this many seconds (at least 15) when
    /// the person it may yet bring is too risky; `off`: never.
    #[arg(long, default_value = "15", value_name = "SECONDS|off", value_parser = parse_shed_after)]
    pub shed_after: ShedAfter,
    /// Predictive: how much riskier than a new dial a ringing call must be to be shed (higher:
    /// fewer calls shed).
    #[arg(long, default_value_t = PredictiveConfig::default().shed_factor, value_name = "FACTOR", value_parser = parse_factor)]
    pub shed_factor: f64,
    /// Predictive with shedding on: the share of the live answers still to come (projected as
    /// the daemon does: the last 15 minutes' rate over the next 30, and nothing before
    /// --watch) that the abandon budget is planned over (0: judged by the answers in hand only).
    #[arg(long, default_value_t = PredictiveConfig::default().spread, value_name = "SHARE", value_parser = parse_share)]
    pub spread: f64,
    /// Predictive with shedding off: the same share.
    #[arg(long, default_value_t = PredictiveConfig::default().unshed_more, value_name = "SHARE", value_parser = parse_share)]
    pub unshed_more: f64,
    /// Predictive: start projecting the live answers to come once the campaign has been paced
    /// this many minutes (the daemon's: 5).
    #[arg(long, default_value_t = LiveRate::WATCH.as_secs_f64() / 60.0, value_name = "MINUTES", value_parser = parse_minutes)]
    pub watch: f64,
    /// Predictive: the abandons the window must still be able to take, and stay under the cap,
    /// before the pacer dials ahead of agents (from the window's first dial).
    #[arg(long, default_value_t = PredictiveConfig::default().in_hand, value_name = "ABANDONS", value_parser = parse_abandons)]
    pub in_hand: f64,
    /// Predictive and clairvoyant: the window's abandon rate the threshold steers to, as a
    /// share of the cap.
    #[arg(long, default_value_t = PredictiveConfig::default().aim, value_name = "SHARE", value_parser = parse_share)]
    pub aim: f64,
}

/// A pacer the simulator runs: one of the product's, or a bound told more than a pacer can
/// know.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SimPacer {
    Mode(Mode),
    Informed,
    Clairvoyant(Clairvoyance),
}

impl std::fmt::Display for SimPacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimPacer::Mode(m) => m.fmt(f),
            SimPacer::Informed => f.write_str(INFORMED),
            SimPacer::Clairvoyant(c) => f.write_str(c.name()),
        }
    }
}

/// `--shed-factor`: any factor ≥ 1, beyond the campaign key's range too, so the simulator can
/// trace the whole curve.
fn parse_factor(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 1.0 => Ok(v),
        _ => Err(format!("{s:?}: expected a number ≥ 1")),
    }
}

fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a share from 0 to 1")),
    }
}

fn parse_minutes(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=600.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected minutes from 0 to 600")),
    }
}

fn parse_abandons(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && (0.0..=10.0).contains(&v) => Ok(v),
        _ => Err(format!("{s:?}: expected a number of abandons from 0 to 10")),
    }
}

/// `--shed-after`: `None` is off.
#[derive(Debug, Clone, Copy)]
pub struct ShedAfter(pub Option<Duration>);

fn parse_shed_after(s: &str) -> Result<ShedAfter, String> {
    if s == "off" {
        return Ok(ShedAfter(None));
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= MIN_SHED_RING.as_secs_f64() && v <= 3600.0 => {
            Ok(ShedAfter(Some(Duration::from_secs_f64(v))))
        }
        _ => Err(format!(
            "{s:?}: expected seconds from {} to 3600, or off",
            MIN_SHED_RING.as_secs()
        )),
    }
}

/// Predictive's settings from the command line.
fn predictive(a: &Args) -> Predictive {
    Predictive::new(PredictiveConfig {
        shed_after: a.shed_after.0,
        shed_factor: a.shed_factor,
        spread: a.spread,
        unshed_more: a.unshed_more,
        in_hand: a.in_hand,
        aim: a.aim,
        ..PredictiveConfig::default()
    })
}

/// One shift of `sc` paced by `p`, with the shedding and budget settings of the command line
/// for predictive and clairvoyant.
fn shift(sc: &Scenario, p: SimPacer, a: &Args, seed: u64, base: Instant) -> Report {
    match p {
        SimPacer::Mode(Mode::Predictive) => simulate_projecting(
            sc,
            Pacer::Predictive(predictive(a)),
            LiveRate::new(Duration::from_secs_f64(a.watch * 60.0)),
            seed,
            base,
        ),
        SimPacer::Mode(m) => simulate(sc, Pacer::new(m), seed, base),
        SimPacer::Informed => simulate_informed(sc, predictive(a), seed, base),
        SimPacer::Clairvoyant(level) => {
            let mut p = predictive(a);
            // It knows the carrier: no careful start. And it knows the moments exactly but
            // the rule reads them on a 2 s grid, where a person decided just after a moment
            // counts at the next one: with no grace an agent free by that moment is always in
            // time (with predictive's 1.5 s, the fast carrier of priors-pessimistic went over
            // the cap in every run).
            p.cfg.ramp_answers = 0.0;
            p.cfg.grace = Duration::ZERO;
            simulate_clairvoyant(sc, p, level, seed, base)
        }
    }
}

fn parse_pacer(s: &str) -> Result<SimPacer, String> {
    for level in [Clairvoyance::Agents, Clairvoyance::Full] {
        if s == level.name() {
            return Ok(SimPacer::Clairvoyant(level));
        }
    }
    if s == INFORMED {
        return Ok(SimPacer::Informed);
    }
    match s.parse::<Mode>() {
        Ok(Mode::Preview | Mode::Agentless) => Err(format!(
            "the simulator runs predictive, progressive, ratio:R, vicidial and the bounds \
             informed, clairvoyant:agents and clairvoyant, not {s}"
        )),
        Ok(m) => Ok(SimPacer::Mode(m)),
        Err(e) => Err(format!(
            "{e}; the simulator's bounds: informed, clairvoyant:agents, clairvoyant"
        )),
    }
}

/// Summary of one pacer on one scenario over several seeds.
#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub pacer: String,
    pub runs: usize,
    pub occupancy_mean: f64,
    pub occupancy_min: f64,
    pub abandon_rate_mean: f64,
    pub abandon_rate_worst: f64,
    pub runs_over_cap: usize,
    /// Runs whose first 10 minutes ended over the cap, and the worst such rate.
    pub early_runs_over_cap: usize,
    pub early_abandon_rate_worst: f64,
    /// Calls shed (hung up while ringing) over calls placed, mean of the runs.
    pub shed_share_mean: f64,
    pub talk_min_per_agent_hour_mean: f64,
    pub agent_wait_mean_s: f64,
    pub cpu_s_per_run: f64,
}

pub fn run(_g: &Global, a: Args) -> anyhow::Result<ExitCode> {
    let scenarios = a
        .scenarios
        .iter()
        .map(|p| Scenario::load(p).with_context(|| "cannot use the scenario"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The simulator's virtual clock starts at this instant; results do not depend on it.
    let base = Instant::now();
    if !a.compare {
        let reports: Vec<Report> = scenarios
            .iter()
            .map(|sc| shift(sc, a.pacer, &a, a.seed, base))
            .collect();
        if a.json {
            if let [one] = reports.as_slice() {
                println!("{}", serde_json::to_string_pretty(one)?);
            } else {
                println!("{}", serde_json::to_string_pretty(&reports)?);
            }
        } else {
            for r in &reports {
                print_report(r);
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    anyhow::ensure!(a.seeds >= 1, "--seeds must be at least 1");
    let mut rows = Vec::new();
    for sc in &scenarios {
        for &mode in &a.pacers {
            let started = Instant::now();
            let reports: Vec<Report> = (1..=a.seeds)
                .map(|seed| shift(sc, mode, &a, seed, base))
                .collect();
            let cpu = started.elapsed().as_secs_f64() / reports.len() as f64;
            let row = summarize(sc, mode, &reports, cpu);
            if !a.json {
                print_row(&row, rows.is_empty());
            }
            rows.push(row);
        }
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn summarize(sc: &Scenario, mode: SimPacer, rs: &[Report], cpu_s_per_run: f64) -> Row {
    let n = rs.len() as f64;
    let mean = |f: fn(&Report) -> f64| rs.iter().map(f).sum::<f64>() / n;
    Row {
        scenario: sc.name.clone(),
        pacer: mode.to_string(),
        runs: rs.len(),
        occupancy_mean: mean(|r| r.occupancy),
        occupancy_min: rs.iter().map(|r| r.occupancy).fold(f64::INFINITY, f64::min),
        abandon_rate_mean: mean(|r| r.abandon_rate),
        abandon_rate_worst: rs.iter().map(|r| r.abandon_rate).fold(0.0, f64::max),
        runs_over_cap: rs
            .iter()
            .filter(|r| r.abandon_rate > sc.calls.max_abandon)
            .count(),
        early_runs_over_cap: rs
            .iter()
            .filter(|r| r.early_abandon_rate() > sc.calls.max_abandon)
            .count(),
        early_abandon_rate_worst: rs
            .iter()
            .map(Report::early_abandon_rate)
            .fold(0.0, f64::max),
        shed_share_mean: mean(Report::shed_share),
        talk_min_per_agent_hour_mean: mean(|r| r.talk_min_per_agent_hour),
        agent_wait_mean_s: mean(|r| r.agent_wait_mean_s),
        cpu_s_per_run,
    }
}

fn print_row(r: &Row, header: bool) {
    if header {
        println!(
            "{:<22} {:<18} {:>5} {:>9} {:>8} {:>7} {:>9} {:>9} {:>5} {:>9} {:>9} {:>8}",
            "scenario",
            "pacer",
            "runs",
            "occupancy",
            "occ min",
            "shed %",
            "abandon",
            "ab worst",
            "over",
            "10min over",
            "talk m/h",
            "wait s"
        );
    }
    println!(
        "{:<22} {:<18} {:>5} {:>8.1}% {:>7.1}% {:>6.1}% {:>8.2}% {:>8.2}% {:>5} {:>9} {:>9.1} {:>8.1}",
        r.scenario,
        r.pacer,
        r.runs,
        100.0 * r.occupancy_mean,
        100.0 * r.occupancy_min,
        100.0 * r.shed_share_mean,
        100.0 * r.abandon_rate_mean,
        100.0 * r.abandon_rate_worst,
        r.runs_over_cap,
        r.early_runs_over_cap,
        r.talk_min_per_agent_hour_mean,
        r.agent_wait_mean_s
    );
}

fn print_report(r: &Report) {
    println!(
        "scenario {} · pacer {} · seed {}",
        r.scenario, r.pacer, r.seed
    );
    println!(
        "  {} agents for {:.0} s: occupancy {:.1} % (shed {:.1} % of dials), {:.1} talk min per agent-hour",
        r.agents,
        r.duration_s,
        100.0 * r.occupancy,
        100.0 * r.shed_share(),
        r.talk_min_per_agent_hour
    );
    println!(
        "  placed {} (shed while ringing {}), people {}, machines {}, connected {}, abandoned {} ({:.2} % of people)",
        r.placed,
        r.shed,
        r.human_answers,
        r.machine_answers,
        r.connected,
        r.abandoned,
        100.0 * r.abandon_rate
    );
    println!(
        "  first 10 minutes: {} people, {} abandoned ({:.2} %)",
        r.early_human_answers,
        r.early_abandoned,
        100.0 * r.early_abandon_rate()
    );
    println!(
        "  agent wait: mean {:.1} s, p95 {:.1} s; at most {} calls in flight",
        r.agent_wait_mean_s, r.agent_wait_p95_s, r.max_in_flight
    );
}
