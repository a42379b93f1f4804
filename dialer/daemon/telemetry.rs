//! Prometheus metrics: the recorder, the `dialer_` families and their help, and the gauges set on
//! scrape.
//!
//! The recorder is installed once per process, before anything records ([`install`]); `/metrics`
//! renders it. Counters are counted where events happen: [`Observer`] watches the switchboard's
//! inputs and outputs in the daemon's loop (dials, outcomes, abandons, dispositions, SIP final
//! responses, trunk health, calls per second, agent state time); the store writer, the SIP
//! driver and the daemon's loop (AMD results, bridges) count their own. Gauges that describe the present (campaigns, agents by state, lines per
//! agent, occupancy) are set from the switchboard's answers when `/metrics` is scraped
//! ([`refresh`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::config::DaemonConfig;
use crate::agents::{AgentStatus, State};
use crate::campaign::Campaign;
use crate::domain::{AgentId, CallKey, CampaignControl, CampaignId, Outcome};
use crate::switchboard::{CampaignStatus, Input, Output, Record};

/// The Prometheus recorder could not be installed (another recorder is in place).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot install the Prometheus metrics recorder: {0}")]
pub struct TelemetryError(String);

static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Histogram buckets (seconds) for every `*_seconds` family.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Install the process-wide recorder (once; later calls return the same handle). Call it before
/// anything records: counts made earlier are lost.
pub fn install() -> Result<PrometheusHandle, TelemetryError> {
    let mut slot = HANDLE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e| TelemetryError(e.to_string()))?
        .install_recorder()
        .map_err(|e| TelemetryError(e.to_string()))?;
    describe();
    *slot = Some(handle.clone());
    Ok(handle)
}

/// What a `dialer_` family is in Prometheus terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Counter,
    Gauge,
    /// In seconds (every `*_seconds` family has the buckets of `SECONDS_BUCKETS`).
    Histogram,
}

impl MetricKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One `dialer_` family: the help `/metrics` shows and `docs/reference/metrics.md` lists (that
/// file is generated from [`METRICS`]; a test in `reference` says when it is stale).
#[derive(Debug, Clone, Copy)]
pub struct MetricDoc {
    pub name: &'static str,
    pub kind: MetricKind,
    /// Label names, in the order the code sets them.
    pub labels: &'static [&'static str],
    /// Set from the switchboard's answers when `/metrics` is scraped ([`refresh`]), so never
    /// stale; the others are counted or set where things happen.
    pub on_scrape: bool,
    pub help: &'static str,
}

const fn family(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDoc {
    MetricDoc {
        name,
        kind,
        labels,
        on_scrape: false,
        help,
    }
}

const fn scraped(
    name: &'static str,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricDoc {
    MetricDoc {
        name,
        kind: MetricKind::Gauge,
        labels,
        on_scrape: true,
        help,
    }
}

/// Every `dialer_` family the daemon records, with its help.
pub const METRICS: &[MetricDoc] = &[
    family(
        "dialer_recordings_bytes",
        MetricKind::Gauge,
        &[],
        "Bytes of the call recordings under media.recordings_dir (measured at start and every \
         hour, after deleting those older than media.recordings_keep).",
    ),
    family(
        "dialer_dials_total",
        MetricKind::Counter,
        &["campaign", "trunk"],
        "Calls placed, per campaign and trunk.",
    ),
    family(
        "dialer_call_outcomes_total",
        MetricKind::Counter,
        &["campaign", "outcome"],
        "Ended attempts per campaign by outcome (human, machine, answered, busy, no_answer, \
         invalid_number, congestion, rejected, failed, abandoned, interrupted, shed).",
    ),
    family(
        "dialer_abandoned_total",
        MetricKind::Counter,
        &["campaign"],
        "Live answers abandoned (no agent within 2 s), per campaign; counted when it happens, \
         while the safe-harbor message still plays.",
    ),
    family(
        "dialer_dispositions_total",
        MetricKind::Counter,
        &["campaign", "code"],
        "Agent dispositions per campaign and code.",
    ),
    family(
        "dialer_sip_final_responses_total",
        MetricKind::Counter,
        &["trunk", "code"],
        "Final SIP responses to our INVITEs per trunk and status code (code 0: none, timeout).",
    ),
    family(
        "dialer_sip_rejected_requests_total",
        MetricKind::Counter,
        &["method", "reason"],
        "SIP requests refused or dropped, by method (extension methods: other) and reason \
         (unknown_source, wrong_source, rate_limited, overloaded, incoming_call).",
    ),
    family(
        "dialer_sip_registrations_total",
        MetricKind::Counter,
        &[],
        "Contacts of agents' softphones bound or refreshed by a REGISTER (one per contact).",
    ),
    family(
        "dialer_sip_registration_failures_total",
        MetricKind::Counter,
        &["reason"],
        "REGISTERs refused, by reason (unknown_user, wrong_password, locked_out, other_user, \
         bad_request, interval_too_brief, too_many_contacts); a plain challenge (401 without \
         credentials, or stale) is not one.",
    ),
    family(
        "dialer_sip_registration_expiries_total",
        MetricKind::Counter,
        &[],
        "Registered contacts dropped because the phone did not refresh them in time.",
    ),
    family(
        "dialer_sip_registered_contacts",
        MetricKind::Gauge,
        &[],
        "Agents' softphone contacts registered now.",
    ),
    family(
        "dialer_webrtc_offers_total",
        MetricKind::Counter,
        &["result"],
        "Agents' pages connecting their phone (phone = \"browser\"): SDP offers answered or \
         refused (result: answered, refused).",
    ),
    family(
        "dialer_webrtc_peers",
        MetricKind::Gauge,
        &[],
        "Agents' pages with a phone (WebRTC peer) now, connected or connecting.",
    ),
    family(
        "dialer_webrtc_peers_lost_total",
        MetricKind::Counter,
        &[],
        "Pages' phones gone by themselves (DTLS closed, ICE consent lost, an error).",
    ),
    family(
        "dialer_webrtc_legs_lost_total",
        MetricKind::Counter,
        &[],
        "Agents' legs lost with their page (the agent connecting again, waiting for it).",
    ),
    family(
        "dialer_webrtc_datagrams_dropped_total",
        MetricKind::Counter,
        &[],
        "Datagrams on the WebRTC socket that belong to no page's phone.",
    ),
    family(
        "dialer_webrtc_send_errors_total",
        MetricKind::Counter,
        &[],
        "Datagrams the WebRTC gateway could not send (a full socket buffer drops them).",
    ),
    family(
        "dialer_sip_malformed_total",
        MetricKind::Counter,
        &[],
        "Datagrams that are not SIP messages, dropped.",
    ),
    family(
        "dialer_amd_results_total",
        MetricKind::Counter,
        &["result"],
        "AMD decisions by result (human, machine, notsure).",
    ),
    family(
        "dialer_bridged_calls_total",
        MetricKind::Counter,
        &[],
        "People connected to an agent.",
    ),
    family(
        "dialer_agent_state_milliseconds_total",
        MetricKind::Counter,
        &["state"],
        "Agent time per state from finished intervals; occupancy over time is \
         (preview + on_call + wrap_up) / (ready + preview + on_call + wrap_up).",
    ),
    family(
        "dialer_trunk_up",
        MetricKind::Gauge,
        &["trunk"],
        "1 while a trunk answers; 0 after 3 consecutive failures (5xx, congestion, no response).",
    ),
    family(
        "dialer_trunk_consecutive_failures",
        MetricKind::Gauge,
        &["trunk"],
        "Consecutive failed INVITEs per trunk.",
    ),
    family(
        "dialer_trunk_calls_per_second",
        MetricKind::Gauge,
        &["trunk"],
        "Calls placed per second per trunk over the last 10 s.",
    ),
    scraped(
        "dialer_campaign_control",
        &["campaign", "control"],
        "1 for the campaign's current control (running, paused, stopped), 0 otherwise.",
    ),
    scraped(
        "dialer_campaign_calls_in_flight",
        &["campaign"],
        "Calls of the campaign in progress.",
    ),
    scraped(
        "dialer_campaign_waiting_for_agent",
        &["campaign"],
        "People answered and waiting for an agent.",
    ),
    scraped(
        "dialer_campaign_abandon_rate",
        &["campaign"],
        "Abandoned / live answers over the campaign's abandon window.",
    ),
    scraped(
        "dialer_campaign_abandon_cap",
        &["campaign"],
        "The campaign's abandon-rate cap.",
    ),
    scraped(
        "dialer_campaign_window_live_answers",
        &["campaign"],
        "Live answers in the campaign's abandon window.",
    ),
    scraped(
        "dialer_campaign_window_abandoned",
        &["campaign"],
        "Abandoned calls in the campaign's abandon window.",
    ),
    scraped(
        "dialer_campaign_window_amd_machines",
        &["campaign"],
        "AMD machine results in the campaign's abandon window (UK: the estimate of people among \
         them, this × abandon.amd_false_positive_rate, is in the live answers and abandons).",
    ),
    scraped(
        "dialer_campaign_lines_per_agent",
        &["campaign"],
        "Calls in flight per available agent (ready, preview, on call, wrap-up) of the \
         campaign's groups.",
    ),
    scraped(
        "dialer_campaign_occupancy",
        &["campaign"],
        "Share of the campaign's available agents previewing, on a call or in wrap-up now.",
    ),
    scraped("dialer_agents", &["state"], "Agents by state."),
    scraped(
        "dialer_agent_occupancy",
        &[],
        "Share of available agents (ready, preview, on call, wrap-up) previewing, on a call or \
         in wrap-up now.",
    ),
    family(
        "dialer_store_queue_depth",
        MetricKind::Gauge,
        &[],
        "Records waiting for the store writer.",
    ),
    family(
        "dialer_store_write_seconds",
        MetricKind::Histogram,
        &[],
        "Time to write one record to the store.",
    ),
    family(
        "dialer_store_write_errors_total",
        MetricKind::Counter,
        &[],
        "Failed store writes.",
    ),
    family(
        "dialer_store_writable",
        MetricKind::Gauge,
        &[],
        "1 while the store takes writes and claims; 0 while it cannot (dialing paused, /ready \
         503 store).",
    ),
    family(
        "dialer_store_dials_refused_total",
        MetricKind::Counter,
        &[],
        "Dials not placed because their attempt's row could not be written (no INVITE, no \
         attempt charged).",
    ),
    family(
        "dialer_store_records_lost_total",
        MetricKind::Counter,
        &[],
        "Records given up: refused by the store for what they say, or still not stored at a \
         stop's deadline (each logged as `not stored: …`).",
    ),
    family(
        "dialer_store_connections_reset_total",
        MetricKind::Counter,
        &[],
        "SQLite connections closed because they came back to the pool still inside a \
         transaction (they would keep the write lock).",
    ),
    family(
        "dialer_list_rows_imported_total",
        MetricKind::Counter,
        &["campaign", "list"],
        "Rows of a campaign's list files the daemon added to the store, per campaign and list.",
    ),
    family(
        "dialer_list_rows_rejected_total",
        MetricKind::Counter,
        &["campaign", "list"],
        "Rows of a campaign's list files rejected (bad phone, zone, DNC, columns), per campaign \
         and list; each row counted once, not again at each read of the file.",
    ),
    family(
        "dialer_campaign_leads",
        MetricKind::Gauge,
        &["campaign"],
        "The campaign's leads in the store at the last check (after an import, when a claim finds none).",
    ),
    family(
        "dialer_campaign_dialable_leads",
        MetricKind::Gauge,
        &["campaign"],
        "Of them, those that may be dialed at the last check (0: the API's campaign status says why).",
    ),
    family(
        "dialer_dial_local_failures_total",
        MetricKind::Counter,
        &["reason"],
        "Dials that failed here before their INVITE left, no attempt stored, by reason \
         (no_port, descriptors, socket).",
    ),
    family(
        "dialer_dialing_paused_local",
        MetricKind::Gauge,
        &[],
        "1 while dialing is paused by a local failure (a media port could not be opened).",
    ),
    family(
        "dialer_api_connections",
        MetricKind::Gauge,
        &[],
        "HTTP API connections open.",
    ),
    family(
        "dialer_api_connections_refused_total",
        MetricKind::Counter,
        &[],
        "HTTP API connections closed at accept because api.max_connections were open.",
    ),
    family(
        "dialer_api_event_streams",
        MetricKind::Gauge,
        &[],
        "Event streams (GET /v1/events) open.",
    ),
    family(
        "dialer_api_event_streams_lagged_total",
        MetricKind::Counter,
        &[],
        "Event streams closed because their reader fell too far behind (it reconnects with a snapshot).",
    ),
    family(
        "dialer_api_accept_errors_total",
        MetricKind::Counter,
        &[],
        "Errors accepting an HTTP API connection (out of descriptors).",
    ),
];

/// Help text of every family (shown by `/metrics` once the family has a value).
fn describe() {
    for m in METRICS {
        match m.kind {
            MetricKind::Counter => describe_counter!(m.name, m.help),
            MetricKind::Gauge => describe_gauge!(m.name, m.help),
            MetricKind::Histogram => describe_histogram!(m.name, metrics::Unit::Seconds, m.help),
        }
    }
}

/// Drop dials older than the window and set the trunk's calls per second.
fn set_cps(now: Instant, trunk: &str, q: &mut VecDeque<Instant>) {
    while q
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) > CPS_WINDOW)
    {
        q.pop_front();
    }
    gauge!("dialer_trunk_calls_per_second", "trunk" => trunk.to_owned())
        .set(q.len() as f64 / CPS_WINDOW.as_secs_f64());
}

/// Agents the API and metrics count for each campaign (its agent groups), by campaign name.
pub type Rosters = HashMap<String, Vec<AgentId>>;

/// Each campaign's agents: those of the config in any of its agent groups.
pub fn rosters(config: &DaemonConfig, campaigns: &[Campaign]) -> Rosters {
    campaigns
        .iter()
        .map(|c| {
            let ids = config.agents_in(&c.agent_groups).map(|a| a.id.clone());
            (c.name.clone(), ids.collect())
        })
        .collect()
}

/// Set the gauges that describe the present, from the switchboard's answers (on scrape).
pub fn refresh(campaigns: &[CampaignStatus], agents: &[AgentStatus], rosters: &Rosters) {
    for s in State::ALL {
        let n = agents.iter().filter(|a| a.state == s).count();
        gauge!("dialer_agents", "state" => s.as_str()).set(n as f64);
    }
    let by_id: HashMap<&str, State> = agents.iter().map(|a| (a.id.as_str(), a.state)).collect();
    let (busy, available) = occupancy(agents.iter().map(|a| a.state));
    gauge!("dialer_agent_occupancy").set(ratio(busy, available));

    for c in campaigns {
        let name = c.name.clone();
        for &control in CampaignControl::ALL {
            let on = if c.control == control { 1.0 } else { 0.0 };
            gauge!("dialer_campaign_control", "campaign" => name.clone(), "control" => control.as_str())
                .set(on);
        }
        let g = |family: &'static str, v: f64| {
            gauge!(family, "campaign" => name.clone()).set(v);
        };
        g("dialer_campaign_calls_in_flight", c.calls_in_flight as f64);
        g(
            "dialer_campaign_waiting_for_agent",
            c.waiting_for_agent as f64,
        );
        g("dialer_campaign_abandon_rate", c.abandon_rate);
        g("dialer_campaign_abandon_cap", c.abandon_cap);
        g("dialer_campaign_window_live_answers", c.live_answers as f64);
        g("dialer_campaign_window_abandoned", c.abandoned as f64);
        g("dialer_campaign_window_amd_machines", c.amd_machines as f64);
        if let Some(roster) = rosters.get(&c.name) {
            let states = roster
                .iter()
                .filter_map(|id| by_id.get(id.as_str()).copied());
            let (busy, available) = occupancy(states);
            g(
                "dialer_campaign_lines_per_agent",
                ratio(c.calls_in_flight, available),
            );
            g("dialer_campaign_occupancy", ratio(busy, available));
        }
    }
}

/// (previewing, on a call or in wrap-up, available: ready + those).
fn occupancy(states: impl Iterator<Item = State>) -> (usize, usize) {
    states.fold((0, 0), |(busy, avail), s| match s {
        State::Preview | State::OnCall | State::WrapUp => (busy + 1, avail + 1),
        State::Ready => (busy, avail + 1),
        _ => (busy, avail),
    })
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// A trunk is down after this many failed INVITEs in a row.
const TRUNK_DOWN_AFTER: u32 = 3;
/// The window of `dialer_trunk_calls_per_second`.
const CPS_WINDOW: Duration = Duration::from_secs(10);

/// Counts events as the daemon's loop feeds the switchboard and carries out its outputs. Owned
/// by the loop; pass it every input (before `handle`) and every output pulled.
#[derive(Debug, Default)]
pub struct Observer {
    /// Live calls: campaign and trunk.
    calls: HashMap<CallKey, (String, String)>,
    /// Dial instants per trunk within [`CPS_WINDOW`].
    dials: BTreeMap<String, VecDeque<Instant>>,
    failures: HashMap<String, u32>,
    /// Campaign names by store id (dispositions carry the id).
    campaigns: HashMap<CampaignId, String>,
}

impl Observer {
    pub fn new() -> Self {
        Self::default()
    }

    /// An input about to be handed to the switchboard.
    pub fn input(&mut self, now: Instant, input: &Input) {
        if let Input::Tick = input {
            for (trunk, q) in &mut self.dials {
                set_cps(now, trunk, q);
            }
        }
    }

    /// An output pulled from the switchboard.
    pub fn output(&mut self, now: Instant, output: &Output) {
        match output {
            Output::Dial(d) => {
                counter!("dialer_dials_total", "campaign" => d.campaign.clone(), "trunk" => d.trunk.clone())
                    .increment(1);
                self.calls
                    .insert(d.call, (d.campaign.clone(), d.trunk.clone()));
                self.campaigns
                    .entry(d.campaign_id)
                    .or_insert_with(|| d.campaign.clone());
                let q = self.dials.entry(d.trunk.clone()).or_default();
                q.push_back(now);
                set_cps(now, &d.trunk, q);
                let failures = *self.failures.entry(d.trunk.clone()).or_insert(0);
                self.set_trunk(&d.trunk, failures);
            }
            Output::Record(Record::AttemptEnded { call, summary, .. }) => {
                let Some((campaign, trunk)) = self.calls.remove(call) else {
                    return;
                };
                counter!("dialer_call_outcomes_total", "campaign" => campaign.clone(), "outcome" => summary.outcome.as_str())
                    .increment(1);
                let code = summary.sip_status.unwrap_or(0);
                counter!("dialer_sip_final_responses_total", "trunk" => trunk.clone(), "code" => code.to_string())
                    .increment(1);
                let failed = trunk_failed(summary.outcome) || (500..600).contains(&code);
                let n = self.failures.entry(trunk.clone()).or_insert(0);
                *n = if failed { n.saturating_add(1) } else { 0 };
                let n = *n;
                self.set_trunk(&trunk, n);
            }
            // Counted when it happens (the safe-harbor message still plays), not at the end.
            Output::Abandoned { call } => {
                if let Some((campaign, _)) = self.calls.get(call) {
                    counter!("dialer_abandoned_total", "campaign" => campaign.clone()).increment(1);
                }
            }
            Output::Record(Record::Disposition {
                campaign_id, code, ..
            }) => {
                let campaign = self
                    .campaigns
                    .get(campaign_id)
                    .cloned()
                    .unwrap_or_else(|| campaign_id.to_string());
                counter!("dialer_dispositions_total", "campaign" => campaign, "code" => code.clone())
                    .increment(1);
            }
            Output::Record(Record::Interval(i)) => {
                let ms = i.end.saturating_duration_since(i.start).as_millis();
                counter!("dialer_agent_state_milliseconds_total", "state" => i.state.as_str())
                    .increment(u64::try_from(ms).unwrap_or(u64::MAX));
            }
            _ => {}
        }
    }

    fn set_trunk(&self, trunk: &str, failures: u32) {
        let t = trunk.to_owned();
        gauge!("dialer_trunk_consecutive_failures", "trunk" => t.clone()).set(f64::from(failures));
        let up = if failures >= TRUNK_DOWN_AFTER {
            0.0
        } else {
            1.0
        };
        gauge!("dialer_trunk_up", "trunk" => t).set(up);
    }
}

/// Whether a call's outcome counts against its trunk's health (the carrier or the network
/// failed it, rather than the callee).
fn trunk_failed(outcome: Outcome) -> bool {
    match outcome {
        Outcome::Congestion | Outcome::Failed => true,
        Outcome::Answered
        | Outcome::Human
        | Outcome::Machine
        | Outcome::Busy
        | Outcome::NoAnswer
        | Outcome::InvalidNumber
        | Outcome::Rejected
        | Outcome::Abandoned
        | Outcome::Interrupted
        | Outcome::Shed => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::LeadStatus;
    use crate::flow::Summary;
    use crate::switchboard::{Dial, Lead, LeadEffect};

    fn dial(call: u64, trunk: &str) -> Output {
        Output::Dial(Dial {
            call: CallKey::new(call),
            campaign: "cold".into(),
            campaign_id: CampaignId::new(4),
            lead: Lead {
                id: call as i64,
                phone: "+12025550143".into(),
                timezone: None,
                attributes: "{}".into(),
                attempts: 0,
            },
            trunk: trunk.into(),
            caller_id: "+12025550100".into(),
            ring_timeout: Duration::from_secs(15),
        })
    }

    fn ended(
        call: u64,
        t0: Instant,
        outcome: Outcome,
        sip: Option<u16>,
        abandoned: bool,
    ) -> Output {
        Output::Record(Record::AttemptEnded {
            call: CallKey::new(call),
            campaign_id: CampaignId::new(4),
            lead_id: call as i64,
            summary: Summary {
                outcome,
                sip_status: sip,
                dialed: t0,
                ringing: None,
                answered: None,
                amd: None,
                decided: None,
                connected: None,
                agent: None,
                abandoned,
                voicemail_left: false,
                message_at: None,
                opted_out: None,
                ended: t0,
            },
            effect: LeadEffect {
                status: LeadStatus::Active,
                retry_after: None,
                callback_after: None,
            },
            conversation: false,
        })
    }

    /// The value of the line starting with `series ` in a Prometheus text rendering.
    fn value(text: &str, series: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
    }

    #[test]
    fn observer_counts_dials_outcomes_abandons_and_trunk_health() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let t0 = Instant::now();
        let mut o = Observer::new();
        let mut while_playing = String::new();
        metrics::with_local_recorder(&recorder, || {
            for call in 1..=5 {
                o.output(t0, &dial(call, "main"));
            }
            o.output(t0, &ended(1, t0, Outcome::Human, Some(200), false));
            // Call 2 is abandoned: counted then, while its safe-harbor message plays, and not
            // again when it ends.
            o.output(
                t0,
                &Output::Abandoned {
                    call: CallKey::new(2),
                },
            );
            while_playing = handle.render();
            o.output(t0, &ended(2, t0, Outcome::Abandoned, Some(200), true));
            for call in 3..=5 {
                o.output(t0, &ended(call, t0, Outcome::Congestion, Some(503), false));
            }
            o.output(
                t0,
                &Output::Record(Record::Disposition {
                    campaign_id: CampaignId::new(4),
                    lead_id: 1,
                    call: CallKey::new(1),
                    agent: "alice".into(),
                    code: "sale".into(),
                    notes: None,
                    effect: LeadEffect {
                        status: LeadStatus::Done,
                        retry_after: None,
                        callback_after: None,
                    },
                    conversation: true,
                    at: t0,
                }),
            );
            o.input(t0 + Duration::from_secs(1), &Input::Tick);
        });
        let text = handle.render();
        let v = |s: &str| value(&text, s);
        assert_eq!(
            v("dialer_dials_total{campaign=\"cold\",trunk=\"main\"}"),
            Some(5.0)
        );
        assert_eq!(
            v("dialer_call_outcomes_total{campaign=\"cold\",outcome=\"congestion\"}"),
            Some(3.0)
        );
        assert_eq!(
            v("dialer_call_outcomes_total{campaign=\"cold\",outcome=\"human\"}"),
            Some(1.0)
        );
        assert_eq!(
            value(&while_playing, "dialer_abandoned_total{campaign=\"cold\"}"),
            Some(1.0)
        );
        assert_eq!(v("dialer_abandoned_total{campaign=\"cold\"}"), Some(1.0));
        assert_eq!(
            v("dialer_sip_final_responses_total{trunk=\"main\",code=\"503\"}"),
            Some(3.0)
        );
        assert_eq!(
            v("dialer_dispositions_total{campaign=\"cold\",code=\"sale\"}"),
            Some(1.0)
        );
        // Three failures in a row: the trunk is down.
        assert_eq!(
            v("dialer_trunk_consecutive_failures{trunk=\"main\"}"),
            Some(3.0)
        );
        assert_eq!(v("dialer_trunk_up{trunk=\"main\"}"), Some(0.0));
        // 5 dials in the 10 s window.
        assert_eq!(
            v("dialer_trunk_calls_per_second{trunk=\"main\"}"),
            Some(0.5)
        );

        // A call the trunk answers (even busy) brings it back.
        metrics::with_local_recorder(&recorder, || {
            o.output(t0, &dial(9, "main"));
            o.output(t0, &ended(9, t0, Outcome::Busy, Some(486), false));
        });
        let text = handle.render();
        assert_eq!(value(&text, "dialer_trunk_up{trunk=\"main\"}"), Some(1.0));
    }

    #[test]
    fn refresh_sets_agents_by_state_lines_per_agent_and_occupancy() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let view = |id: &str, state| AgentStatus {
            id: id.into(),
            state,
            elapsed: Duration::ZERO,
            call: None,
            pause_reason: None,
        };
        let agents = [
            view("a", State::OnCall),
            view("b", State::Ready),
            view("c", State::WrapUp),
            view("d", State::Paused),
            view("e", State::OnCall),
        ];
        let campaign = CampaignStatus {
            name: "cold".into(),
            mode: "predictive".into(),
            control: CampaignControl::Paused,
            calls_in_flight: 6,
            waiting_for_agent: 1,
            dials: 40,
            live_answers: 20,
            abandoned: 1,
            amd_machines: 7,
            abandon_rate: 0.05,
            abandon_cap: 0.03,
            last_decision: String::new(),
            leads: Default::default(),
            wallboard: Default::default(),
        };
        let rosters = Rosters::from([(
            "cold".to_string(),
            vec!["a".into(), "b".into(), "c".into(), "d".into()],
        )]);
        metrics::with_local_recorder(&recorder, || refresh(&[campaign], &agents, &rosters));
        let text = handle.render();
        let v = |s: &str| value(&text, s);
        assert_eq!(v("dialer_agents{state=\"on_call\"}"), Some(2.0));
        assert_eq!(v("dialer_agents{state=\"logged_out\"}"), Some(0.0));
        // 4 of 5 available (paused is not), 3 of them busy.
        assert_eq!(v("dialer_agent_occupancy"), Some(0.75));
        // The roster: a, b, c available; a and c busy; 6 calls over 3 agents.
        assert_eq!(
            v("dialer_campaign_lines_per_agent{campaign=\"cold\"}"),
            Some(2.0)
        );
        assert_eq!(
            v("dialer_campaign_window_amd_machines{campaign=\"cold\"}"),
            Some(7.0)
        );
        let occ = v("dialer_campaign_occupancy{campaign=\"cold\"}").unwrap();
        assert!((occ - 2.0 / 3.0).abs() < 1e-9, "{occ}");
        assert_eq!(
            v("dialer_campaign_control{campaign=\"cold\",control=\"paused\"}"),
            Some(1.0)
        );
        assert_eq!(
            v("dialer_campaign_control{campaign=\"cold\",control=\"running\"}"),
            Some(0.0)
        );
        assert_eq!(
            v("dialer_campaign_abandon_rate{campaign=\"cold\"}"),
            Some(0.05)
        );
    }
}
