#!/usr/bin/env bash
# Demonstrates the remote-write path of docs/scaling.md on one machine: the exporter's demo,
# a Prometheus that evaluates the mixin's rules and remote-writes through
# prometheus-remote-write.yml's filter, and a VictoriaMetrics single node receiving it.
# Then it asks VictoriaMetrics what arrived: the roll-ups must be there, the per-device and
# per-resource series must not.
#
#   apt-get install prometheus victoria-metrics && cargo build --release
#   bash deploy/remote-write/demo.sh
#
# Optional: not part of the test suite (Debian's victoria-metrics package is not installed
# by .ci/run). Exit status 0 when what arrived is what the filter promises.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${BIN:-target/release/backup-exporter}
vm=$(command -v victoria-metrics || command -v victoria-metrics-prod || true)
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
[ -n "$vm" ] || { echo "needs Debian's victoria-metrics package" >&2; exit 2; }
command -v prometheus >/dev/null || { echo "needs Debian's prometheus package" >&2; exit 2; }

work=$(mktemp -d)
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
exporter_port=$(free_port); vm_port=$(free_port); prom_port=$(free_port)

"$bin" --demo --web.listen-address "127.0.0.1:$exporter_port" >"$work/exporter.log" 2>&1 & pids+=($!)
"$vm" -storageDataPath "$work/vm" -httpListenAddr "127.0.0.1:$vm_port" -retentionPeriod 1d >"$work/vm.log" 2>&1 & pids+=($!)

# prometheus.yml: scrape the exporter every 5 s, evaluate the rules, remote-write through the filter.
{
  echo "global: { scrape_interval: 5s, evaluation_interval: 5s }"
  echo "rule_files: [$PWD/alerts/backup-exporter.rules.yml]"
  echo "scrape_configs:"
  echo "  - job_name: backup-exporter"
  echo "    static_configs: [{ targets: ['127.0.0.1:$exporter_port'] }]"
  sed -e "s#http://victoria-metrics.example.net:8428#http://127.0.0.1:$vm_port#" -e '/^#/d' deploy/remote-write/prometheus-remote-write.yml
} >"$work/prometheus.yml"
promtool check config "$work/prometheus.yml" >/dev/null
prometheus --config.file "$work/prometheus.yml" --storage.tsdb.path "$work/tsdb" \
  --web.listen-address "127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 & pids+=($!)

series() { # number of series VictoriaMetrics holds whose name matches the regex $1
  curl -fsS "http://127.0.0.1:$vm_port/api/v1/series" --data-urlencode "match[]={__name__=~\"$1\"}" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'
}
local_series() {
  curl -fsS "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode "query=count({__name__=~\"$1\"})" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)'
}

echo "waiting for roll-ups to reach VictoriaMetrics (up to 90 s)..."
for _ in $(seq 90); do
  sleep 1
  curl -fsS -X POST "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null 2>&1 || true
  [ "$(series 'backup:source_devices_by_health:count' 2>/dev/null || echo 0)" -gt 0 ] && break
done
sleep 6
curl -fsS -X POST "http://127.0.0.1:$vm_port/internal/force_flush" >/dev/null 2>&1 || true

printf '%-48s %10s %16s\n' "series" "local" "VictoriaMetrics"
status=0
row() { # name-regex, expectation (shipped|kept-local)
  local here there
  here=$(local_series "$1"); there=$(series "$1")
  printf '%-48s %10s %16s\n' "$1" "$here" "$there"
  if [ "$2" = shipped ] && { [ "$here" -eq 0 ] || [ "$there" -eq 0 ]; }; then status=1; fi
  if [ "$2" = kept-local ] && { [ "$here" -eq 0 ] || [ "$there" -ne 0 ]; }; then status=1; fi
}
row 'backup:source_devices_by_health:count' shipped
row 'backup:org_devices_by_health:count' shipped
row 'backup:source_resources_by_health:count' shipped
row 'backup_source_up' shipped
row 'backup_org_devices' shipped
row 'backup_device_alerts' shipped
row 'backup_device_(info|backup_age_seconds|last_[a-z_]+)' kept-local
row 'backup_resource_.*' kept-local
row 'backup:device_health:level' kept-local
row 'backup:.*|backup_.*' -
if [ "$status" -eq 0 ]; then
  echo "remote write ships the roll-ups and keeps per-device and per-resource series local"
else
  echo "unexpected: see the table above; logs in $work" >&2
  trap - EXIT
fi
exit "$status"
