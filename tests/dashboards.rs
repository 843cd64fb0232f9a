//! Lints the shipped dashboards and rules: valid JSON, unique uids, the `datasource`
//! variable on every panel and target, modern panel types only, units set, and every
//! expression naming metrics that exist — in a real scrape of both vendors, among the
//! recording rules, or built into Prometheus.

mod common;

use std::collections::{BTreeSet, HashSet};

use backup_exporter::Clock;
use backup_exporter::simulator::SimulatorOptions;
use common::{Harness, NOW_MS, code42_yaml, druva_yaml};
use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Panel types rendered by Angular plugins, removed from current Grafana.
const ANGULAR: &[&str] = &[
    "graph",
    "singlestat",
    "table-old",
    "grafana-piechart-panel",
    "grafana-worldmap-panel",
    "grafana-clock-panel",
];
const MODERN: &[&str] = &[
    "timeseries",
    "stat",
    "table",
    "bargauge",
    "gauge",
    "text",
    "row",
    "piechart",
    "barchart",
    "state-timeline",
    "heatmap",
];
const PROMQL_WORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
];
/// Aggregations may take `by (...)` before their parentheses.
const AGGREGATIONS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "count",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "group",
];

/// Metric names an expression uses: identifiers that are not functions, keywords, label
/// names (inside `{}`, or in `by (...)` and similar lists) or parts of strings.
fn metric_names(expr: &str) -> Vec<String> {
    // Drop strings, label matchers and range selectors.
    let mut plain = String::new();
    let (mut in_string, mut braces, mut brackets, mut escaped) = (false, 0, 0, false);
    for c in expr.chars() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => braces += 1,
            '}' => braces -= 1,
            '[' => brackets += 1,
            ']' => brackets -= 1,
            c if braces == 0 && brackets == 0 => plain.push(c),
            _ => {}
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if PROMQL_WORDS.contains(&word.as_str()) {
                // The label list after these keywords is not metric names.
                skip_list = matches!(
                    word.as_str(),
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                );
            } else if next == Some(&'(') || AGGREGATIONS.contains(&word.as_str()) {
                // A function or aggregation.
            } else {
                names.push(word);
            }
            continue;
        }
        if c == '(' && skip_list {
            while i < chars.len() && chars[i] != ')' {
                i += 1;
            }
            skip_list = false;
        }
        if c.is_ascii_digit() || c == '.' {
            // Numbers (and durations like 1h in offsets) are not names.
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            continue;
        }
        i += 1;
    }
    names
}

#[test]
fn metric_names_are_extracted_from_promql() {
    assert_eq!(
        metric_names(
            r#"sum by (org) (increase(backup_jobs_total{source=~"$source", a="x{y}"}[$__rate_interval])) / on(source) group_left(name) backup:license_used:ratio > 0.9"#
        ),
        ["backup_jobs_total", "backup:license_used:ratio"]
    );
    assert_eq!(metric_names("count(up == 0) or vector(0)"), ["up"]);
}

/// Metric names of a real scrape of both vendors, the recording rules and Prometheus's own.
async fn known_metrics() -> HashSet<String> {
    let harness = Harness::start(
        SimulatorOptions::default(),
        Clock::manual(NOW_MS),
        |url, secret| {
            code42_yaml(url, secret, "")
                + druva_yaml(url, secret, "").trim_start_matches("sources:\n")
        },
    )
    .await;
    let mut known: HashSet<String> = harness
        .metrics()
        .await
        .0
        .into_iter()
        .map(|s| s.name)
        .collect();
    harness.stop().await;
    for rule in rules() {
        if let Some(record) = rule.get("record").and_then(Value::as_str) {
            known.insert(record.to_string());
        }
    }
    known.extend(
        [
            "up",
            "scrape_duration_seconds",
            "ALERTS",
            "ALERTS_FOR_STATE",
        ]
        .map(String::from),
    );
    known
}

fn rules() -> Vec<Value> {
    let text = std::fs::read_to_string(format!("{ROOT}/alerts/backup-exporter.rules.yml")).unwrap();
    let doc: Value = yaml_serde::from_str(&text).unwrap();
    doc["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().clone())
        .collect()
}

fn dashboards() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("{ROOT}/dashboards")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let dashboard = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: invalid JSON: {e}", path.display()));
            out.push((
                path.file_name().unwrap().to_string_lossy().into_owned(),
                dashboard,
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        out.len() >= 4,
        "the overview, device, Microsoft 365 and exporter dashboards"
    );
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboards_follow_grafana_conventions_and_query_existing_metrics() {
    let known = known_metrics().await;
    let mut uids = BTreeSet::new();
    for (file, dashboard) in dashboards() {
        let uid = dashboard["uid"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no fixed uid"));
        assert!(uids.insert(uid.to_string()), "{file}: uid {uid} used twice");
        assert!(
            dashboard["schemaVersion"].as_u64().unwrap() >= 39,
            "{file}: schemaVersion"
        );
        let variables = dashboard["templating"]["list"].as_array().unwrap();
        assert!(
            variables.iter().any(|v| v["name"] == "datasource"
                && v["type"] == "datasource"
                && v["query"] == "prometheus"),
            "{file}: a datasource variable"
        );
        for variable in variables.iter().filter(|v| v["type"] == "query") {
            assert_eq!(
                variable["datasource"]["uid"], "${datasource}",
                "{file}: variable {}",
                variable["name"]
            );
            // label_values(<selector>, <label>): the selector's metric; query_result(<expr>):
            // the expression's.
            let query = variable["query"]["query"].as_str().unwrap();
            let selector = match query.strip_prefix("query_result(") {
                Some(expr) => expr.trim_end_matches(')'),
                None => query
                    .trim_start_matches("label_values(")
                    .rsplit_once(',')
                    .map_or(query, |(s, _)| s),
            };
            assert!(!metric_names(selector).is_empty(), "{file}: {query}");
            for name in metric_names(selector) {
                assert!(
                    known.contains(&name),
                    "{file}: variable {} queries unknown metric {name}",
                    variable["name"]
                );
            }
        }
        let mut ids = HashSet::new();
        for panel in dashboard["panels"].as_array().unwrap() {
            let title = panel["title"].as_str().unwrap_or("");
            let kind = panel["type"].as_str().unwrap();
            assert!(
                !ANGULAR.contains(&kind) && MODERN.contains(&kind),
                "{file}: panel {title:?} has type {kind}"
            );
            assert!(
                ids.insert(panel["id"].as_u64().unwrap()),
                "{file}: panel id repeated"
            );
            assert_eq!(
                panel["datasource"]["uid"], "${datasource}",
                "{file}: panel {title:?} uses the datasource variable"
            );
            assert!(
                panel["fieldConfig"]["defaults"]["unit"].is_string(),
                "{file}: panel {title:?} sets a unit"
            );
            assert!(
                panel["description"].as_str().is_some_and(|d| d.len() > 20),
                "{file}: panel {title:?} has a description"
            );
            let targets = panel["targets"].as_array().unwrap();
            assert!(!targets.is_empty(), "{file}: panel {title:?} has targets");
            for target in targets {
                assert_eq!(
                    target["datasource"]["uid"], "${datasource}",
                    "{file}: panel {title:?}"
                );
                let expr = target["expr"].as_str().unwrap_or("");
                let names = metric_names(expr);
                assert!(
                    !names.is_empty(),
                    "{file}: panel {title:?} has an expression naming a metric: {expr:?}"
                );
                for name in names {
                    assert!(
                        known.contains(&name),
                        "{file}: panel {title:?} queries unknown metric {name}"
                    );
                }
            }
        }
    }
    let units: Vec<String> = dashboards()
        .iter()
        .flat_map(|(_, d)| {
            d["panels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    p["fieldConfig"]["defaults"]["unit"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect();
    for unit in ["s", "bytes", "percentunit"] {
        assert!(units.iter().any(|u| u == unit), "some panel shows {unit}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rule_names_existing_metrics_and_every_alert_has_its_annotations() {
    let known = known_metrics().await;
    for rule in rules() {
        let expr = rule["expr"].as_str().unwrap();
        let name = rule
            .get("alert")
            .or(rule.get("record"))
            .and_then(Value::as_str)
            .unwrap();
        for metric in metric_names(expr) {
            assert!(
                known.contains(&metric),
                "rule {name} uses unknown metric {metric}"
            );
        }
        if rule.get("alert").is_some() {
            let severity = rule["labels"]["severity"].as_str().unwrap();
            assert!(
                ["warning", "critical"].contains(&severity),
                "{name}: severity {severity}"
            );
            let annotations = &rule["annotations"];
            for key in ["summary", "description", "runbook_url", "dashboard_url"] {
                assert!(annotations[key].is_string(), "{name} has a {key}");
            }
            let dashboard = annotations["dashboard_url"].as_str().unwrap();
            let uid = dashboard
                .split("/d/")
                .nth(1)
                .and_then(|rest| rest.split(['/', '?']).next())
                .unwrap_or_else(|| panic!("{name}: {dashboard}"));
            assert!(
                dashboards().iter().any(|(_, d)| d["uid"] == uid),
                "{name}: links to a shipped dashboard ({uid})"
            );
            assert!(
                !annotations["summary"].as_str().unwrap().contains("{{"),
                "{name}: the summary is static"
            );
            let anchor = annotations["runbook_url"]
                .as_str()
                .unwrap()
                .rsplit_once('#')
                .unwrap()
                .1
                .to_string();
            let runbook = std::fs::read_to_string(format!("{ROOT}/docs/runbook.md")).unwrap();
            assert!(
                runbook.lines().any(|l| l
                    .strip_prefix("## ")
                    .is_some_and(|h| h.to_lowercase() == anchor)),
                "{name}: docs/runbook.md has a section #{anchor}"
            );
        }
    }
}

/// Every query of every dashboard, with the panel it belongs to.
fn queries() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (file, dashboard) in dashboards() {
        for panel in dashboard["panels"].as_array().unwrap() {
            for target in panel["targets"].as_array().unwrap() {
                out.push((
                    file.clone(),
                    panel["title"].as_str().unwrap().to_string(),
                    target["expr"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

#[test]
fn no_query_turns_missing_data_into_zero_or_merges_sources() {
    for (file, title, expr) in queries() {
        // `or vector(0)` shows 0 where there is no data at all (the exporter down); a
        // fallback must depend on the exporter's own series (`or 0 * count(...)`).
        assert!(
            !expr.replace(' ', "").contains("vector("),
            "{file}: panel {title:?} invents a number: {expr}"
        );
        // Orgs of the same name in two sources are different orgs.
        for list in expr.split("by (").skip(1) {
            let labels = &list[..list.find(')').unwrap()];
            if labels.split(',').any(|l| l.trim() == "org") {
                assert!(
                    labels.split(',').any(|l| l.trim() == "source"),
                    "{file}: panel {title:?} merges orgs across sources: {expr}"
                );
            }
        }
    }
}

fn panel<'a>(dashboard: &'a Value, title: &str) -> &'a Value {
    dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title:?}"))
}

/// The overrides of a panel's field (by its display name), as (property id, value).
fn field_properties<'a>(panel: &'a Value, field: &str) -> Vec<(&'a str, &'a Value)> {
    panel["fieldConfig"]["overrides"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["matcher"]["id"] == "byName" && o["matcher"]["options"] == field)
        .flat_map(|o| o["properties"].as_array().unwrap())
        .map(|p| (p["id"].as_str().unwrap(), &p["value"]))
        .collect()
}

#[test]
fn the_overview_shows_the_exporter_the_data_age_and_links_to_the_drill_downs() {
    let dashboards = dashboards();
    let overview = &dashboards
        .iter()
        .find(|(file, _)| file == "backup-overview.json")
        .unwrap()
        .1;
    // The exporter tile reads Prometheus's own `up`, mapped to words and colours.
    let exporter = panel(overview, "Exporter");
    assert!(
        exporter["targets"][0]["expr"]
            .as_str()
            .unwrap()
            .starts_with("up{")
    );
    let mappings = &exporter["fieldConfig"]["defaults"]["mappings"][0]["options"];
    assert_eq!(mappings["0"]["color"], "red");
    assert_eq!(mappings["1"]["color"], "green");

    // The data age is coloured by the level computed against the recorded thresholds.
    let age = panel(overview, "Data age");
    let exprs: Vec<&str> = age["targets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["expr"].as_str().unwrap())
        .collect();
    assert!(
        exprs
            .iter()
            .any(|e| e.contains("> bool backup:source_data_age_seconds:critical_threshold"))
    );
    let state = field_properties(age, "State");
    assert!(state.iter().any(|(id, value)| *id == "custom.cellOptions"
        && value["type"] == "color-background"
        && value["applyToRow"] == true));

    // Health counts: one tile per level, healthy included, from the recorded counts.
    for level in ["healthy", "warning", "critical", "unprotected"] {
        assert!(
            overview["panels"].as_array().unwrap().iter().any(|p| {
                p["type"] == "stat"
                    && p["targets"][0]["expr"].as_str().unwrap().starts_with(&format!(
                        "sum(backup:source_devices_by_health:count{{job=\"backup-exporter\", source=~\"$source\", health=\"{level}\""
                    ))
            }),
            "a devices {level} tile"
        );
    }

    // The tables link each row to its drill-down dashboard with the row's labels.
    for (title, column, uid) in [
        (
            "Needs attention: devices",
            "Device",
            "backup-exporter-device",
        ),
        ("Oldest device backups", "Device", "backup-exporter-device"),
        (
            "Needs attention: Microsoft 365",
            "Workload",
            "backup-exporter-m365",
        ),
        (
            "Oldest Microsoft 365 backups",
            "Workload",
            "backup-exporter-m365",
        ),
    ] {
        let properties = field_properties(panel(overview, title), column);
        let link = properties
            .iter()
            .find(|(id, _)| *id == "links")
            .unwrap_or_else(|| panic!("{title}: {column} links"))
            .1[0]["url"]
            .as_str()
            .unwrap();
        assert!(link.starts_with(&format!("/d/{uid}/")), "{title}: {link}");
        let target = dashboards
            .iter()
            .map(|(_, d)| d)
            .find(|d| d["uid"] == uid)
            .unwrap();
        // Every variable of the target dashboard is set from the row.
        for variable in target["templating"]["list"].as_array().unwrap() {
            let name = variable["name"].as_str().unwrap();
            if name != "datasource" {
                assert!(
                    link.contains(&format!("var-{name}=${{__data.fields.")),
                    "{title}: the link sets {name}: {link}"
                );
            }
        }
    }
    // Unhealthy rows show each check's level in colour.
    for (title, columns) in [
        (
            "Needs attention: devices",
            &["Health", "Backup", "New data", "Connection"][..],
        ),
        ("Needs attention: Microsoft 365", &["Health", "Backup"][..]),
    ] {
        for column in columns {
            let properties = field_properties(panel(overview, title), column);
            let mappings = properties
                .iter()
                .find(|(id, _)| *id == "mappings")
                .unwrap_or_else(|| panic!("{title}: {column} is mapped"))
                .1;
            assert_eq!(mappings[0]["options"]["2"]["text"], "critical");
            assert_eq!(mappings[0]["options"]["2"]["color"], "red");
        }
    }
}

#[test]
fn the_device_picker_shows_names_and_time_series_draw_the_recorded_thresholds() {
    let dashboards = dashboards();
    let device = &dashboards
        .iter()
        .find(|(file, _)| file == "backup-device.json")
        .unwrap()
        .1;
    let picker = device["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "device")
        .unwrap();
    let regex = picker["regex"].as_str().unwrap();
    assert!(
        regex.contains("(?<text>") && regex.contains("(?<value>"),
        "{regex}"
    );
    for title in ["Backup age", "No new data for", "Not connected for"] {
        let targets = panel(device, title)["targets"].as_array().unwrap();
        for level in ["warning", "critical"] {
            let line = targets
                .iter()
                .find(|t| t["legendFormat"] == format!("{level} threshold"))
                .unwrap_or_else(|| panic!("{title}: a {level} threshold line"));
            assert!(
                line["expr"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(":{level}_threshold")),
                "{title}: {level} from the recorded threshold"
            );
        }
    }
}
