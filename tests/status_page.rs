//! The status page (`/`) against the demo's simulated tenants at a fixed clock: the 20
//! stalest devices and resources across both sources, with their ages, and the devices
//! by health, compared with the simulator's own truth; then the same page opened in
//! headless Chromium (Debian's `chromium`), whose DOM must hold the same rows and whose
//! phone-sized screenshot must show the health colours.

mod common;

use std::path::Path;

use backup_exporter::Clock;
use backup_exporter::simulator::RunningSimulator;
use common::{Harness, NOW_MS, required_tool};

const DAY_MS: i64 = 86_400_000;

/// A row of the stalest table, as the page should show it.
#[derive(Debug, PartialEq)]
struct Row {
    source: String,
    name: String,
    group: String,
    age: String,
}

/// "4d 3h", "2h 5m": how the page words an age (independent of the exporter's code).
fn words(ms: i64) -> String {
    let (d, h, m) = (ms / DAY_MS, ms / 3_600_000 % 24, ms / 60_000 % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m")
    }
}

/// A device as Code42's backup alert sees it ("hasn't backed up to any destination"):
/// its live archives (not in cold storage) together.
#[derive(Default)]
struct Device {
    name: String,
    org: String,
    created_ms: i64,
    live: bool,
    /// The youngest last completed backup over its live archives.
    freshest_ms: Option<i64>,
    /// The oldest last activity over its live archives.
    oldest_activity_ms: Option<i64>,
    last_connected_ms: i64,
}

fn devices(sim: &RunningSimulator) -> std::collections::BTreeMap<String, Device> {
    let mut devices: std::collections::BTreeMap<String, Device> = Default::default();
    for a in sim.simulator.code42().truth(NOW_MS) {
        if !a.active {
            continue;
        }
        let device = devices.entry(a.device_uid.clone()).or_insert(Device {
            name: a.device_name.clone(),
            org: a.org.clone(),
            created_ms: a.creation_ms,
            last_connected_ms: a.last_connected_ms,
            ..Device::default()
        });
        if a.cold_storage {
            continue;
        }
        device.live = true;
        device.freshest_ms = device.freshest_ms.max(a.last_completed_ms);
        if let Some(t) = a.last_activity_ms {
            device.oldest_activity_ms = Some(device.oldest_activity_ms.map_or(t, |o| o.min(t)));
        }
    }
    devices
}

/// Druva's thresholds: 2 and 3 backup intervals, never under 1 and 2 days.
fn resource_thresholds_ms(interval_seconds: Option<u64>) -> (i64, i64) {
    let interval_ms = interval_seconds.unwrap_or(0) as i64 * 1000;
    (
        (2 * interval_ms).max(DAY_MS),
        (3 * interval_ms).max(2 * DAY_MS),
    )
}

/// The 20 stalest from the simulator's truth: a device by its freshest live destination
/// (or its creation when none ever completed), a resource by its last success or, if
/// none, when it was added. Devices with every archive in cold storage, and resources
/// disabled, archived or never scheduled, cannot back up: they are not ranked.
fn expected(sim: &RunningSimulator) -> Vec<Row> {
    let mut items: Vec<(i64, Row)> = Vec::new();
    let age = |since: i64, never: bool| {
        if never {
            format!("never completed (created {} ago)", words(NOW_MS - since))
        } else {
            format!("{} ago", words(NOW_MS - since))
        }
    };
    for device in devices(sim).into_values().filter(|d| d.live) {
        let since = device.freshest_ms.unwrap_or(device.created_ms);
        items.push((
            since,
            Row {
                source: "demo-crashplan".into(),
                name: device.name,
                group: device.org,
                age: age(since, device.freshest_ms.is_none()),
            },
        ));
    }
    for r in sim.simulator.druva().resources(NOW_MS) {
        if r.deleted || r.purged || !r.enabled || r.archived || r.unscheduled {
            continue;
        }
        let since = r.last_success_ms.unwrap_or(r.added_ms);
        items.push((
            since,
            Row {
                source: "demo-druva".into(),
                name: r.name,
                group: r.workload,
                age: age(since, r.last_success_ms.is_none()),
            },
        ));
    }
    items.sort_by_key(|(since, _)| *since);
    items.into_iter().take(20).map(|(_, row)| row).collect()
}

/// Text of an HTML fragment: tags removed, entities decoded.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The rows of the table with this id, each as its cells' text.
fn table(html: &str, id: &str) -> Vec<Vec<String>> {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let body = &html[start..start + html[start..].find("</table>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .filter(|row| row.contains("<td"))
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| text(&format!("<td{cell}")).trim().to_string())
                .collect()
        })
        .collect()
}

fn stalest_rows(html: &str) -> Vec<Row> {
    table(html, "stalest")
        .into_iter()
        .enumerate()
        .map(|(i, cells)| {
            assert_eq!(cells[0], (i + 1).to_string());
            Row {
                name: cells[1].clone(),
                age: cells[2].clone(),
                source: cells[3].clone(),
                group: cells[4].clone(),
            }
        })
        .collect()
}

/// Devices by health from the truth, with the alerting rules' default thresholds: healthy,
/// warning, critical and not protected (every archive in cold storage).
fn device_health(sim: &RunningSimulator) -> [usize; 4] {
    let over = |since: i64, days: i64| NOW_MS - since > days * DAY_MS;
    let mut counts = [0; 4];
    for d in devices(sim).values() {
        if !d.live {
            counts[3] += 1;
            continue;
        }
        let backup = match d.freshest_ms {
            Some(t) => over(t, 3) as usize + over(t, 5) as usize,
            None => over(d.created_ms, 3) as usize,
        };
        let activity = d
            .oldest_activity_ms
            .map_or(0, |t| over(t, 3) as usize + over(t, 7) as usize);
        let connection =
            over(d.last_connected_ms, 3) as usize + over(d.last_connected_ms, 5) as usize;
        counts[backup.max(activity).max(connection)] += 1;
    }
    counts
}

/// Resources by health from the truth: healthy, warning, critical and not protected.
fn resource_health(sim: &RunningSimulator) -> [usize; 4] {
    let mut counts = [0; 4];
    for r in sim.simulator.druva().resources(NOW_MS) {
        if r.deleted || r.purged {
            continue;
        }
        if !r.enabled || r.archived || r.unscheduled {
            counts[3] += 1;
            continue;
        }
        let (warning, critical) = resource_thresholds_ms(r.interval_seconds);
        let never = r.last_success_ms.is_none();
        let age = NOW_MS - r.last_success_ms.unwrap_or(r.added_ms);
        let mut level = usize::from(age > warning);
        if age > critical && !never {
            level = 2;
        }
        if r.status == "Backup Failed" {
            level = level.max(1);
        }
        counts[level] += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread")]
async fn shows_the_stalest_devices_and_resources_with_their_ages() {
    let demo = Harness::demo(Clock::manual(NOW_MS)).await;
    let html = common::get(demo.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let expected = expected(&demo.sim);
    assert_eq!(expected.len(), 20);
    assert!(expected.iter().any(|r| r.source == "demo-crashplan"));
    assert!(expected.iter().any(|r| r.source == "demo-druva"));
    assert_eq!(stalest_rows(&html), expected);

    let health = table(&html, "health");
    let row = |source: &str, kind: &str, counts: [usize; 4]| {
        let mut row = vec![
            source.to_string(),
            kind.to_string(),
            counts.iter().sum::<usize>().to_string(),
        ];
        row.extend(counts.iter().map(usize::to_string));
        row
    };
    let devices = device_health(&demo.sim);
    assert_eq!(health[0], row("demo-crashplan", "devices", devices));
    assert!(
        devices[1..].iter().all(|n| *n > 0),
        "the demo has devices in trouble and devices in cold storage: {devices:?}"
    );
    let resources = resource_health(&demo.sim);
    assert_eq!(health[1], row("demo-druva", "resources", resources));
    assert!(
        resources[1..].iter().all(|n| *n > 0),
        "the demo has resources in trouble and resources not protected: {resources:?}"
    );

    let sources = table(&html, "sources");
    assert_eq!(sources.len(), 2);
    for row in &sources {
        // Source, state, last success, next refresh (the demo refreshes every minute).
        assert_eq!(row[1], "up");
        assert_eq!(row[2], "0s ago");
        assert!(row[3].starts_with("in "), "{row:?}");
    }
    demo.stop().await;
}

fn run_chromium(browser: &Path, profile: &Path, args: &[String]) -> Vec<u8> {
    let output = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[tokio::test(flavor = "multi_thread")]
async fn renders_in_headless_chromium_on_a_phone_sized_screen() {
    let Some(browser) = required_tool(&["chromium", "chromium-browser"], "chromium") else {
        return;
    };
    let demo = Harness::demo(Clock::manual(NOW_MS)).await;
    let expected = expected(&demo.sim);
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("status.png");
    let (url, profile, shot_arg) = (
        demo.url("/"),
        dir.path().join("profile"),
        format!("--screenshot={}", shot.display()),
    );
    let dom = tokio::task::spawn_blocking(move || {
        let dom = run_chromium(&browser, &profile, &["--dump-dom".into(), url.clone()]);
        run_chromium(
            &browser,
            &profile,
            &["--window-size=390,1400".into(), shot_arg, url],
        );
        String::from_utf8(dom).unwrap()
    })
    .await
    .unwrap();

    // The browser's DOM: the page parsed as a browser parses it, escaping included.
    assert_eq!(stalest_rows(&dom), expected);
    // The tiles count what cannot back up apart from the healthy and the unhealthy.
    let unprotected = device_health(&demo.sim)[3];
    assert!(
        text(&dom).contains(&format!("{unprotected} not protected (by choice)")),
        "the devices tile shows {unprotected} not protected"
    );

    // The screenshot: phone-sized, with the tiles' green, amber and red text drawn.
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((frame.width, frame.height), (390, 1400));
    let channels = frame.buffer_size() / (frame.width * frame.height) as usize;
    let near = |colour: [u8; 3]| {
        pixels[..frame.buffer_size()]
            .chunks(channels)
            .any(|p| (0..3).all(|i| (p[i] as i32 - colour[i] as i32).abs() <= 12))
    };
    assert!(
        near([0x1a, 0x7f, 0x37]),
        "no healthy (green) text in the screenshot"
    );
    assert!(
        near([0x9a, 0x67, 0x00]),
        "no warning (amber) text in the screenshot"
    );
    assert!(
        near([0xcf, 0x22, 0x2e]),
        "no critical (red) text in the screenshot"
    );
    demo.stop().await;
}
