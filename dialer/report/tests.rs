//! The arithmetic on a hand-made shift (figures worked out by hand in the comments).

use jiff::tz::TimeZone;

use super::*;
use crate::campaign::AbandonWindow;

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;
/// An hour boundary (2026-09-21T14:00:00Z).
const T: i64 = 497_222 * 3_600_000;

fn policy() -> Policy {
    Policy {
        window: AbandonWindow::Rolling30Days,
        cap: 0.03,
        success: ["sale".to_string()].into(),
        timezone: TimeZone::get("America/New_York").unwrap(),
        amd_false_positive_rate: 0.0,
        source: "test".into(),
    }
}

fn params() -> Params {
    Params {
        campaign: "c".into(),
        since_ms: T,
        until_ms: T + 120 * MIN,
        now_ms: T + 100 * MIN,
        policy: policy(),
        roster: Some(["a".to_string(), "b".to_string()].into()),
        bucket_ms: None,
    }
}

fn iv(agent: &str, camp: Option<i64>, state: &str, s: i64, e: Option<i64>) -> IntervalRow {
    IntervalRow {
        agent_id: agent.into(),
        campaign_id: camp,
        state: state.into(),
        started_at_ms: T + s * MIN,
        ended_at_ms: e.map(|e| T + e * MIN),
        attempt_id: None,
    }
}

fn attempt(min: i64, outcome: Option<&str>, live: bool, abandoned: bool) -> AttemptRow {
    AttemptRow {
        dial_at_ms: T + min * MIN,
        outcome: outcome.map(str::to_string),
        live,
        abandoned,
    }
}

fn disp(code: &str, agent: &str) -> DispositionRow {
    DispositionRow {
        code: code.into(),
        agent_id: Some(agent.into()),
        at_ms: T + 50 * MIN,
    }
}

fn shift() -> ReportRows {
    let mut call = iv("a", Some(1), "on_call", 30, Some(40));
    call.attempt_id = Some(10);
    let mut wrap = iv("a", Some(1), "wrap_up", 40, Some(45));
    wrap.attempt_id = Some(10);
    ReportRows {
        attempts: vec![
            attempt(1, Some("busy"), false, false),
            attempt(2, Some("human"), true, false),
            attempt(3, Some("abandoned"), true, true),
            attempt(65, None, false, false),
        ],
        live: vec![
            LiveRow {
                dial_at_ms: T - 31 * DAY,
                abandoned: true,
            },
            LiveRow {
                dial_at_ms: T - 10 * DAY,
                abandoned: false,
            },
            LiveRow {
                dial_at_ms: T - 10 * DAY + 1,
                abandoned: false,
            },
            LiveRow {
                dial_at_ms: T + 2 * MIN,
                abandoned: false,
            },
            LiveRow {
                dial_at_ms: T + 3 * MIN,
                abandoned: true,
            },
        ],
        intervals: vec![
            // a: idle time of no campaign, a call of ours, a call of campaign 2, then paused
            // and still paused (open: runs to now = T+100).
            iv("a", None, "ready", -30, Some(30)),
            call,
            wrap,
            iv("a", None, "ready", 45, Some(60)),
            iv("a", Some(2), "on_call", 60, Some(70)),
            iv("a", Some(2), "wrap_up", 70, Some(80)),
            iv("a", None, "paused", 80, None),
            // b: in the roster, no call: all its idle time is ours (clipped at until).
            iv("b", None, "ready", 0, Some(180)),
            // c: not in the roster, no call: none of it.
            iv("c", None, "ready", 0, Some(60)),
            // d: connecting is not logged-in time.
            iv("d", Some(1), "connecting", 0, Some(10)),
        ],
        dispositions: vec![
            disp("sale", "a"),
            disp("not_interested", "a"),
            disp("sale", "b"),
        ],
        amd_machines: vec![],
        survey: ["yes", "no", "yes"]
            .into_iter()
            .map(|a| SurveyRow {
                question: "satisfied".into(),
                answer: a.into(),
            })
            .collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-3
}

#[test]
fn figures_match_the_hand_computed_shift() {
    let r = compute(&params(), 1, &shift());
    assert_eq!((r.dials, r.contacts, r.abandoned), (4, 2, 1));
    assert_eq!(r.contact_rate, Some(0.5));
    assert_eq!(r.abandon_rate, Some(0.5));
    assert_eq!(r.outcomes["in_progress"], 1);
    assert_eq!(r.outcomes["busy"], 1);
    // Window: [T-30d, T+120m): the two at T-10d and the two of the period; the abandon at
    // T-31d is outside.
    let w = &r.abandon_window;
    assert_eq!((w.live, w.abandoned, w.rate), (4, 1, Some(0.25)));
    assert_eq!(w.since_ms, T + 120 * MIN - 30 * DAY);
    assert!(w.over_cap);

    // a's share of idle time: 15 of its 35 work minutes were ours = 3/7.
    let a = &r.agents[0];
    assert_eq!(a.agent, "a");
    assert!(close(a.ready_s, (30.0 + 15.0) * 60.0 * 3.0 / 7.0), "{a:?}");
    assert!(close(a.talk_s, 600.0) && close(a.wrap_s, 300.0));
    assert!(close(a.paused_s, 20.0 * 60.0 * 3.0 / 7.0), "{a:?}");
    // 15 / (135/7 + 15) = 105/240; 15 / (300/7) = 105/300.
    assert_eq!(a.occupancy, Some(0.4375));
    assert_eq!(a.utilization, Some(0.35));
    assert_eq!((a.calls, a.successes), (1, 1));
    assert_eq!(a.average_handle_time_s, Some(900.0));
    let b = &r.agents[1];
    assert_eq!(b.agent, "b");
    assert!(close(b.ready_s, 7200.0) && b.calls == 0 && b.successes == 1);
    assert_eq!(
        r.agents.len(),
        2,
        "c (not ours) and d (connecting) do not appear"
    );

    // Totals: ready 975/7 min, talk 10, wrap 5, paused 60/7: logged in 1140/7 min.
    let t = &r.agent_time;
    assert!(close(t.ready_s, 975.0 / 7.0 * 60.0));
    assert!(close(t.logged_in_s, 1140.0 / 7.0 * 60.0));
    assert_eq!(r.occupancy, Some((105.0f64 / 1080.0 * 1e6).round() / 1e6));
    assert_eq!(r.utilization, Some((105.0f64 / 1140.0 * 1e6).round() / 1e6));
    assert_eq!(r.handled_calls, 1);
    assert_eq!(r.average_handle_time_s, Some(900.0));
    // 10 talk minutes / (1140/7/60) hours = 3.6842…; 2 successes / 2.714 h = 0.7368…
    assert!(close(
        r.talk_minutes_per_agent_hour.unwrap(),
        4200.0 / 1140.0
    ));
    assert!(close(
        r.successes_per_agent_hour.unwrap(),
        2.0 * 420.0 / 1140.0
    ));
    assert_eq!(r.successes, 2);
    assert_eq!(r.dispositions["sale"], 2);
    assert_eq!(
        r.survey_answers["satisfied"],
        [("no".to_string(), 1), ("yes".to_string(), 2)].into()
    );
    assert!(table(&r).contains("Survey: satisfied"));
    assert_eq!(r.dispositions["not_interested"], 1);
}

#[test]
fn series_buckets_split_the_shift() {
    let r = compute(&params(), 1, &shift());
    let s = &r.series;
    // 2 h: 1-minute buckets would be 120 > 48, 5-minute ones are 24.
    assert_eq!(s.bucket_s, 300);
    assert_eq!(s.buckets.len(), 24);
    let b0 = &s.buckets[0];
    assert_eq!((b0.dials, b0.live, b0.abandoned), (3, 2, 1));
    assert_eq!(b0.abandon_rate, Some(0.5));
    // Window ending at T+5m: the two at T-10d and the two of this bucket.
    assert_eq!(b0.window_abandon_rate, Some(0.25));
    // a idles at weight 3/7 and b idles: nobody works.
    assert_eq!(b0.occupancy, Some(0.0));
    assert!(close(b0.staffed_agents, 10.0 / 7.0));
    // [T+30, T+35): a talks, b idles.
    assert_eq!(s.buckets[6].occupancy, Some(0.5));
    assert_eq!(s.buckets[6].abandon_rate, None);
    // The window rate holds at 1/4 after the last live answer.
    assert_eq!(s.buckets[23].window_abandon_rate, Some(0.25));
    // Bucket dials add up to the period's.
    assert_eq!(s.buckets.iter().map(|b| b.dials).sum::<u64>(), r.dials);
}

#[test]
fn unaligned_periods_clip_the_edge_buckets() {
    let mut p = params();
    p.since_ms = T + 7 * MIN;
    p.until_ms = T + 7 * MIN + 24 * 3_600_000;
    let bs = compute::buckets(&p);
    // 24 h: 30-minute buckets (48), plus one for the unaligned edges.
    assert_eq!(compute::bucket_size(&p), 30 * MIN);
    assert_eq!(bs.len(), 49);
    assert_eq!(bs[0], (T + 7 * MIN, T + 30 * MIN));
    assert_eq!(bs[48].1, p.until_ms);
    assert!(bs.windows(2).all(|w| w[0].1 == w[1].0));
}

#[test]
fn the_uk_window_is_the_calendar_day_in_the_campaign_zone() {
    let mut pol = policy();
    pol.window = AbandonWindow::CalendarDay;
    pol.timezone = TimeZone::get("Europe/London").unwrap();
    // 2026-07-01T15:30:00Z is 16:30 BST: the day began at 2026-06-30T23:00:00Z.
    let until: jiff::Timestamp = "2026-07-01T15:30:00Z".parse().unwrap();
    let start: jiff::Timestamp = "2026-06-30T23:00:00Z".parse().unwrap();
    let u = until.as_millisecond();
    assert_eq!(window_range(&pol, u), (start.as_millisecond(), u));
    // Ending exactly at local midnight: the day that just ended.
    let midnight: jiff::Timestamp = "2026-07-01T23:00:00Z".parse().unwrap();
    let m = midnight.as_millisecond();
    assert_eq!(window_range(&pol, m), (start.as_millisecond(), m));
}

#[test]
fn the_uk_rate_adds_the_people_estimated_among_amd_machines() {
    let mut p = params();
    p.policy.window = AbandonWindow::CalendarDay;
    p.policy.timezone = TimeZone::get("Europe/London").unwrap();
    p.policy.amd_false_positive_rate = 0.02;
    // T is 15:00 BST: today began at T − 15 h. Today: 40 live answers, 1 abandoned, 50 AMD
    // machines; yesterday's 100 machines are outside the window.
    let day_start = T - 15 * 60 * MIN;
    let mut d = ReportRows {
        live: (0..40)
            .map(|i| LiveRow {
                dial_at_ms: day_start + i * MIN,
                abandoned: i == 7,
            })
            .collect(),
        amd_machines: (0..50).map(|i| day_start + i * MIN).collect(),
        ..ReportRows::default()
    };
    d.amd_machines
        .extend((1..=100).map(|i| day_start - i * MIN));
    d.amd_machines.sort_unstable();
    let r = compute(&p, 1, &d);
    let w = &r.abandon_window;
    assert_eq!((w.live, w.abandoned, w.amd_machines), (40, 1, 50));
    // 50 × 2 % = 1 person estimated: (1 + 1) / (40 + 1), over the 3 % cap that 1 / 40 is not.
    assert_eq!(w.estimated_people_among_machines, 1.0);
    assert_eq!(w.rate, Some(0.04878));
    assert!(w.over_cap);
    assert_eq!(r.series.buckets.last().unwrap().window_abandon_rate, w.rate);
    assert!(table(&r).contains("1.00 people estimated among 50 AMD machines at 2.0 %"));
    // US rules (rate 0) count the machines but add nobody.
    p.policy.amd_false_positive_rate = 0.0;
    let r = compute(&p, 1, &d);
    assert_eq!(r.abandon_window.amd_machines, 50);
    assert_eq!(r.abandon_window.rate, Some(0.025));
    assert!(!r.abandon_window.over_cap);
}

#[test]
fn an_empty_period_has_no_rates() {
    let r = compute(&params(), 1, &ReportRows::default());
    assert_eq!(r.dials, 0);
    assert_eq!(r.contact_rate, None);
    assert_eq!(r.abandon_rate, None);
    assert_eq!(r.abandon_window.rate, None);
    assert!(!r.abandon_window.over_cap);
    assert_eq!(r.occupancy, None);
    assert_eq!(r.average_handle_time_s, None);
    assert!(r.agents.is_empty());
    let csv = csv(&r).unwrap();
    assert_eq!(csv.lines().count(), 2, "header and totals:\n{csv}");
    assert!(table(&r).contains("TOTAL"));
}

#[test]
fn csv_has_agent_rows_and_a_total_row() {
    let r = compute(&params(), 1, &shift());
    let text = csv(&r).unwrap();
    let mut rd = ::csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = rd.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(head, format::CSV_COLUMNS);
    let rows: Vec<::csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!((&rows[0][0], &rows[0][1], &rows[0][2]), ("agent", "a", "1"));
    assert_eq!(&rows[0][8], "0.4375");
    assert_eq!((&rows[2][0], &rows[2][1]), ("total", ""));
    assert_eq!(&rows[2][11], "2");
    let tab = table(&r);
    assert!(tab.contains("43.8 %"), "{tab}");
    assert!(tab.contains("OVER THE CAP"), "{tab}");
}

#[test]
fn chart_draws_both_series_and_the_cap() {
    let r = compute(&params(), 1, &shift());
    let s = svg(&r, &TimeZone::get("America/New_York").unwrap());
    assert!(s.starts_with("<svg"));
    assert!(s.contains(r#"<g id="window-abandon-rate">"#));
    assert!(s.contains(r#"<g id="occupancy">"#));
    assert!(s.contains("cap 3.0 %"));
    // The y scale leaves room over the 25 % window rate: the 50 % bucket is clipped and marked.
    assert!(s.contains("▲50 %"));
}

#[test]
fn preview_time_is_work_of_the_campaign_it_names() {
    // e previews a lead of ours for 4 min (the call rang out), idles 2 min, previews 3 min and
    // talks 6 + wraps 2 min on the lead dialed, then previews campaign 2's lead for 5 min.
    let mut dialed = iv("e", Some(1), "preview", 6, Some(9));
    dialed.attempt_id = Some(20);
    let mut call = iv("e", None, "on_call", 9, Some(15));
    call.attempt_id = Some(20);
    let mut wrap = iv("e", None, "wrap_up", 15, Some(17));
    wrap.attempt_id = Some(20);
    let d = ReportRows {
        attempts: vec![],
        live: vec![],
        intervals: vec![
            iv("e", Some(1), "preview", 0, Some(4)),
            iv("e", None, "ready", 4, Some(6)),
            dialed,
            // The call's intervals name no campaign: the attempt's (1) applies.
            IntervalRow {
                campaign_id: Some(1),
                ..call
            },
            IntervalRow {
                campaign_id: Some(1),
                ..wrap
            },
            iv("e", Some(2), "preview", 17, Some(22)),
        ],
        dispositions: vec![],
        amd_machines: vec![],
        survey: vec![],
    };
    let p = Params {
        roster: Some(["e".to_string()].into()),
        ..params()
    };
    let r = compute(&p, 1, &d);
    let e = &r.agents[0];
    // Work of ours: preview 7, talk 6, wrap 2 = 15 of 20 work minutes: share 3/4 of ready.
    assert!(close(e.preview_s, 420.0), "{e:?}");
    assert!(close(e.talk_s, 360.0) && close(e.wrap_s, 120.0));
    assert!(close(e.ready_s, 90.0), "{e:?}");
    // 15 / (1.5 + 15); handle time is talk + wrap per call.
    assert_eq!(e.occupancy, Some((15.0f64 / 16.5 * 1e6).round() / 1e6));
    assert_eq!(e.calls, 1);
    assert_eq!(e.average_handle_time_s, Some(480.0));
    assert!(close(r.agent_time.preview_s, 420.0));
    assert!(close(r.agent_time.logged_in_s, 990.0));
}
