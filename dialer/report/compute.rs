//! The report's arithmetic: a pure function of the rows (see the module docs for definitions).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;

use super::{
    AbandonWindowReport, AgentReport, AgentTime, Bucket, Params, Policy, Report, Series, rfc3339,
};
use crate::campaign::AbandonWindow;
use crate::store::ReportRows;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// The series has at most this many buckets (one more when the edges are unaligned).
const MAX_BUCKETS: i64 = 48;
const BUCKET_SIZES_MS: [i64; 12] = [
    MINUTE_MS,
    5 * MINUTE_MS,
    10 * MINUTE_MS,
    15 * MINUTE_MS,
    30 * MINUTE_MS,
    HOUR_MS,
    2 * HOUR_MS,
    3 * HOUR_MS,
    6 * HOUR_MS,
    12 * HOUR_MS,
    DAY_MS,
    7 * DAY_MS,
];

/// The campaign's regulatory abandon window ending at `end_ms`: `[start, end_ms)`.
pub fn window_range(policy: &Policy, end_ms: i64) -> (i64, i64) {
    match policy.window {
        AbandonWindow::Rolling30Days => (end_ms - 30 * DAY_MS, end_ms),
        AbandonWindow::CalendarDay => {
            let start = Timestamp::from_millisecond(end_ms - 1)
                .ok()
                .map(|t| t.to_zoned_datetime(policy.timezone.clone()))
                .and_then(|z| z.start_of_day().ok())
                .map(|z| z.timestamp().as_millisecond())
                .unwrap_or(end_ms - DAY_MS);
            (start, end_ms)
        }
    }
}

/// The series' bucket size (ms): the given one (up to 1000 buckets), else the smallest of
/// 1 min … 1 week that gives at most 48 buckets.
pub(crate) fn bucket_size(p: &Params) -> i64 {
    let span = (p.until_ms - p.since_ms).max(1);
    let auto = BUCKET_SIZES_MS
        .iter()
        .copied()
        .find(|w| (span + w - 1) / w <= MAX_BUCKETS)
        .unwrap_or((span + MAX_BUCKETS - 1) / MAX_BUCKETS);
    p.bucket_ms
        .filter(|w| *w > 0)
        .map(|w| w.max((span + 999) / 1000))
        .unwrap_or(auto)
}

/// The earliest abandon window start the report needs (its buckets' windows and the one ending
/// at `until`): live answers and AMD machines are read from there.
pub fn windows_since(p: &Params) -> i64 {
    buckets(p)
        .iter()
        .map(|&(_, end)| window_range(&p.policy, end).0)
        .chain([window_range(&p.policy, p.until_ms).0, p.since_ms])
        .min()
        .unwrap_or(p.since_ms)
}

/// The series' buckets `[start, end)` covering `[since, until)`, aligned to multiples of the
/// bucket size since the epoch (the first and last clipped to the period).
pub(crate) fn buckets(p: &Params) -> Vec<(i64, i64)> {
    let (since, until) = (p.since_ms, p.until_ms);
    if until <= since {
        return Vec::new();
    }
    let w = bucket_size(p);
    let mut out = Vec::new();
    let mut start = since.div_euclid(w) * w;
    while start < until {
        out.push((start.max(since), (start + w).min(until)));
        start += w;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ready,
    Preview,
    OnCall,
    WrapUp,
    Paused,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "ready" => Kind::Ready,
            "preview" => Kind::Preview,
            "on_call" => Kind::OnCall,
            "wrap_up" => Kind::WrapUp,
            "paused" => Kind::Paused,
            _ => return None,
        })
    }

    /// Previewing a lead (and dialing it), talking, wrapping up.
    fn is_work(self) -> bool {
        matches!(self, Kind::Preview | Kind::OnCall | Kind::WrapUp)
    }
}

/// An interval clipped to the period, with the weight it counts for the campaign.
struct Clip<'a> {
    agent: &'a str,
    kind: Kind,
    start: i64,
    end: i64,
    campaign: Option<i64>,
    attempt: Option<i64>,
    weight: f64,
}

#[derive(Default)]
struct Acc {
    ready: f64,
    preview: f64,
    on_call: f64,
    wrap: f64,
    paused: f64,
    calls: BTreeSet<i64>,
    anonymous_calls: u64,
    successes: u64,
}

impl Acc {
    fn add(&mut self, kind: Kind, ms: f64) {
        match kind {
            Kind::Ready => self.ready += ms,
            Kind::Preview => self.preview += ms,
            Kind::OnCall => self.on_call += ms,
            Kind::WrapUp => self.wrap += ms,
            Kind::Paused => self.paused += ms,
        }
    }

    /// Preview + talk + wrap-up.
    fn work(&self) -> f64 {
        self.preview + self.on_call + self.wrap
    }

    fn calls(&self) -> u64 {
        self.calls.len() as u64 + self.anonymous_calls
    }
}

/// Sorted event times with a prefix count of the flagged ones, for range counts.
struct Counter {
    times: Vec<i64>,
    flagged: Vec<u64>,
}

impl Counter {
    fn new(mut rows: Vec<(i64, bool)>) -> Counter {
        rows.sort_unstable();
        let mut flagged = Vec::with_capacity(rows.len() + 1);
        flagged.push(0);
        let mut n = 0;
        for (_, f) in &rows {
            n += u64::from(*f);
            flagged.push(n);
        }
        Counter {
            times: rows.into_iter().map(|(t, _)| t).collect(),
            flagged,
        }
    }

    /// (events, flagged events) in `[from, to)`.
    fn count(&self, from: i64, to: i64) -> (u64, u64) {
        let lo = self.times.partition_point(|t| *t < from);
        let hi = self.times.partition_point(|t| *t < to).max(lo);
        ((hi - lo) as u64, self.flagged[hi] - self.flagged[lo])
    }
}

/// The stored outcome of a call the pacer hung up while it rang.
const SHED: &str = "shed";

/// Compute the report of campaign `campaign_id` from its rows.
pub fn compute(p: &Params, campaign_id: i64, d: &ReportRows) -> Report {
    let (since, until) = (p.since_ms, p.until_ms);
    let open_end = p.now_ms.clamp(since, until.max(since));

    // Agent time: clip, then find each agent's share of unattributed time.
    let mut clips: Vec<Clip> = d
        .intervals
        .iter()
        .filter_map(|r| {
            let kind = Kind::parse(&r.state)?;
            let start = r.started_at_ms.max(since);
            let end = r.ended_at_ms.unwrap_or(open_end).min(until);
            (end > start).then_some(Clip {
                agent: &r.agent_id,
                kind,
                start,
                end,
                campaign: r.campaign_id,
                attempt: r.attempt_id,
                weight: 0.0,
            })
        })
        .collect();
    let mut work: HashMap<&str, (i64, i64)> = HashMap::new();
    for c in clips.iter().filter(|c| c.kind.is_work()) {
        if let Some(camp) = c.campaign {
            let w = work.entry(c.agent).or_default();
            w.1 += c.end - c.start;
            if camp == campaign_id {
                w.0 += c.end - c.start;
            }
        }
    }
    let share = |agent: &str| -> f64 {
        match work.get(agent) {
            Some(&(mine, all)) if all > 0 => mine as f64 / all as f64,
            _ => {
                let in_roster = p.roster.as_ref().is_some_and(|r| r.contains(agent));
                if in_roster { 1.0 } else { 0.0 }
            }
        }
    };
    for c in &mut clips {
        c.weight = match c.campaign {
            Some(x) if x == campaign_id => 1.0,
            Some(_) => 0.0,
            None => share(c.agent),
        };
    }
    clips.retain(|c| c.weight > 0.0);

    let mut agents: BTreeMap<String, Acc> = BTreeMap::new();
    for c in &clips {
        let acc = agents.entry(c.agent.to_string()).or_default();
        acc.add(c.kind, c.weight * (c.end - c.start) as f64);
        if c.kind == Kind::OnCall && c.campaign == Some(campaign_id) {
            match c.attempt {
                Some(a) => {
                    acc.calls.insert(a);
                }
                None => acc.anonymous_calls += 1,
            }
        }
    }

    // Dispositions.
    let mut dispositions: BTreeMap<String, u64> = BTreeMap::new();
    let mut successes = 0;
    for r in &d.dispositions {
        *dispositions.entry(r.code.clone()).or_default() += 1;
        if p.policy.success.contains(&r.code) {
            successes += 1;
            if let Some(a) = &r.agent_id {
                agents.entry(a.clone()).or_default().successes += 1;
            }
        }
    }

    // Attempts.
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let (mut contacts, mut abandoned) = (0u64, 0u64);
    for a in &d.attempts {
        let o = a.outcome.as_deref().unwrap_or("in_progress");
        *outcomes.entry(o.to_string()).or_default() += 1;
        contacts += u64::from(a.live);
        abandoned += u64::from(a.live && a.abandoned);
    }
    let dials = d.attempts.len() as u64;

    // The regulatory window, with the UK estimate of people among AMD machines.
    let live = Counter::new(d.live.iter().map(|l| (l.dial_at_ms, l.abandoned)).collect());
    let machines = Counter::new(d.amd_machines.iter().map(|t| (*t, false)).collect());
    let fp = p.policy.amd_false_positive_rate;
    let window_rate = |from: i64, to: i64| {
        let (l, a) = live.count(from, to);
        let (m, _) = machines.count(from, to);
        let estimate = m as f64 * fp;
        (
            l,
            a,
            m,
            estimate,
            ratio(a as f64 + estimate, l as f64 + estimate),
        )
    };
    let (ws, we) = window_range(&p.policy, until);
    let (w_live, w_ab, w_machines, w_estimate, w_rate) = window_rate(ws, we);
    let kind = match p.policy.window {
        AbandonWindow::Rolling30Days => "rolling_30_days",
        AbandonWindow::CalendarDay => "calendar_day",
    };
    let abandon_window = AbandonWindowReport {
        kind: kind.to_string(),
        since: rfc3339(ws),
        until: rfc3339(we),
        since_ms: ws,
        until_ms: we,
        live: w_live,
        abandoned: w_ab,
        amd_machines: w_machines,
        amd_false_positive_rate: fp,
        estimated_people_among_machines: round6(w_estimate),
        rate: w_rate,
        cap: p.policy.cap,
        over_cap: w_rate.is_some_and(|r| r > p.policy.cap),
    };

    // Totals over agents.
    let mut t = Acc::default();
    let mut agent_rows = Vec::new();
    let mut handled = 0;
    for (id, a) in &agents {
        t.ready += a.ready;
        t.preview += a.preview;
        t.on_call += a.on_call;
        t.wrap += a.wrap;
        t.paused += a.paused;
        handled += a.calls();
        let logged = a.ready + a.work() + a.paused;
        if logged <= 0.0 && a.calls() == 0 && a.successes == 0 {
            continue;
        }
        agent_rows.push(AgentReport {
            agent: id.clone(),
            calls: a.calls(),
            talk_s: secs(a.on_call),
            wrap_s: secs(a.wrap),
            preview_s: secs(a.preview),
            ready_s: secs(a.ready),
            paused_s: secs(a.paused),
            logged_in_s: secs(logged),
            occupancy: ratio(a.work(), a.ready + a.work()),
            utilization: ratio(a.work(), logged),
            average_handle_time_s: ratio(a.on_call + a.wrap, a.calls() as f64).map(secs),
            successes: a.successes,
        });
    }
    let logged = t.ready + t.work() + t.paused;
    let agent_hours = logged / HOUR_MS as f64;

    // The series.
    let bs = buckets(p);
    let attempts = Counter::new(
        d.attempts
            .iter()
            .map(|a| (a.dial_at_ms, a.live && a.abandoned))
            .collect(),
    );
    let shed_attempts = Counter::new(
        d.attempts
            .iter()
            .map(|a| (a.dial_at_ms, a.outcome.as_deref() == Some(SHED)))
            .collect(),
    );
    let live_in_period = Counter::new(
        d.attempts
            .iter()
            .filter(|a| a.live)
            .map(|a| (a.dial_at_ms, a.abandoned))
            .collect(),
    );
    let starts: Vec<i64> = bs.iter().map(|b| b.0).collect();
    let mut busy = vec![0.0f64; bs.len()];
    let mut staffed = vec![0.0f64; bs.len()];
    for c in clips.iter().filter(|c| c.kind != Kind::Paused) {
        let first = starts.partition_point(|s| *s <= c.start).saturating_sub(1);
        for (i, &(bs_, be)) in bs.iter().enumerate().skip(first) {
            if bs_ >= c.end {
                break;
            }
            let overlap = (c.end.min(be) - c.start.max(bs_)).max(0) as f64 * c.weight;
            staffed[i] += overlap;
            if c.kind.is_work() {
                busy[i] += overlap;
            }
        }
    }
    let buckets: Vec<Bucket> = bs
        .iter()
        .enumerate()
        .map(|(i, &(s, e))| {
            let (dials, _) = attempts.count(s, e);
            let (_, shed) = shed_attempts.count(s, e);
            let (live_n, ab) = live_in_period.count(s, e);
            let (ws, we) = window_range(&p.policy, e);
            let (.., window_abandon_rate) = window_rate(ws, we);
            Bucket {
                start: rfc3339(s),
                start_ms: s,
                end_ms: e,
                dials,
                live: live_n,
                abandoned: ab,
                abandon_rate: ratio(ab as f64, live_n as f64),
                window_abandon_rate,
                occupancy: ratio(busy[i], staffed[i]),
                shed_rate: ratio(shed as f64, dials as f64),
                staffed_agents: round6(staffed[i] / (e - s) as f64),
            }
        })
        .collect();
    let bucket_s = bucket_size(p) / 1000;

    Report {
        campaign: p.campaign.clone(),
        campaign_id,
        since: rfc3339(since),
        until: rfc3339(until),
        since_ms: since,
        until_ms: until,
        policy_source: p.policy.source.clone(),
        dials,
        contacts,
        contact_rate: ratio(contacts as f64, dials as f64),
        abandoned,
        abandon_rate: ratio(abandoned as f64, contacts as f64),
        abandon_window,
        shed_rate: ratio(
            outcomes.get(SHED).copied().unwrap_or(0) as f64,
            dials as f64,
        ),
        outcomes,
        agent_time: AgentTime {
            ready_s: secs(t.ready),
            preview_s: secs(t.preview),
            on_call_s: secs(t.on_call),
            wrap_up_s: secs(t.wrap),
            paused_s: secs(t.paused),
            logged_in_s: secs(logged),
        },
        occupancy: ratio(t.work(), t.ready + t.work()),
        utilization: ratio(t.work(), logged),
        handled_calls: handled,
        average_handle_time_s: ratio(t.on_call + t.wrap, handled as f64).map(secs),
        talk_minutes_per_agent_hour: ratio(t.on_call / MINUTE_MS as f64, agent_hours),
        dispositions,
        survey_answers: {
            let mut m: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            for a in &d.survey {
                *m.entry(a.question.clone())
                    .or_default()
                    .entry(a.answer.clone())
                    .or_default() += 1;
            }
            m
        },
        success_codes: p.policy.success.iter().cloned().collect(),
        successes,
        successes_per_agent_hour: ratio(successes as f64, agent_hours),
        agents: agent_rows,
        series: Series { bucket_s, buckets },
    }
}

/// `num / den` rounded to 6 decimals, `None` when `den` is 0.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| round6(num / den))
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Milliseconds as seconds, to the millisecond.
fn secs(ms: f64) -> f64 {
    (ms).round() / 1000.0
}
