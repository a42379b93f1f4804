//! Text renderings of a report: a table for people, CSV for spreadsheets.

use std::fmt::Write as _;

use super::{Report, ReportError};

/// The CSV columns: `row` is `agent` or `total`; times in seconds; rates as fractions (empty
/// when undefined).
pub const CSV_COLUMNS: [&str; 13] = [
    "row",
    "agent",
    "calls",
    "talk_s",
    "wrap_s",
    "ready_s",
    "paused_s",
    "logged_in_s",
    "occupancy",
    "utilization",
    "average_handle_time_s",
    "successes",
    "preview_s",
];

/// One row per agent, then a totals row (`row` = `total`, `agent` empty).
pub fn csv(r: &Report) -> Result<String, ReportError> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    let err = |e: ::csv::Error| ReportError::Write(e.to_string());
    w.write_record(CSV_COLUMNS).map_err(err)?;
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for a in &r.agents {
        w.write_record([
            "agent".to_string(),
            a.agent.clone(),
            a.calls.to_string(),
            a.talk_s.to_string(),
            a.wrap_s.to_string(),
            a.ready_s.to_string(),
            a.paused_s.to_string(),
            a.logged_in_s.to_string(),
            opt(a.occupancy),
            opt(a.utilization),
            opt(a.average_handle_time_s),
            a.successes.to_string(),
            a.preview_s.to_string(),
        ])
        .map_err(err)?;
    }
    let t = &r.agent_time;
    w.write_record([
        "total".to_string(),
        String::new(),
        r.handled_calls.to_string(),
        t.on_call_s.to_string(),
        t.wrap_up_s.to_string(),
        t.ready_s.to_string(),
        t.paused_s.to_string(),
        t.logged_in_s.to_string(),
        opt(r.occupancy),
        opt(r.utilization),
        opt(r.average_handle_time_s),
        r.successes.to_string(),
        t.preview_s.to_string(),
    ])
    .map_err(err)?;
    let bytes = w
        .into_inner()
        .map_err(|e| ReportError::Write(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| ReportError::Write(e.to_string()))
}

/// A percentage with one decimal, or `-`.
fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1} %", v * 100.0))
}

/// Seconds as `h:mm:ss`.
fn hms(s: f64) -> String {
    let s = s.round() as i64;
    format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
}

fn num(x: Option<f64>, decimals: usize) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".to_string();
    }
    m.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table for a person to read.
pub fn table(r: &Report) -> String {
    let mut o = String::new();
    let w = &r.abandon_window;
    let t = &r.agent_time;
    let _ = writeln!(
        o,
        "Campaign {} (store id {}), {} .. {}",
        r.campaign, r.campaign_id, r.since, r.until
    );
    let _ = writeln!(o, "Rules from {}", r.policy_source);
    let _ = writeln!(o);
    let line = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "  {k:<28} {v}");
    };
    line(&mut o, "Dials", r.dials.to_string());
    line(
        &mut o,
        "Contacts (live answers)",
        format!("{}  (contact rate {})", r.contacts, pct(r.contact_rate)),
    );
    line(
        &mut o,
        "Abandoned",
        format!(
            "{}  (abandon rate {} over the period)",
            r.abandoned,
            pct(r.abandon_rate)
        ),
    );
    let estimate = if w.amd_false_positive_rate > 0.0 {
        format!(
            " (each + {:.2} people estimated among {} AMD machines at {})",
            w.estimated_people_among_machines,
            w.amd_machines,
            pct(Some(w.amd_false_positive_rate))
        )
    } else {
        String::new()
    };
    line(
        &mut o,
        "Abandon rate, window",
        format!(
            "{} = {} / {} live{estimate}, {} {} .. {}; cap {}{}",
            pct(w.rate),
            w.abandoned,
            w.live,
            w.kind,
            w.since,
            w.until,
            pct(Some(w.cap)),
            if w.over_cap { "  OVER THE CAP" } else { "" }
        ),
    );
    line(
        &mut o,
        "Agent time",
        format!(
            "logged in {}: ready {}, preview {}, talk {}, wrap {}, paused {}",
            hms(t.logged_in_s),
            hms(t.ready_s),
            hms(t.preview_s),
            hms(t.on_call_s),
            hms(t.wrap_up_s),
            hms(t.paused_s)
        ),
    );
    line(
        &mut o,
        "Occupancy",
        format!("{} (shed: {} of dials)", pct(r.occupancy), pct(r.shed_rate)),
    );
    line(&mut o, "Utilization", pct(r.utilization));
    line(&mut o, "Handled calls", r.handled_calls.to_string());
    line(
        &mut o,
        "Average handle time",
        r.average_handle_time_s.map_or("-".into(), hms),
    );
    line(
        &mut o,
        "Talk minutes per agent hour",
        num(r.talk_minutes_per_agent_hour, 1),
    );
    line(
        &mut o,
        "Successes",
        format!(
            "{} ({}), {} per agent hour",
            r.successes,
            if r.success_codes.is_empty() {
                "no success codes known".to_string()
            } else {
                r.success_codes.join(", ")
            },
            num(r.successes_per_agent_hour, 2)
        ),
    );
    line(&mut o, "Outcomes", counts(&r.outcomes));
    line(&mut o, "Dispositions", counts(&r.dispositions));
    for (question, answers) in &r.survey_answers {
        line(&mut o, &format!("Survey: {question}"), counts(answers));
    }
    let _ = writeln!(o);

    let head = [
        "Agent",
        "Calls",
        "Talk",
        "Wrap",
        "Preview",
        "Ready",
        "Paused",
        "Logged in",
        "Occ.",
        "Util.",
        "AHT",
        "Successes",
    ];
    let mut rows: Vec<[String; 12]> = r
        .agents
        .iter()
        .map(|a| {
            [
                a.agent.clone(),
                a.calls.to_string(),
                hms(a.talk_s),
                hms(a.wrap_s),
                hms(a.preview_s),
                hms(a.ready_s),
                hms(a.paused_s),
                hms(a.logged_in_s),
                pct(a.occupancy),
                pct(a.utilization),
                a.average_handle_time_s.map_or("-".into(), hms),
                a.successes.to_string(),
            ]
        })
        .collect();
    rows.push([
        "TOTAL".to_string(),
        r.handled_calls.to_string(),
        hms(t.on_call_s),
        hms(t.wrap_up_s),
        hms(t.preview_s),
        hms(t.ready_s),
        hms(t.paused_s),
        hms(t.logged_in_s),
        pct(r.occupancy),
        pct(r.utilization),
        r.average_handle_time_s.map_or("-".into(), hms),
        r.successes.to_string(),
    ]);
    let mut width = head.map(str::len);
    for row in &rows {
        for (i, c) in row.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let fmt_row = |cells: &[String]| -> String {
        let mut s = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            if i == 0 {
                let _ = write!(s, " {c:<w$}", w = width[i]);
            } else {
                let _ = write!(s, "  {c:>w$}", w = width[i]);
            }
        }
        s.trim_end().to_string()
    };
    let head: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    let _ = writeln!(o, "{}", fmt_row(&head));
    for row in &rows {
        let _ = writeln!(o, "{}", fmt_row(row));
    }
    o
}
