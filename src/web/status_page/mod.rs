//! The landing page, a status view for people without Grafana at hand: each source's
//! state, the estate's devices and resources by health, and the stalest of them
//! ([`summary`]), rendered as plain HTML with inline CSS: no scripts, no external assets.

mod summary;

use std::fmt::Write;

use super::App;
use super::self_metrics::VERSION;
use crate::health::STALEST;
use crate::runtime::clock::format_rfc3339;
use summary::{Summary, summarize};

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A duration in ms as people read it on a status page: "4d 3h", "2h 5m", "40s".
pub(crate) fn format_age(ms: i64) -> String {
    let seconds = ms.max(0) / 1000;
    let (days, hours, minutes) = (seconds / 86_400, seconds / 3600 % 24, seconds / 60 % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// A moment as "3m ago" or "in 12m", with the exact time on hover.
fn moment(ms: i64, now_ms: i64) -> String {
    let relative = if ms <= now_ms {
        format!("{} ago", format_age(now_ms - ms))
    } else {
        format!("in {}", format_age(ms - now_ms))
    };
    format!(
        "<time datetime=\"{0}\" title=\"{0}\">{relative}</time>",
        format_rfc3339(ms)
    )
}

/// The page for the sources `app` serves, at the time of its clock.
pub(crate) fn render(app: &App) -> String {
    let summary = summarize(&app.sources.load(), app.clock.now_ms());
    html(&summary, &app.telemetry_path)
}

/// The page's style sheet.
const STYLE: &str = r#"body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem; max-width: 72rem; color: #1f2328; line-height: 1.4; }
h1 { font-size: 1.5rem; margin: .2rem 0; } h2 { font-size: 1.15rem; margin-top: 1.6rem; } h3 { margin: 0; font-size: 1rem; text-transform: capitalize; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .92rem; }
td, th { border-bottom: 1px solid #d0d7de; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #1a7f37; } .warn { color: #9a6700; } .bad { color: #cf222e; } .wait, .off { color: #57606a; }
.err { color: #cf222e; font-size: .85rem; word-break: break-word; }
.tiles { display: flex; flex-wrap: wrap; gap: .8rem; }
.tile { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem .9rem; flex: 1 1 16rem; }
.tile p { margin: .3rem 0 0; font-size: 1.05rem; }
small { color: #57606a; }
@media (max-width: 40rem) { body { padding: .6rem; } td, th { padding: .3rem .3rem; } }
"#;

fn html(summary: &Summary, telemetry_path: &str) -> String {
    let (source_rows, health_rows) = (source_rows(summary), health_rows(summary));
    let (tiles, stale_rows) = (tiles(summary), stale_rows(summary));
    let rules = escape_html(&summary.rules.join(" "));
    let metrics = escape_html(telemetry_path);
    let generated = format_rfc3339(summary.now_ms);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>backup-exporter status</title>
<style>
{STYLE}</style>
</head>
<body>
<h1>backup-exporter</h1>
<p><small>Version {VERSION} · as of <time datetime="{generated}">{generated}</time> · times are UTC; hover for exact times</small><br>
<a href="{metrics}">Metrics</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>

<h2>Sources</h2>
<div class="scroll"><table id="sources">
<tr><th>Source</th><th>State</th><th>Last success</th><th>Next refresh</th><th class="num">Series</th><th>Vendor</th><th>Last error</th></tr>
{source_rows}</table></div>

<h2>Health</h2>
<div class="tiles">{tiles}</div>
<p><small>By the default thresholds of the alerting rules. {rules}</small></p>
<div class="scroll"><table id="health">
<tr><th>Source</th><th>Of</th><th class="num">Total</th><th class="num">Healthy</th><th class="num">Warning</th><th class="num">Critical</th><th class="num">Not protected</th></tr>
{health_rows}</table></div>

<h2>The {STALEST} stalest devices and resources</h2>
<div class="scroll"><table id="stalest">
<tr><th class="num">#</th><th>Name</th><th>Last completed backup</th><th>Source</th><th>Org or workload</th></tr>
{stale_rows}</table></div>
</body>
</html>
"#
    )
}

/// A row per source: its state, last success, next refresh, series and last error.
fn source_rows(summary: &Summary) -> String {
    let now = summary.now_ms;
    let mut source_rows = String::new();
    for row in &summary.sources {
        let _ = writeln!(
            source_rows,
            "<tr><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            escape_html(&row.name),
            row.state.class(),
            row.state.phrase(),
            row.last_success_ms
                .map(|t| moment(t, now))
                .unwrap_or_else(|| "never".into()),
            row.next_refresh_ms
                .map(|t| moment(t, now))
                .unwrap_or_else(|| "running now".into()),
            row.series,
            row.vendor,
            escape_html(row.last_error.as_deref().unwrap_or("")),
        );
    }
    source_rows
}

/// A row per source and kind of item: how many are healthy, warning, critical, unprotected.
fn health_rows(summary: &Summary) -> String {
    let mut health_rows = String::new();
    for row in &summary.health {
        let _ = writeln!(
            health_rows,
            "<tr><td>{}</td><td>{}s</td><td class=\"num\">{}</td><td class=\"num ok\">{}</td><td class=\"num warn\">{}</td><td class=\"num bad\">{}</td><td class=\"num off\">{}</td></tr>",
            escape_html(&row.source),
            row.kind,
            row.items,
            row.counts.healthy,
            row.counts.warning,
            row.counts.critical,
            row.counts.unprotected
        );
    }
    health_rows
}

/// A tile per kind of item with the totals across sources.
fn tiles(summary: &Summary) -> String {
    let mut tiles = String::new();
    for (kind, total) in &summary.totals {
        let _ = write!(
            tiles,
            "<div class=\"tile\"><h3>{kind}s</h3><p><span class=\"ok\">{} healthy</span> · <span class=\"warn\">{} warning</span> · <span class=\"bad\">{} critical</span> · <span class=\"off\">{} not protected (by choice)</span></p></div>",
            total.healthy, total.warning, total.critical, total.unprotected
        );
    }
    tiles
}

/// The stalest items, oldest first.
fn stale_rows(summary: &Summary) -> String {
    let now = summary.now_ms;
    let mut stale_rows = String::new();
    for (i, (source, item)) in summary.stalest.iter().enumerate() {
        let age = format_age(now - item.since_ms);
        let last = if item.never_completed {
            format!("never completed <small>(created {age} ago)</small>")
        } else {
            format!("{age} ago")
        };
        let _ = writeln!(
            stale_rows,
            "<tr><td class=\"num\">{}</td><td>{}</td><td class=\"age\" title=\"{}\">{last}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            escape_html(&item.name),
            format_rfc3339(item.since_ms),
            escape_html(source),
            escape_html(&item.group),
        );
    }
    if stale_rows.is_empty() {
        stale_rows = "<tr><td colspan=\"5\">No device or resource data yet.</td></tr>\n".into();
    }
    stale_rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn names_from_the_vendor_are_escaped() {
        use crate::health::StaleItem;
        let summary = Summary {
            now_ms: 86_400_000,
            stalest: vec![(
                "demo".into(),
                StaleItem {
                    name: "<img src=x onerror=alert(1)>".into(),
                    group: "R&D \"Labs\"".into(),
                    since_ms: 0,
                    never_completed: false,
                },
            )],
            ..Summary::default()
        };
        let html = html(&summary, "/metrics");
        assert!(
            html.contains("<td>&lt;img src=x onerror=alert(1)&gt;</td>"),
            "{html}"
        );
        assert!(html.contains("<td>R&amp;D &quot;Labs&quot;</td>"));
        assert!(!html.contains("<img"));
        assert!(html.contains(">1d 0h ago</td>"));
    }

    #[test]
    fn ages_read_like_a_person_would_say_them() {
        assert_eq!(format_age(42_000), "42s");
        assert_eq!(format_age(5 * 60_000 + 1), "5m");
        assert_eq!(format_age(2 * 3_600_000 + 5 * 60_000), "2h 5m");
        assert_eq!(
            format_age(4 * 86_400_000 + 3 * 3_600_000 + 59 * 60_000),
            "4d 3h"
        );
        assert_eq!(format_age(-5), "0s");
    }
}
