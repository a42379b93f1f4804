//! Property tests of the pacers: whatever the snapshot, limits hold, nothing is dialed without
//! an agent (except agentless), and the abandon budget never goes negative.

use std::time::{Duration, Instant};

use dialer::pacing::predictive::Outlook;
use dialer::pacing::{
    AbandonBudget, AgentView, CallView, Estimates, Limits, MIN_SHED_RING, Mode, Pacer, Predictive,
    PredictiveConfig, Priors, Reason, Snapshot, WindowCounts,
};
use proptest::prelude::*;

fn agent() -> impl Strategy<Value = AgentView> {
    (0u8..4, 0u64..900_000).prop_map(|(k, ms)| {
        let elapsed = Duration::from_millis(ms);
        match k {
            0 => AgentView::Ready,
            1 => AgentView::Talking { elapsed },
            2 => AgentView::Wrapping { elapsed },
            _ => AgentView::Paused,
        }
    })
}

fn call() -> impl Strategy<Value = CallView> {
    (0u8..3, 0u64..40_000).prop_map(|(k, ms)| {
        let elapsed = Duration::from_millis(ms);
        match k {
            0 => CallView::Ringing { elapsed },
            1 => CallView::Screening { elapsed },
            _ => CallView::Waiting {
                elapsed: elapsed / 20,
            },
        }
    })
}

/// Calls in flight, two in three ringing (for up to 40 s).
fn mostly_ringing_call() -> impl Strategy<Value = CallView> {
    prop_oneof![
        2 => (0u64..40_000).prop_map(|ms| CallView::Ringing {
            elapsed: Duration::from_millis(ms)
        }),
        1 => call(),
    ]
}

fn priors() -> impl Strategy<Value = Priors> {
    (
        0.01f64..0.9,
        0.0f64..1.0,
        1.0f64..30.0,
        15.0f64..60.0,
        5.0f64..900.0,
        0.0f64..120.0,
    )
        .prop_map(|(hit, machine_share, ring, timeout, talk, wrap)| Priors {
            hit_rate: hit,
            machine_rate: (1.0 - hit) * machine_share,
            ring_mean_s: ring,
            ring_sd_s: ring / 2.0,
            no_answer_s: timeout,
            amd_human_s: 1.5,
            amd_machine_s: 3.0,
            talk_mean_s: talk,
            talk_sd_s: talk / 2.0,
            wrap_mean_s: wrap,
            wrap_sd_s: wrap / 2.0,
        })
}

fn budget() -> impl Strategy<Value = AbandonBudget> {
    (0u64..5000, 0u64..300, 0u64..3000, 0.0f64..0.05).prop_map(|(live, ab, m, fp)| {
        AbandonBudget::from_history(
            0.03,
            fp,
            WindowCounts {
                live_answers: live,
                abandoned: ab,
                amd_machines: m,
            },
        )
    })
}

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::Preview),
        Just(Mode::Progressive),
        Just(Mode::Predictive),
        Just(Mode::Agentless),
        Just(Mode::Vicidial),
        (1.0f64..8.0).prop_map(Mode::Ratio),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn never_more_dials_than_limits(
        mode in mode(),
        agents in prop::collection::vec(agent(), 0..80),
        calls in prop::collection::vec(call(), 0..200),
        p in priors(),
        b in budget(),
        channels in 0u32..300,
        tokens in 0u32..50,
        ticks in 1usize..6,
    ) {
        let est = Estimates::from_priors(&p);
        let mut pacer = Pacer::new(mode);
        let t0 = Instant::now();
        for i in 0..ticks {
            let s = Snapshot {
                agents: &agents,
                calls: &calls,
                estimates: &est,
                budget: &b,
                limits: Limits { channels_free: channels, dial_tokens: tokens },
            };
            let d = pacer.decide(t0 + Duration::from_secs(8 * i as u64), &s);
            prop_assert!(d.dials <= channels.min(tokens), "{mode}: {d:?}");
        }
    }

    #[test]
    fn nothing_dialed_without_a_working_agent(
        mode in mode(),
        paused in 0usize..10,
        calls in prop::collection::vec(call(), 0..50),
        p in priors(),
        b in budget(),
    ) {
        let agents = vec![AgentView::Paused; paused];
        let est = Estimates::from_priors(&p);
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let d = Pacer::new(mode).decide(Instant::now(), &s);
        if mode == Mode::Agentless {
            prop_assert!(d.dials > 0);
        } else {
            prop_assert_eq!(d.dials, 0, "{}: {:?}", mode, d);
        }
    }

    #[test]
    fn budget_never_negative(
        start in budget(),
        ops in prop::collection::vec(0u8..3, 0..500),
    ) {
        let mut b = start;
        for op in ops {
            match op {
                0 => b.record_live_answer(),
                1 => b.record_abandon(),
                _ => b.record_amd_machine(),
            }
            prop_assert!(b.remaining() >= 0.0);
            prop_assert!(b.used() >= 0.0);
            prop_assert!((0.0..=1.0).contains(&b.rate()), "{}", b.rate());
            prop_assert!(b.abandoned() <= b.live_answers());
        }
    }

    #[test]
    fn spent_budget_means_no_dial_ahead_of_agents(
        agents in prop::collection::vec(agent(), 4..60),
        calls in prop::collection::vec(call(), 0..100),
        p in priors(),
        live in 1u64..2000,
    ) {
        // At or over the cap.
        let b = AbandonBudget::from_history(0.03, 0.0, WindowCounts {
            live_answers: live,
            abandoned: (live as f64 * 0.03).ceil() as u64,
            amd_machines: 0,
        });
        prop_assert!(b.spent());
        let est = Estimates::from_priors(&p);
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let d = Pacer::new(Mode::Predictive).decide(Instant::now(), &s);
        prop_assert_eq!(d.dials, s.progressive_dials());
        prop_assert!(matches!(
            d.reason,
            Reason::BudgetSpent | Reason::TeamTooSmall | Reason::NoAgent
        ));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// The predictive pacer finds its number of dials by bisection, which is only right if a
    /// further dial is never less risky than the one before.
    #[test]
    fn predictive_risk_never_falls_with_more_dials(
        agents in prop::collection::vec(agent(), 1..80),
        calls in prop::collection::vec(call(), 0..150),
        p in priors(),
        b in budget(),
    ) {
        let est = Estimates::from_priors(&p);
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let o = Outlook::new(&s, Duration::from_millis(1500));
        let mut last = 0.0;
        for n in [0u32, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377] {
            let r = o.risk(n);
            prop_assert!((0.0..=1.0).contains(&r), "risk({n}) = {r}");
            prop_assert!(r >= last - 1e-9, "risk({n}) = {r} < {last}");
            last = r;
        }
    }

    /// Predictive dials at least what progressive would (within the limits) and never more
    /// than its line cap per working agent.
    #[test]
    fn predictive_between_progressive_and_the_line_cap(
        agents in prop::collection::vec(agent(), 0..80),
        calls in prop::collection::vec(call(), 0..150),
        p in priors(),
        b in budget(),
        channels in 0u32..400,
        tokens in 0u32..400,
    ) {
        let est = Estimates::from_priors(&p);
        let limits = Limits { channels_free: channels, dial_tokens: tokens };
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits,
        };
        let d = Pacer::new(Mode::Predictive).decide(Instant::now(), &s);
        let allowed = channels.min(tokens);
        let progressive = if s.working_agents() == 0 { 0 } else { s.progressive_dials() };
        prop_assert!(d.dials >= progressive.min(allowed), "{d:?} < progressive {progressive}");
        let lines = 12 * s.working_agents();
        let cap = lines.saturating_sub(s.calls_in_flight()).max(progressive).min(allowed);
        prop_assert!(d.dials <= cap, "{d:?} over the line cap {cap}");
        if let Reason::Predictive { risk, threshold } = d.reason {
            prop_assert!(risk <= threshold + 1e-12, "{d:?}");
        }
    }

    /// Predictive hangs up only calls still ringing, and only once they have rung the
    /// campaign's minimum (never under 15 s); other pacers hang up nothing.
    #[test]
    fn no_call_is_shed_before_the_minimum_ring(
        other in mode(),
        agents in prop::collection::vec(agent(), 0..80),
        calls in prop::collection::vec(mostly_ringing_call(), 0..150),
        p in priors(),
        b in budget(),
        shed_after_ms in 0u64..40_000,
        factor in 0.0f64..8.0,
    ) {
        // A spent budget dials progressively and sheds nothing: look at one that is not.
        let b = if b.spent() { AbandonBudget::new(0.03, 0.0) } else { b };
        let est = Estimates::from_priors(&p);
        let s = Snapshot {
            agents: &agents,
            calls: &calls,
            estimates: &est,
            budget: &b,
            limits: Limits::UNLIMITED,
        };
        let minimum = Duration::from_millis(shed_after_ms).max(MIN_SHED_RING);
        let mut predictive = Pacer::Predictive(Predictive::new(PredictiveConfig {
            shed_after: Some(Duration::from_millis(shed_after_ms)),
            shed_factor: factor,
            ..PredictiveConfig::default()
        }));
        let d = predictive.decide(Instant::now(), &s);
        prop_assert!(d.shed.windows(2).all(|w| w[0] < w[1]), "{d:?}");
        for &i in &d.shed {
            match calls.get(i) {
                Some(CallView::Ringing { elapsed }) => {
                    prop_assert!(*elapsed >= minimum, "shed after {elapsed:?} < {minimum:?}")
                }
                other => prop_assert!(false, "shed {i}: {other:?}"),
            }
        }
        if other != Mode::Predictive {
            let d = Pacer::new(other).decide(Instant::now(), &s);
            prop_assert!(d.shed.is_empty(), "{other}: {d:?}");
        }
    }

    /// The threshold is never negative, never above its ceiling, and an abandon never raises it.
    #[test]
    fn predictive_threshold_bounded_and_falls_with_abandons(
        live in 0u64..5000,
        abandoned in 0u64..200,
        machines in 0u64..3000,
        fp in 0.0f64..0.05,
    ) {
        let counts = WindowCounts { live_answers: live, abandoned: abandoned.min(live), amd_machines: machines };
        let b = AbandonBudget::from_history(0.03, fp, counts);
        let mut worse = b;
        worse.record_abandon();
        let p = Predictive::default();
        let t = p.threshold(&b);
        prop_assert!(t >= 0.0 && t <= 0.03 * p.cfg.max_share + 1e-12, "{t}");
        prop_assert!(p.threshold(&worse) <= t + 1e-12, "{} > {t}", p.threshold(&worse));
    }
}
