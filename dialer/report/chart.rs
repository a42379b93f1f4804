//! The report's chart, a hand-written SVG: abandon rate (per bucket, and over the regulatory
//! window ending at each bucket's end) against the cap, and occupancy, over the period.
//!
//! Two panels share the time axis (labelled in the campaign's zone): abandon rate on top with
//! the cap as a dashed line, occupancy (0–100 %) below. Bucket abandon rates above the top of the
//! scale are clipped and marked with their value.

use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::Report;

const W: f64 = 960.0;
const H: f64 = 610.0;
const LEFT: f64 = 78.0;
const RIGHT: f64 = 30.0;
const TOP1: f64 = 92.0;
const H1: f64 = 250.0;
const GAP: f64 = 58.0;
const H2: f64 = 150.0;
const FONT: &str = "DejaVu Sans, Arial, Helvetica, sans-serif";
const RED: &str = "#b2182b";
const PINK: &str = "#f4a582";
const BLUE: &str = "#2166ac";

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct_label(v: f64, step: f64) -> String {
    if step < 0.01 - 1e-12 {
        format!("{:.1} %", v * 100.0)
    } else {
        format!("{:.0} %", v * 100.0)
    }
}

/// The abandon panel's top and tick step: room above the cap and the window rate.
fn rate_scale(cap: f64, max_window: f64) -> (f64, f64) {
    let want = (cap * 1.6).max(max_window * 1.15).max(0.01);
    const STEPS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5];
    let step = STEPS
        .iter()
        .copied()
        .find(|s| want / s <= 6.0)
        .unwrap_or(0.5);
    // (The epsilon keeps 0.025 × 1.6 = 0.04000…01 from rounding up a whole step.)
    let top = ((want / step - 1e-9).ceil() * step).min(1.0);
    (top, step)
}

/// Time ticks: a step giving at most 10 ticks, at round local times.
fn time_ticks(since: i64, until: i64, tz: &TimeZone) -> (Vec<i64>, i64) {
    const MIN: i64 = 60_000;
    const STEPS: [i64; 14] = [
        MIN,
        5 * MIN,
        10 * MIN,
        15 * MIN,
        30 * MIN,
        60 * MIN,
        120 * MIN,
        180 * MIN,
        360 * MIN,
        720 * MIN,
        1440 * MIN,
        2 * 1440 * MIN,
        7 * 1440 * MIN,
        30 * 1440 * MIN,
    ];
    let span = (until - since).max(1);
    let step = STEPS
        .iter()
        .copied()
        .find(|s| span / s <= 10)
        .unwrap_or(span / 10 + 1);
    let offset = Timestamp::from_millisecond(since)
        .map(|t| i64::from(tz.to_offset(t).seconds()) * 1000)
        .unwrap_or(0);
    let mut t = (since + offset).div_euclid(step) * step - offset;
    if t < since {
        t += step;
    }
    let mut out = Vec::new();
    while t <= until {
        out.push(t);
        t += step;
    }
    (out, step)
}

fn time_label(ms: i64, step: i64, span: i64, tz: &TimeZone) -> String {
    let Ok(t) = Timestamp::from_millisecond(ms) else {
        return String::new();
    };
    let z = t.to_zoned_datetime(tz.clone());
    if step >= 86_400_000 {
        z.strftime("%b %d").to_string()
    } else if span > 86_400_000 {
        z.strftime("%b %d %H:%M").to_string()
    } else {
        z.strftime("%H:%M").to_string()
    }
}

/// The period in the campaign's zone, to the minute: `2026-09-21 10:00 – 12:00` within a day,
/// `2026-09-21 10:00 – 2026-09-22 09:00` across days.
fn period_label(since: i64, until: i64, tz: &TimeZone) -> String {
    let at = |ms: i64| {
        Timestamp::from_millisecond(ms)
            .map(|t| t.to_zoned_datetime(tz.clone()))
            .ok()
    };
    match (at(since), at(until)) {
        (Some(a), Some(b)) if a.date() == b.date() => {
            format!("{} – {}", a.strftime("%Y-%m-%d %H:%M"), b.strftime("%H:%M"))
        }
        (Some(a), Some(b)) => format!(
            "{} – {}",
            a.strftime("%Y-%m-%d %H:%M"),
            b.strftime("%Y-%m-%d %H:%M")
        ),
        _ => format!("{since} – {until}"),
    }
}

/// Render the chart; times are labelled in `tz` (the campaign's zone).
pub fn svg(r: &Report, tz: &TimeZone) -> String {
    let (since, until) = (r.since_ms, r.until_ms.max(r.since_ms + 1));
    let plot_w = W - LEFT - RIGHT;
    let x = |ms: i64| LEFT + (ms - since) as f64 / (until - since) as f64 * plot_w;
    let top2 = TOP1 + H1 + GAP;
    let buckets = &r.series.buckets;
    let cap = r.abandon_window.cap;
    let max_window = buckets
        .iter()
        .filter_map(|b| b.window_abandon_rate)
        .fold(0.0, f64::max);
    let (ytop, ystep) = rate_scale(cap, max_window);
    let y1 = |v: f64| TOP1 + H1 - (v.min(ytop) / ytop) * H1;
    let y2 = |v: f64| top2 + H2 - v.clamp(0.0, 1.0) * H2;
    let zone = tz.iana_name().unwrap_or("UTC");

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="{FONT}" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{LEFT}" y="24" font-size="17" font-weight="bold">{}: abandon rate and occupancy</text>"#,
        esc(&r.campaign)
    );
    let _ = writeln!(
        s,
        r##"<text x="{LEFT}" y="43" fill="#444">{} · buckets of {} · times in {}</text>"##,
        esc(&period_label(r.since_ms, r.until_ms, tz)),
        bucket_label(r.series.bucket_s),
        esc(zone)
    );

    // Legend.
    let ly = 66.0;
    let mut lx = LEFT;
    let mut window_name = match r.abandon_window.kind.as_str() {
        "calendar_day" => "abandon rate, calendar day to date".to_string(),
        _ => "abandon rate, rolling 30 days".to_string(),
    };
    if r.abandon_window.amd_false_positive_rate > 0.0 {
        window_name += " (with AMD estimate)";
    }
    let items: [(&str, String); 4] = [
        ("bar", "abandon rate per bucket".to_string()),
        ("line", window_name),
        ("cap", format!("cap {}", pct_label(cap, 0.001))),
        ("occ", "occupancy".to_string()),
    ];
    for (kind, label) in &items {
        match *kind {
            "bar" => {
                let _ = writeln!(
                    s,
                    r#"<rect x="{lx}" y="{}" width="18" height="10" fill="{PINK}"/>"#,
                    ly - 9.0
                );
            }
            "line" => {
                let _ = writeln!(
                    s,
                    r#"<line x1="{lx}" y1="{y}" x2="{}" y2="{y}" stroke="{RED}" stroke-width="2.5"/>"#,
                    lx + 18.0,
                    y = ly - 4.0
                );
            }
            "cap" => {
                let _ = writeln!(
                    s,
                    r##"<line x1="{lx}" y1="{y}" x2="{}" y2="{y}" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
                    lx + 18.0,
                    y = ly - 4.0
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    r#"<line x1="{lx}" y1="{y}" x2="{}" y2="{y}" stroke="{BLUE}" stroke-width="2.5"/>"#,
                    lx + 18.0,
                    y = ly - 4.0
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{ly}">{}</text>"#,
            lx + 24.0,
            esc(label)
        );
        lx += 24.0 + 6.8 * label.chars().count() as f64 + 26.0;
    }

    // Grids and y axes.
    let mut v = 0.0;
    while v <= ytop + 1e-9 {
        let y = y1(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
            W - RIGHT
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            LEFT - 6.0,
            y + 4.0,
            pct_label(v, ystep)
        );
        v += ystep;
    }
    for v in [0.0, 0.25, 0.5, 0.75, 1.0] {
        let y = y2(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e5e5e5"/>"##,
            W - RIGHT
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{:.0} %</text>"#,
            LEFT - 6.0,
            y + 4.0,
            v * 100.0
        );
    }
    for (top, h, label) in [(TOP1, H1, "abandon rate"), (top2, H2, "occupancy")] {
        let cy = top + h / 2.0;
        let _ = writeln!(
            s,
            r#"<text x="18" y="{cy:.1}" text-anchor="middle" transform="rotate(-90 18 {cy:.1})" font-size="13">{label}</text>"#
        );
    }

    // Bucket abandon rates as bars (clipped at the top, marked).
    let mut bars = String::new();
    for b in buckets {
        let Some(rate) = b.abandon_rate else { continue };
        if rate <= 0.0 {
            continue;
        }
        let (x0, x1) = (x(b.start_ms), x(b.end_ms));
        let bw = (x1 - x0 - 1.0).max(1.0);
        let y = y1(rate);
        let _ = writeln!(
            bars,
            r#"<rect x="{:.1}" y="{y:.1}" width="{bw:.1}" height="{:.1}" fill="{PINK}" fill-opacity="0.6"><title>{}: {} of {} live abandoned</title></rect>"#,
            x0 + 0.5,
            TOP1 + H1 - y,
            esc(&b.start),
            b.abandoned,
            b.live
        );
        if rate > ytop {
            // Clipped: a mark, with the value where there is room for it.
            let label = if x1 - x0 >= 34.0 {
                format!("▲{:.0} %", rate * 100.0)
            } else {
                "▲".to_string()
            };
            let _ = writeln!(
                bars,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10" fill="{RED}">{label}</text>"#,
                (x0 + x1) / 2.0,
                TOP1 + 11.0,
            );
        }
    }
    s.push_str(&bars);

    // The cap.
    let cy = y1(cap);
    let _ = writeln!(
        s,
        r##"<line x1="{LEFT}" y1="{cy:.1}" x2="{}" y2="{cy:.1}" stroke="#222" stroke-width="1.5" stroke-dasharray="6 4"/>"##,
        W - RIGHT
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{:.1}" text-anchor="end" fill="#222">cap {}</text>"##,
        W - RIGHT - 4.0,
        cy - 5.0,
        pct_label(cap, 0.001)
    );

    // Window abandon rate, at each bucket's end.
    let pts: Vec<Option<(f64, f64)>> = buckets
        .iter()
        .map(|b| b.window_abandon_rate.map(|v| (x(b.end_ms), y1(v))))
        .collect();
    polyline(&mut s, &pts, RED, "window-abandon-rate");
    // Occupancy, at each bucket's middle.
    let pts: Vec<Option<(f64, f64)>> = buckets
        .iter()
        .map(|b| b.occupancy.map(|v| (x((b.start_ms + b.end_ms) / 2), y2(v))))
        .collect();
    polyline(&mut s, &pts, BLUE, "occupancy");
    if pts.iter().all(Option::is_none) {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="middle" fill="#888">no agent time in this period</text>"##,
            LEFT + plot_w / 2.0,
            top2 + H2 / 2.0
        );
    }
    if buckets.iter().all(|b| b.window_abandon_rate.is_none()) {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" text-anchor="middle" fill="#888">no live answers in the window</text>"##,
            LEFT + plot_w / 2.0,
            TOP1 + H1 * 0.25
        );
    }

    // Frames and the time axis (under both panels).
    for (top, h) in [(TOP1, H1), (top2, H2)] {
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{h}" fill="none" stroke="#555"/>"##
        );
    }
    let (ticks, step) = time_ticks(since, until, tz);
    for t in ticks {
        let tx = x(t);
        for (top, h) in [(TOP1, H1), (top2, H2)] {
            let _ = writeln!(
                s,
                r##"<line x1="{tx:.1}" y1="{}" x2="{tx:.1}" y2="{}" stroke="#555"/>"##,
                top + h,
                top + h + 5.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP1 + H1 + 19.0,
            time_label(t, step, until - since, tz)
        );
        let _ = writeln!(
            s,
            r#"<text x="{tx:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            top2 + H2 + 19.0,
            time_label(t, step, until - since, tz)
        );
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#444">time ({})</text>"##,
        LEFT + plot_w / 2.0,
        TOP1 + H1 + GAP + H2 + 40.0,
        esc(zone)
    );
    s.push_str("</svg>\n");
    s
}

fn bucket_label(secs: i64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// A line through the points, broken where a point is missing, with a dot on each point.
fn polyline(s: &mut String, pts: &[Option<(f64, f64)>], color: &str, id: &str) {
    let _ = writeln!(s, r#"<g id="{id}">"#);
    for run in pts.split(Option::is_none) {
        let run: Vec<(f64, f64)> = run.iter().flatten().copied().collect();
        if run.len() > 1 {
            let p: Vec<String> = run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            let _ = writeln!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2.5" stroke-linejoin="round"/>"#,
                p.join(" ")
            );
        }
        for (x, y) in &run {
            let _ = writeln!(
                s,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="2.8" fill="{color}"/>"#
            );
        }
    }
    let _ = writeln!(s, "</g>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_scale_leaves_room_over_the_cap_and_the_window_rate() {
        // 2.5 % × 1.6 = 4 % exactly, not one step more.
        assert_eq!(rate_scale(0.025, 0.0), (0.04, 0.01));
        assert_eq!(rate_scale(0.03, 0.0), (0.05, 0.01));
        // A window rate of 25 % needs 28.75 %: 5 % steps up to 30 %.
        let (top, step) = rate_scale(0.03, 0.25);
        assert!((top - 0.30).abs() < 1e-9 && step == 0.05, "{top} {step}");
        assert_eq!(rate_scale(0.03, 0.95).0, 1.0);
    }

    #[test]
    fn the_period_is_labelled_in_the_campaign_zone() {
        let tz = TimeZone::get("America/New_York").unwrap();
        let t = 497_222 * 3_600_000 + 7 * 60_000 + 923;
        assert_eq!(
            period_label(t, t + 2 * 3_600_000, &tz),
            "2026-09-21 10:07 – 12:07"
        );
        assert_eq!(
            period_label(t, t + 24 * 3_600_000, &tz),
            "2026-09-21 10:07 – 2026-09-22 10:07"
        );
    }

    #[test]
    fn time_ticks_fall_on_round_local_times() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // 14:07Z .. 16:07Z = 10:07 .. 12:07 EDT: quarter hours from 10:15.
        let since = 497_222 * 3_600_000 + 7 * 60_000;
        let (ticks, step) = time_ticks(since, since + 2 * 3_600_000, &tz);
        assert_eq!(step, 15 * 60_000);
        assert_eq!(time_label(ticks[0], step, 7_200_000, &tz), "10:15");
        assert_eq!(ticks.len(), 8);
    }
}
