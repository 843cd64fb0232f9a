#!/usr/bin/env python3
"""Writes alerts/tests/fleet_test.yml: a week of exporter output for a fleet, as an on-call
rota lives it, and the alerts the shipped rules must (and must not) raise. alerts/render
runs it and CI checks the file is current; tests/alert_routing.rs sends every alert it
expects through alerts/alertmanager.example.yml.

Each scenario is a week at 10-minute steps of what the exporter serves for a Code42 source
of two orgs of ten laptops (and, for the jobs scenario, a Druva source): backup ages and
completion times, last activity and connection, per replica, with each source's last
successful refresh. The laptops complete backups every 15 minutes to 12 hours while on; one
per org is switched off; one keeps sending data but never completes (seed 002's locked
files). Usage: python3 alerts/tests/fleet.py [OUTPUT]
"""

import sys

STEP = 600  # seconds between samples and rule evaluations
WEEK = 7 * 86400
HOUR, DAY = 3600, 86400
STEPS = WEEK // STEP
RUNBOOK = "https://github.com/backup-exporter/backup-exporter/blob/main/docs/runbook.md#"
ORGS = ["Eng", "Sales"]
# Completion period of each laptop of an org while it is on, in seconds; the last two are
# the switched-off laptop and the one with locked files.
PERIODS = [600, 1200, 1800, 3600, 3600, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR]


def encode(values):
    """promtool's series notation for one value per step: runs of a constant step become
    `a+bxN`, missing values `_`."""
    out, i = [], 0
    while i < len(values):
        v = values[i]
        if v is None:
            j = i
            while j + 1 < len(values) and values[j + 1] is None:
                j += 1
            out.append("_" if j == i else f"_x{j - i}")
            i = j + 1
            continue
        j, delta = i, None
        while j + 1 < len(values) and values[j + 1] is not None:
            d = values[j + 1] - values[j]
            if delta is None:
                delta = d
            elif d != delta:
                break
            j += 1
        if j == i:
            out.append(num(v))
        elif delta == 0:
            out.append(f"{num(v)}x{j - i}")
        else:
            sign = "+" if delta > 0 else "-"
            out.append(f"{num(v)}{sign}{num(abs(delta))}x{j - i}")
        i = j + 1
    return " ".join(out)


def num(v):
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def labels(pairs):
    return ",".join(f'{k}="{v}"' for k, v in pairs)


class Laptop:
    """A Code42 laptop with one destination: when it is on, when its backups complete, when
    data last reached the cloud."""

    def __init__(self, org, index, period, off_from=None, locked=False):
        self.org, self.uid, self.period = org, f"{ORGS.index(org) + 1}{index:02d}", period
        self.name = f"{org.upper()}-{index:02d}"
        self.off_from, self.locked = off_from, locked

    def on(self, t):
        return self.off_from is None or t < self.off_from

    def state(self, t, stops_at=None):
        """(last connected, last completed, last activity) as of time t; completions and
        activity stop at `stops_at` (the vendor or the org no longer accepts backups)."""
        seen = t if self.on(t) else self.off_from
        accepting_until = seen if stops_at is None else min(seen, stops_at)
        phase = (int(self.uid) * STEP) % self.period
        completed = ((accepting_until - phase) // self.period) * self.period + phase
        if self.locked:
            completed = -10 * DAY
        return seen, completed, accepting_until


class Scenario:
    def __init__(self, name, comment):
        self.name, self.comment = name, comment
        self.series, self.alerts = [], []

    def add(self, metric, pairs, values):
        self.series.append((metric, pairs, values))

    def expect(self, at, alertname, alerts):
        self.alerts.append((at, alertname, alerts))

    def yaml(self):
        out = [f"  - name: {quote(self.name)}", f"    interval: {STEP // 60}m", "    input_series:"]
        out += [f"      # {line}" for line in self.comment.split("\n")]
        for metric, pairs, values in self.series:
            out.append(f"      - series: '{metric}{{{labels(pairs)}}}'")
            out.append(f"        values: '{encode(values)}'")
        out.append("    alert_rule_test:")
        for at, alertname, alerts in self.alerts:
            out.append(f"      - eval_time: {duration(at)}")
            out.append(f"        alertname: {alertname}")
            if not alerts:
                out.append("        exp_alerts: []")
                continue
            out.append("        exp_alerts:")
            for alert in alerts:
                label_text = ", ".join(f"{k}: {quote(v)}" for k, v in alert["labels"])
                out.append(f"          - exp_labels: {{{label_text}}}")
                if "annotations" in alert:
                    out.append("            exp_annotations:")
                    for k, v in alert["annotations"]:
                        out.append(f"              {k}: {quote(v)}")
        return "\n".join(out)


def quote(v):
    v = str(v)
    safe = all(c.isalnum() or c in " ._@/-" for c in v) and not v[:1].isdigit() and ": " not in v
    return v if safe and v else '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def duration(seconds):
    d, rest = divmod(seconds, DAY)
    h, rest = divmod(rest, HOUR)
    m = rest // 60
    return "".join(f"{n}{u}" for n, u in [(d, "d"), (h, "h"), (m, "m")] if n) or "0m"


def times():
    return [i * STEP for i in range(STEPS + 1)]


def fleet():
    """Two orgs: in each, laptops backing up at their periods, one switched off 2 days
    before the week starts (9 days by its end), and one whose files are locked (data flows,
    no backup completes); in Eng one more is switched off on day 3 (4 days by the end)."""
    laptops = []
    for org in ORGS:
        for i, period in enumerate(PERIODS):
            laptops.append(Laptop(org, i, period))
        laptops.append(Laptop(org, len(PERIODS), HOUR, off_from=-2 * DAY))
        laptops.append(Laptop(org, len(PERIODS) + 1, HOUR, locked=True))
    laptops[3].off_from = 3 * DAY  # Eng's fourth laptop goes on leave on day 3
    return laptops


def code42(s, laptops, replicas, stops_at=lambda laptop: None, failing_from=None, down_from=None):
    """The exporter's Code42 series for `laptops`, served by `replicas` (instance names);
    the last replica fails to refresh from `failing_from` (its data freezes, its ages keep
    growing) or is down from `down_from` (no series at all)."""
    for replica in replicas:
        last = replica == replicas[-1]
        frozen = failing_from if last else None
        down = down_from if last else None

        def at(t):
            return None if down is not None and t >= down else t

        def data_time(t):
            return t if frozen is None or t < frozen else frozen

        inst = [("job", "backup-exporter"), ("instance", replica), ("source", "us")]
        s.add("up", [("job", "backup-exporter"), ("instance", replica)],
              [0 if at(t) is None else 1 for t in times()])
        s.add("backup_source_last_success_timestamp_seconds", inst,
              [None if at(t) is None else data_time(t) for t in times()])
        s.add("backup_source_up", inst + [("vendor", "code42")],
              [None if at(t) is None else (0 if frozen is not None and t >= frozen else 1) for t in times()])
        s.add("backup_source_refresh_interval_seconds", inst, [None if at(t) is None else 900 for t in times()])
        s.add("backup_source_start_timestamp_seconds", inst, [None if at(t) is None else 0 for t in times()])
        for org in ORGS:
            org_devices = [l for l in laptops if l.org == org]
            s.add("backup_org_devices", inst + [("org", org)], [None if at(t) is None else len(org_devices) for t in times()])
            s.add("backup_org_devices_unprotected", inst + [("org", org)], [None if at(t) is None else 0 for t in times()])
        for laptop in laptops:
            device = inst + [("org", laptop.org), ("device_uid", laptop.uid)]
            archive = device + [("destination", "cloud")]
            states = [laptop.state(data_time(t), stops_at(laptop)) for t in times()]
            s.add("backup_device_info", device + [("device_name", laptop.name), ("user", f"{laptop.name.lower()}@example.com")],
                  [None if at(t) is None else 1 for t in times()])
            s.add("backup_device_last_connected_timestamp_seconds", device,
                  [None if at(t) is None else st[0] for t, st in zip(times(), states)])
            s.add("backup_device_backup_age_seconds", archive,
                  [None if at(t) is None else t - st[1] for t, st in zip(times(), states)])
            s.add("backup_device_last_activity_timestamp_seconds", archive,
                  [None if at(t) is None else st[2] for t, st in zip(times(), states)])
            s.add("backup_device_cold_storage", archive, [None if at(t) is None else 0 for t in times()])


def druva_jobs(s, fail_from):
    """A Druva source whose Exchange Online and OneDrive backups finish two jobs every ten
    minutes each; one in fifty fails, and every one from `fail_from`."""
    inst = [("job", "backup-exporter"), ("instance", "e-1:9877"), ("source", "m365")]
    s.add("backup_source_last_success_timestamp_seconds", inst, times())
    s.add("backup_source_up", inst + [("vendor", "druva")], [1 for _ in times()])
    s.add("backup_source_refresh_interval_seconds", inst, [900 for _ in times()])
    for workload in ["Exchange Online", "OneDrive"]:
        failed, succeeded = 0, 0
        counts = {"failed": [], "success": []}
        for i, t in enumerate(times()):
            if i > 0:
                for job in range(2):
                    if t > fail_from or (i * 2 + job) % 50 == 0:
                        failed += 1
                    else:
                        succeeded += 1
            counts["failed"].append(failed)
            counts["success"].append(succeeded)
        for status, values in counts.items():
            s.add("backup_jobs_total", inst + [("workload", workload), ("operation", "backup"), ("status", status)], values)


def job_burn(workload, burn):
    return alert("BackupJobFailureBudgetBurn", "critical", "page", [
        ("source", "m365"), ("workload", workload), ("operation", "backup")], [
        ("summary", "A workload's backup jobs fail fast."),
        ("description", f"Druva backup jobs of workload {workload} (source m365) fail or are cancelled {burn} times more often than the objective allows over the 30d window."),
        ("runbook_url", RUNBOOK + "backupjobfailurebudgetburn"),
        ("dashboard_url", f"http://localhost:3000/d/backup-exporter-m365?var-source=m365&var-workload={workload}"),
    ])


def alert(name, severity, urgency, pairs, description=None):
    out = {"labels": [("severity", severity), ("job", "backup-exporter")] + pairs + [("urgency", urgency)]}
    if description is not None:
        out["annotations"] = description
    return out


def stalled(org, share):
    return alert("BackupCompletionsStalled", "critical", "page", [("source", "us"), ("org", org)], [
        ("summary", "An org's connected devices stopped completing backups."),
        ("description", f"{share} of the devices of org {org} (source us) that stayed connected for the last 4h completed no backup in that time: backups stopped for the org (an agent rollout, a policy) or for the vendor."),
        ("runbook_url", RUNBOOK + "backupcompletionsstalled"),
        ("dashboard_url", "http://localhost:3000/d/backup-exporter-compliance?var-source=us"),
    ])


def no_pages(s, at):
    for name in ["BackupCompletionsStalled", "BackupSourceDataStale", "BackupJobFailureBudgetBurn"]:
        s.expect(at, name, [])


def human(seconds):
    """Prometheus's humanizeDuration for whole seconds of a day or more."""
    d, rest = divmod(int(seconds), DAY)
    h, rest = divmod(rest, HOUR)
    m, sec = divmod(rest, 60)
    return f"{d}d {h}h {m}m {sec}s"


def rpo_ticket(org, burn):
    return alert("BackupRPOBudgetBurn", "warning", "ticket", [("source", "us"), ("org", org)], [
        ("summary", "Backups of an org or workload fall behind their RPO."),
        ("description", f"The share of the devices of org {org} (source us) within their backup-age warning threshold is below its objective, burning the error budget {burn} times faster than the 30d window allows."),
        ("runbook_url", RUNBOOK + "backuprpobudgetburn"),
        ("dashboard_url", "http://localhost:3000/d/backup-exporter-compliance?var-source=us"),
    ])


def device_alert(name, severity, laptop, summary, description):
    return alert(name, severity, "ticket", [
        ("source", "us"), ("org", laptop.org), ("device_uid", laptop.uid),
        ("device_name", laptop.name), ("user", f"{laptop.name.lower()}@example.com"),
    ], [
        ("summary", summary),
        ("description", description),
        ("runbook_url", RUNBOOK + name.lower()),
        ("dashboard_url", f"http://localhost:3000/d/backup-exporter-device?var-source=us&var-org={laptop.org}&var-device={laptop.uid}"),
    ])


def item_alerts(s, laptops, at, stops_at=lambda laptop: None):
    """The device alerts of the vendors' semantics at `at`, worked out from the laptops'
    model with the default thresholds (3 and 5 days; no new data 3 days, a warning), each
    held for the 30 minutes before: what the rules must raise, one ticket per device."""
    held = [at - k * STEP for k in range(0, 1800 // STEP + 1)]

    def ages(laptop, t):
        seen, completed, activity = laptop.state(t, stops_at(laptop))
        return t - seen, t - completed, t - activity

    def always(check):
        return all(check(t) for t in held)

    expected = {name: [] for name in [
        "BackupDeviceBackupAge", "BackupDeviceNotConnected", "BackupDestinationNoNewData", "BackupDeviceNotCompleting"]}
    who = "{} (user {}, org {}, source us)"
    for laptop in laptops:
        device = who.format(laptop.name, f"{laptop.name.lower()}@example.com", laptop.org)
        connection, backup, activity = ages(laptop, at)
        sending = activity <= 3 * DAY
        for level, limit in [("warning", 3 * DAY), ("critical", 5 * DAY)]:
            if always(lambda t: ages(laptop, t)[0] > limit):
                expected["BackupDeviceNotConnected"].append(device_alert(
                    "BackupDeviceNotConnected", level, laptop,
                    "A device has not connected to the backup service for too long.",
                    f"Device {device} last connected to Code42 {human(connection)} ago."))
            if always(lambda t: ages(laptop, t)[1] > limit and ages(laptop, t)[2] > 3 * DAY):
                expected["BackupDeviceBackupAge"].append(device_alert(
                    "BackupDeviceBackupAge", level, laptop,
                    "A device hasn't backed up to any destination for too long.",
                    f"Device {device} has not completed a backup to any destination for {human(backup)}."))
        if always(lambda t: ages(laptop, t)[2] > 3 * DAY):
            expected["BackupDestinationNoNewData"].append(device_alert(
                "BackupDestinationNoNewData", "warning", laptop,
                "No backup destination has received new data for too long.",
                f"No live destination has received backup data from device {device} for {human(activity)}."))
        if sending and always(lambda t: ages(laptop, t)[1] > 3 * DAY and ages(laptop, t)[2] <= 3 * DAY):
            expected["BackupDeviceNotCompleting"].append(device_alert(
                "BackupDeviceNotCompleting", "warning", laptop,
                "A device sends backup data but completes no backup.",
                f"Device {device} last completed a backup {human(backup)} ago, yet a destination received new data recently. "
                "Code42: \"the device is likely sending new files, but a small number of files may be locked and preventing backup.\""))
    for name, alerts in expected.items():
        s.expect(at, name, alerts)


def main():
    scenarios = []
    laptops = fleet()
    off = [l for l in laptops if l.off_from is not None]
    locked = [l for l in laptops if l.locked]

    quiet = Scenario(
        "a quiet fleet: a tenth of its laptops switched off for days pages nobody",
        "Two laptops of twenty are off for the whole week (9 days by its end), one more from\n"
        "day 3 (in Eng); two have locked files. Every alert is a ticket: the off laptops' (one each,\n"
        "the rest inhibited in Alertmanager), the locked ones', and the orgs' RPO budgets\n"
        "burning slowly. Nothing pages.",
    )
    code42(quiet, laptops, ["e-1:9877"])
    for day in range(1, 8):
        no_pages(quiet, day * DAY)
        item_alerts(quiet, laptops, day * DAY)
    # Two of each org's eleven laptops are beyond their RPO (the one off all week, the
    # locked one) from day 1 until Eng's second leaver joins them on day 6: the budget of
    # 5 % burns 3.6 times too fast, a ticket, never the 6 times of a page.
    for day in [4, 5]:
        quiet.expect(day * DAY, "BackupRPOBudgetBurn", [rpo_ticket(org, "3.636") for org in ORGS])
    scenarios.append(quiet)

    vendor_stop = Scenario(
        "the vendor stops completing backups while devices stay connected: a page within 6 hours",
        "From day 5 no laptop completes a backup and no data reaches the cloud; they stay\n"
        "connected. By day 5 + 6h every org's stalled completions page, once per org (one\n"
        "notification per source in Alertmanager), days before any laptop's backup age would.",
    )
    code42(vendor_stop, laptops, ["e-1:9877"], stops_at=lambda laptop: 5 * DAY)
    no_pages(vendor_stop, 5 * DAY)
    vendor_stop.expect(5 * DAY + 3 * HOUR, "BackupCompletionsStalled", [])
    # Every laptop connected all along (nine of Eng's, ten of Sales') is stalled.
    vendor_stop.expect(5 * DAY + 6 * HOUR, "BackupCompletionsStalled", [stalled(org, "100%") for org in ORGS])
    vendor_stop.expect(5 * DAY + 6 * HOUR, "BackupSourceDataStale", [])
    scenarios.append(vendor_stop)

    org_stop = Scenario(
        "one org's backups stop (a broken agent rollout): a page within 6 hours for that org alone",
        "From day 5 the laptops of Sales complete no backup; Eng carries on.",
    )
    code42(org_stop, laptops, ["e-1:9877"], stops_at=lambda laptop: 5 * DAY if laptop.org == "Sales" else None)
    org_stop.expect(5 * DAY + 3 * HOUR, "BackupCompletionsStalled", [])
    org_stop.expect(5 * DAY + 6 * HOUR, "BackupCompletionsStalled", [stalled("Sales", "100%")])
    scenarios.append(org_stop)

    failing = Scenario(
        "a failing replica beside a fresh one raises no item alert",
        "Two replicas serve the source; e-2 fails to refresh from day 2, so its data freezes\n"
        "and its ages keep growing. e-1 answers: no device, SLO or stalled alert comes from\n"
        "e-2's old data, and e-2 raises only its own ticket.",
    )
    code42(failing, laptops, ["e-1:9877", "e-2:9877"], failing_from=2 * DAY)
    for day in [3, 5, 7]:
        no_pages(failing, day * DAY)
        item_alerts(failing, laptops, day * DAY)
    failing.expect(5 * DAY, "BackupRPOBudgetBurn", [rpo_ticket(org, "3.636") for org in ORGS])
    failing.expect(5 * DAY, "BackupSourceRefreshFailing", [alert(
        "BackupSourceRefreshFailing", "warning", "ticket",
        [("instance", "e-2:9877"), ("source", "us"), ("vendor", "code42")], [
            ("summary", "A backup source fails to refresh."),
            ("description", "Source us (code42) has failed to refresh on e-2:9877 for 15m; its last good data is still served. See backup_source_refresh_failures_total and the exporter log."),
            ("runbook_url", RUNBOOK + "backupsourcerefreshfailing"),
            ("dashboard_url", "http://localhost:3000/d/backup-exporter-health?var-source=us"),
        ])])
    scenarios.append(failing)

    down = Scenario(
        "one replica down pages nobody and silences nothing",
        "Two replicas; e-2 is down (not scraped) from day 2. It raises its own ticket; the\n"
        "critical exporter alert, which would silence the data alerts, needs every replica down.",
    )
    code42(down, laptops, ["e-1:9877", "e-2:9877"], down_from=2 * DAY)
    for day in [3, 5, 7]:
        no_pages(down, day * DAY)
        item_alerts(down, laptops, day * DAY)
        down.expect(day * DAY, "BackupExporterDown", [alert(
            "BackupExporterDown", "warning", "ticket", [("instance", "e-2:9877")], [
                ("summary", "A backup-exporter replica is down."),
                ("description", "Prometheus has not scraped backup-exporter at e-2:9877 for 5m. Other replicas of the job still answer for the sources; this one will serve stale data when it returns until it refreshes."),
                ("runbook_url", RUNBOOK + "backupexporterdown"),
                ("dashboard_url", "http://localhost:3000/d/backup-exporter-health?var-source="),
            ])])
    scenarios.append(down)

    jobs = Scenario(
        "Druva backup jobs that start failing: the job budget pages within two hours",
        "One job in fifty fails (2 %, within the 5 % the objective allows) until day 5, then\n"
        "every one: the budget burns 20 times too fast, one page per workload.",
    )
    druva_jobs(jobs, 5 * DAY)
    for day in [1, 3, 5]:
        no_pages(jobs, day * DAY)
    jobs.expect(5 * DAY, "BackupJobFailureBudgetBurn", [])
    jobs.expect(5 * DAY + 2 * HOUR, "BackupJobFailureBudgetBurn", [
        job_burn(workload, "20") for workload in ["Exchange Online", "OneDrive"]])
    scenarios.append(jobs)

    with open(sys.argv[1] if len(sys.argv) > 1 else "alerts/tests/fleet_test.yml", "w") as out:
        out.write(HEADER)
        out.write("\n\n".join(s.yaml() for s in scenarios))
        out.write("\n")


HEADER = """# Generated by alerts/tests/fleet.py (alerts/render). Do not edit; change the script.
# promtool test rules alerts/tests/fleet_test.yml
# A week of exporter output per scenario, evaluated every 10 minutes as Prometheus would.
rule_files:
  - ../backup-exporter.rules.yml

evaluation_interval: 10m
group_eval_order:
  - backup-exporter.rules
  - backup-exporter

tests:
"""

if __name__ == "__main__":
    main()
