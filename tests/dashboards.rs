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
            // label_values(<selector>, <label>): the selector's metric.
            let query = variable["query"]["query"].as_str().unwrap();
            let selector = query
                .trim_start_matches("label_values(")
                .rsplit_once(',')
                .map_or(query, |(s, _)| s);
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
            for key in ["summary", "description", "runbook_url"] {
                assert!(annotations[key].is_string(), "{name} has a {key}");
            }
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
