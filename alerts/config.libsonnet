// Configuration of the backup-exporter monitoring mixin: selectors, thresholds and their
// overrides. Override fields in your own jsonnet:
//
//   (import 'mixin.libsonnet') + { _config+:: { exporterSelector: 'job="backups"' } }
//
// Thresholds are in seconds (ages) or ratios (licences).
local hour = 3600;
local day = 24 * hour;
{
  _config+:: {
    // Selects the exporter's series; every expression uses it.
    exporterSelector: 'job="backup-exporter"',

    // Code42: an archive without a completed backup (Code42's alert e-mail defaults:
    // warning after 3 days, critical after 5).
    backupAge: { warning: 3 * day, critical: 5 * day },
    // Code42: a destination that received no new data (the console's yellow and red
    // progress bar: 3 and 7 days), measured from the archive's last backup activity.
    noNewData: { warning: 3 * day, critical: 7 * day },
    // Code42: a device not connected to the Code42 cloud.
    connection: { warning: 3 * day, critical: 5 * day },
    // Druva: a Microsoft 365 resource without a successful backup. The effective
    // threshold is the larger of this and `resourceIntervalFactor` times the resource's
    // expected interval (its backup frequency).
    resourceAge: { warning: 3 * day, critical: 5 * day },
    resourceIntervalFactor: { warning: 2, critical: 2 },
    // Druva: licence use (used / allocated).
    license: { warning: 0.9, critical: 1.0 },

    // Overrides of the four age thresholds, most specific first: an entry naming a source
    // and an org (or workload) beats one naming only an org (or workload), which beats one
    // naming only a source, which beats the defaults above. Examples:
    //   { org: 'Servers', backupAge: { warning: 1 * day, critical: 2 * day } },
    //   { source: 'crashplan-eu', connection: { warning: 7 * day, critical: 14 * day } },
    //   { workload: 'Exchange Online', resourceAge: { warning: 1 * day, critical: 2 * day } },
    // An entry may set only `warning` or only `critical`.
    overrides: [],

    // A source whose last success is older than this many refresh intervals is stale.
    staleIntervals: 3,
    // How long the exporter or a source may be failing before it alerts.
    exporterDownFor: '5m',
    sourceFailingFor: '15m',
    // A failed last backup must persist this long (over a couple of refreshes).
    lastBackupFailedFor: '30m',
    // Data alerts keep firing through gaps this long (an exporter restart, a failed
    // scrape), so they neither resolve falsely nor re-notify.
    keepFiringFor: '30m',

    // Where alert annotations link to.
    runbookUrl: 'https://github.com/backup-exporter/backup-exporter/blob/main/docs/runbook.md',

    // Dashboards.
    dashboardTags: ['backup-exporter'],
    dashboardRefresh: '1m',
    dashboardTimezone: 'utc',
  },
}
