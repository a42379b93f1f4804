//! CPU time of simulated shifts (`cargo bench --bench pacing`): a 60-agent 8-hour shift per
//! pacer (goal: under 10 s of CPU for predictive). Prints one JSON object per run.

use std::time::Instant;

use dialer::pacing::{Mode, Pacer};
use dialer::sim::{Scenario, simulate};

const SHIFT: &str = r#"
[scenario]
name = "bench-60x8h"
agents = 60
duration_s = 28800
[calls]
human_rate = 0.25
machine_rate = 0.15
busy_rate = 0.05
ring_s = { dist = "lognormal", mean = 12, sd = 6 }
no_answer_s = 25
talk_s = { dist = "lognormal", mean = 160, sd = 90 }
wrap_s = { dist = "lognormal", mean = 20, sd = 10 }
amd_human_s = 1.5
amd_machine_s = 3.2
max_abandon = 0.03
"#;

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

fn main() {
    let sc = match Scenario::parse(SHIFT, "bench", "bench-60x8h") {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    for mode in [Mode::Predictive, Mode::Vicidial, Mode::Progressive] {
        let cpu0 = cpu_seconds();
        let wall0 = Instant::now();
        let r = simulate(&sc, Pacer::new(mode), 1, wall0);
        let wall = wall0.elapsed().as_secs_f64();
        let cpu = match (cpu0, cpu_seconds()) {
            (Some(a), Some(b)) => format!("{:.2}", b - a),
            _ => "null".into(),
        };
        println!(
            "{{\"bench\":\"{}\",\"pacer\":\"{}\",\"agents\":{},\"duration_s\":{},\"cpu_s\":{cpu},\"wall_s\":{wall:.2},\"placed\":{},\"occupancy\":{:.4},\"abandon_rate\":{:.4}}}",
            r.scenario, r.pacer, r.agents, r.duration_s, r.placed, r.occupancy, r.abandon_rate
        );
    }
}
