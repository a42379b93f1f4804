//! The switchboard's tests: whole calls and shifts driven through `handle`/`poll_output` with
//! invented instants. Shared set-ups here; the tests by subject in the files beside.

use std::path::Path;

use super::*;

mod answers;
mod calls;
mod dialing;
mod preview;
mod wrap_ups;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn campaign(edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/warm_followup.toml");
    let mut c = crate::campaign::load(&path).expect("example campaign loads");
    edit(&mut c);
    Arc::new(c)
}

fn board(t0: Instant, agents: &[&str], c: Arc<Campaign>) -> Switchboard {
    board_with(t0, agents, c, pacing::WindowCounts::default())
}

/// The same, the campaign's abandon window holding `history` from the store.
fn board_with(
    t0: Instant,
    agents: &[&str],
    c: Arc<Campaign>,
    history: pacing::WindowCounts,
) -> Switchboard {
    let mut core = Switchboard::new(
        t0,
        agents
            .iter()
            .map(|a| (AgentId::from(*a), vec!["followup".to_string()])),
        [(
            "main".to_string(),
            TrunkLimits {
                max_channels: 60,
                calls_per_second: 10.0,
            },
        )],
        Some(Duration::from_secs(120)),
    );
    core.upsert_campaign(c, CampaignId::new(7), history);
    for a in agents {
        core.agent_login(t0, a).unwrap();
        core.handle(
            t0,
            Input::AgentLegUp {
                agent: AgentId::from(*a),
            },
        );
    }
    drain(&mut core);
    core
}

fn drain(core: &mut Switchboard) -> Vec<Output> {
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn lead(id: i64) -> Lead {
    Lead {
        id,
        phone: format!("+1202555{id:04}"),
        timezone: None,
        attributes: "{}".into(),
        attempts: 0,
    }
}

fn dials(out: &[Output]) -> Vec<Dial> {
    out.iter()
        .filter_map(|o| match o {
            Output::Dial(d) => Some(d.clone()),
            _ => None,
        })
        .collect()
}

fn ended(out: &[Output]) -> Vec<(Summary, LeadEffect)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptEnded {
                summary, effect, ..
            }) => Some((summary.clone(), effect.clone())),
            _ => None,
        })
        .collect()
}

/// Tick, get the claim, hand over `n` leads, return the dials.
fn dial_n(core: &mut Switchboard, now: Instant, first_id: i64, n: usize) -> Vec<Dial> {
    core.handle(now, Input::Tick);
    let out = drain(core);
    let claim = out.iter().find_map(|o| match o {
        Output::Claim { campaign, n, .. } => Some((campaign.clone(), *n)),
        _ => None,
    });
    let (campaign, wanted) = claim.expect("a claim");
    assert!(wanted >= n, "wanted {wanted} leads, test gives {n}");
    core.handle(
        now,
        Input::Leads {
            campaign,
            leads: (0..n as i64).map(|i| lead(first_id + i)).collect(),
        },
    );
    let out = drain(core);
    let started = out
        .iter()
        .filter(|o| matches!(o, Output::Record(Record::AttemptStarted { .. })))
        .count();
    let d = dials(&out);
    assert_eq!(
        started,
        d.len(),
        "every dial is recorded before it is placed"
    );
    d
}

/// Rings, answered at 5 s, the person's "Hello?" ends at 5.8 s, AMD says human at 6.2 s.
fn human(core: &mut Switchboard, now: Instant, call: CallKey) -> Vec<Output> {
    core.handle(now, Input::Ringing { call });
    core.handle(now + ms(5000), Input::Answered { call });
    core.handle(
        now + ms(5400),
        Input::SpeechStarted {
            call,
            at: now + ms(5300),
        },
    );
    core.handle(
        now + ms(6200),
        Input::Amd {
            call,
            result: AmdResult::Human,
            cause: "short-greeting".into(),
            speech_end: Some(now + ms(5800)),
        },
    );
    drain(core)
}

/// The steps recorded as they happened ([`Record::AttemptProgress`]).
fn steps(out: &[Output]) -> Vec<(CallKey, Step)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptProgress { call, step }) => Some((*call, step.clone())),
            _ => None,
        })
        .collect()
}

fn core_campaign_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("campaigns/audio/safe_harbor.wav")
}

/// A bridged call that ended: its agent wraps up. Returns the call and the agent.
fn wrapping_up(core: &mut Switchboard, t0: Instant) -> (CallKey, AgentId) {
    let d = dial_n(core, t0, 1, 1);
    let out = human(core, t0, d[0].call);
    let agent = out
        .iter()
        .find_map(|o| match o {
            Output::Bridge { agent, .. } => Some(agent.clone()),
            _ => None,
        })
        .expect("bridged");
    core.handle(
        t0 + ms(60_000),
        Input::CallEnded {
            call: d[0].call,
            outcome: Outcome::Answered,
            sip_status: Some(200),
        },
    );
    drain(core);
    (d[0].call, agent)
}

fn example(file: &str, edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("campaigns")
        .join(file);
    let mut c = crate::campaign::load(&path).expect("example campaign loads");
    edit(&mut c);
    Arc::new(c)
}

/// The collections campaign (preview, AMD off) with store id 9.
fn collections(edit: impl FnOnce(&mut Campaign)) -> Arc<Campaign> {
    example("collections.toml", edit)
}

/// A board with `agents` (id, groups) logged in, each at its own instant, then `campaigns`
/// added (store ids 9, 10, …): nothing is claimed before the first tick.
fn preview_board(
    t0: Instant,
    agents: &[(&str, &[&str], Instant)],
    campaigns: Vec<Arc<Campaign>>,
) -> Switchboard {
    let mut core = Switchboard::new(
        t0,
        agents.iter().map(|(a, groups, _)| {
            (
                AgentId::from(*a),
                groups.iter().map(|g| g.to_string()).collect(),
            )
        }),
        [(
            "main".to_string(),
            TrunkLimits {
                max_channels: 60,
                calls_per_second: 10.0,
            },
        )],
        Some(Duration::from_secs(120)),
    );
    for (a, _, at) in agents {
        core.agent_login(*at, a).unwrap();
        core.handle(
            *at,
            Input::AgentLegUp {
                agent: AgentId::from(*a),
            },
        );
    }
    for (i, c) in campaigns.into_iter().enumerate() {
        core.upsert_campaign(
            c,
            CampaignId::new(9 + i as i64),
            pacing::WindowCounts::default(),
        );
    }
    drain(&mut core);
    core
}

/// The claim among `out` for `campaign`: how many leads it asks for.
fn claim_of(out: &[Output], campaign: &str) -> Option<usize> {
    out.iter().find_map(|o| match o {
        Output::Claim { campaign: c, n, .. } if c == campaign => Some(*n),
        _ => None,
    })
}

fn state(core: &Switchboard, now: Instant, agent: &str) -> State {
    core.agent_views(now)
        .into_iter()
        .find(|v| v.id == agent)
        .unwrap()
        .state
}

fn previewed(core: &Switchboard, now: Instant, agent: &str) -> Option<(String, i64)> {
    core.agent_lead(now, agent)
        .unwrap()
        .map(|(campaign, lead)| (campaign, lead.id))
}

fn intervals(out: &[Output]) -> Vec<agents::Interval> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::Interval(i)) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn started(out: &[Output]) -> Vec<(CallKey, i64, Option<AgentId>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(Record::AttemptStarted {
                call,
                lead_id,
                agent,
                ..
            }) => Some((*call, *lead_id, agent.clone())),
            _ => None,
        })
        .collect()
}

/// A preview board where Ann alone serves campaign `c` (collections).
fn ann_on_collections(t0: Instant, c: Arc<Campaign>) -> Switchboard {
    preview_board(t0, &[("ann", &["collections"], t0)], vec![c])
}

/// The first tick (collections claims its leads) and the store's answer with `ids`.
fn first_leads(core: &mut Switchboard, t0: Instant, ids: &[i64]) -> Vec<Output> {
    core.handle(t0, Input::Tick);
    drain(core);
    leads(core, t0, "collections", ids)
}

fn leads(core: &mut Switchboard, now: Instant, campaign: &str, ids: &[i64]) -> Vec<Output> {
    core.handle(
        now,
        Input::Leads {
            campaign: campaign.into(),
            leads: ids.iter().map(|i| lead(*i)).collect(),
        },
    );
    drain(core)
}

/// Campaign "second" (store id 7, mode `mode`) dials for four agents and is paused (its own
/// pacer no longer runs); "warm-followup" (predictive, id 8) shares the agents, who all
/// pause. At 16 s of ringing warm-followup's pacer names every ringing call to shed: the calls
/// of "second" that are hung up.
fn shed_across_campaigns(mode: Mode) -> (Vec<CallKey>, Vec<CallKey>) {
    let t0 = Instant::now();
    let agents = ["a1", "a2", "a3", "a4"];
    let second = campaign(|c| {
        c.name = "second".into();
        c.mode = mode;
    });
    let mut core = board(t0, &agents, second);
    core.handle(t0, Input::Tick);
    let n = claim_of(&drain(&mut core), "second").expect("a claim");
    let ids: Vec<i64> = (1..=n as i64).collect();
    let mut placed: Vec<CallKey> = dials(&leads(&mut core, t0, "second", &ids))
        .iter()
        .map(|d| d.call)
        .collect();
    placed.sort_unstable();
    assert!(!placed.is_empty());
    core.control("second", CampaignControl::Paused).unwrap();
    core.upsert_campaign(
        campaign(|c| c.mode = Mode::Predictive),
        CampaignId::new(8),
        pacing::WindowCounts::default(),
    );
    for a in agents {
        core.agent_pause(t0 + ms(1000), a, "break").unwrap();
    }
    drain(&mut core);
    core.handle(t0 + ms(16_000), Input::Tick);
    let mut hung_up: Vec<CallKey> = drain(&mut core)
        .iter()
        .filter_map(|o| match o {
            Output::HangUp { call } => Some(*call),
            _ => None,
        })
        .collect();
    hung_up.sort_unstable();
    (placed, hung_up)
}
