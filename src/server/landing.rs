//! The landing page: what this exporter is and how its sources are doing.

use std::fmt::Write;

use super::App;
use crate::self_metrics::VERSION;
use crate::timestamp::format_rfc3339;

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
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

pub fn render(app: &App) -> String {
    let mut rows = String::new();
    for source in app.sources.load().iter() {
        let status = source.status();
        let state = match (status.attempted, status.up) {
            (false, _) => "waiting for first refresh",
            (true, true) => "up",
            (true, false) => "failing",
        };
        let series = source.snapshot().map_or(0, |s| s.exposition.series_count());
        let _ = writeln!(
            rows,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape_html(&source.spec.name),
            source.spec.vendor.name(),
            if status.up { "ok" } else { "bad" },
            state,
            status
                .last_success_ms
                .map(format_rfc3339)
                .unwrap_or_else(|| "never".into()),
            status
                .next_refresh_ms
                .map(format_rfc3339)
                .unwrap_or_default(),
            series,
            escape_html(status.last_error.as_deref().unwrap_or("")),
        );
    }
    let metrics = escape_html(&app.telemetry_path);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>backup-exporter</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }}
.ok {{ color: #1a7f37; }} .bad {{ color: #cf222e; }}
</style>
</head>
<body>
<h1>backup-exporter</h1>
<p>Version {VERSION}. Prometheus exporter for Code42/CrashPlan and Druva inSync backup reporting.</p>
<p><a href="{metrics}">Metrics</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
<h2>Sources</h2>
<table>
<tr><th>Source</th><th>Vendor</th><th>State</th><th>Last success</th><th>Next refresh</th><th>Series</th><th>Last error</th></tr>
{rows}</table>
</body>
</html>
"#
    )
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
}
