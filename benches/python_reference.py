"""A straightforward Python exporter doing backup-exporter's Code42 job, for comparison.

It reads DeviceBackupReport page by page with requests, keeps the rows, and exposes the
same per-device and per-archive families through a prometheus_client custom collector
(ages computed at scrape time), served by prometheus_client's HTTP server, which gzips
when asked. How it was used is in docs/performance.md:

    python3 -m venv /tmp/pyref && /tmp/pyref/bin/pip install prometheus_client requests
    /tmp/pyref/bin/python benches/python_reference.py http://127.0.0.1:18080 9100
"""

import sys
import time
from datetime import datetime

import requests
from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, GaugeMetricFamily

BASE, PORT = sys.argv[1], int(sys.argv[2])


def ts(value):
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def read_report():
    token = requests.post(
        f"{BASE}/api/v3/oauth/token?grant_type=client_credentials",
        auth=("demo-client", "demo-secret"),
    ).json()["access_token"]
    rows, page = [], 1
    while True:
        data = requests.get(
            f"{BASE}/api/v1/DeviceBackupReport",
            params={"active": "true", "pgNum": page, "pgSize": 1000},
            headers={"Authorization": f"Bearer {token}"},
        ).json()["data"]
        if not data:
            return rows
        rows.extend(data)
        page += 1


class Code42Collector:
    def __init__(self):
        self.rows = []

    def collect(self):
        now = time.time()
        info = GaugeMetricFamily(
            "backup_device_info", "Device attributes.",
            labels=["org", "device_uid", "device_name", "user", "os", "os_version", "app_version"])
        connected = GaugeMetricFamily(
            "backup_device_last_connected_timestamp_seconds", "Last connection.",
            labels=["org", "device_uid"])
        archive = ["org", "device_uid", "destination"]
        completed = GaugeMetricFamily(
            "backup_device_last_completed_backup_timestamp_seconds", "Last completed backup.", labels=archive)
        age = GaugeMetricFamily("backup_device_backup_age_seconds", "Backup age.", labels=archive)
        never = GaugeMetricFamily("backup_device_never_completed", "Never completed.", labels=archive)
        activity = GaugeMetricFamily(
            "backup_device_last_activity_timestamp_seconds", "Last activity.", labels=archive)
        ratio = GaugeMetricFamily("backup_device_backup_complete_ratio", "Complete ratio.", labels=archive)
        archive_bytes = GaugeMetricFamily("backup_device_archive_bytes", "Archive bytes.", labels=archive)
        selected = GaugeMetricFamily("backup_device_selected_bytes", "Selected bytes.", labels=archive)
        cold = GaugeMetricFamily("backup_device_cold_storage", "Cold storage.", labels=archive)
        seen = set()
        for r in self.rows:
            org, uid = r["orgName"], r["deviceUid"]
            if uid not in seen:
                seen.add(uid)
                info.add_metric([org, uid, r["deviceName"], r["username"], r["os"],
                                 r["osVersion"], r["version"]], 1)
                connected.add_metric([org, uid], ts(r["lastConnectedDate"]) or 0)
            labels = [org, uid, r["destinationName"]]
            last = ts(r["lastCompletedBackupDate"])
            if last is not None:
                completed.add_metric(labels, last)
                age.add_metric(labels, now - last)
            else:
                age.add_metric(labels, now - ts(r["creationDate"]))
                never.add_metric(labels, 1)
            if r["lastActivity"]:
                activity.add_metric(labels, ts(r["lastActivity"]))
            ratio.add_metric(labels, float(r["backupCompletePercentage"]) / 100)
            archive_bytes.add_metric(labels, float(r["archiveBytes"]))
            selected.add_metric(labels, float(r["selectedBytes"]))
            cold.add_metric(labels, 1 if str(r["coldStorage"]).lower() == "true" else 0)
        yield from (info, connected, completed, age, never, activity, ratio, archive_bytes, selected, cold)


collector = Code42Collector()
REGISTRY.register(collector)
started = time.time()
collector.rows = read_report()
print(f"first refresh: {time.time() - started:.2f} s, {len(collector.rows)} rows", flush=True)
start_http_server(PORT)
while True:
    time.sleep(3600)
