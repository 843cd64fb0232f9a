// Configuration of the backup-exporter monitoring mixin: selectors, thresholds and their
// overrides. Override fields in your own jsonnet:
//
//   (import 'mixin.libsonnet') + { _config+:: { exporterSelector: 'job="backups"' } }
//
// Thresholds are in seconds (ages) or ratios (licences). Every warning threshold must be
// below its critical one, overrides included: alerts/render fails naming the pair otherwise.
local hour = 3600;
local day = 24 * hour;
{
  _config+:: {
    // Selects the exporter's series; every expression uses it.
    exporterSelector: 'job="backup-exporter"',
    // Labels that tell exporter replicas apart (a rolling update, an HA pair): every rule
    // aggregates them away, so two replicas serving a source give one series and one alert.
    replicaLabels: ['instance', 'pod'],

    // Code42 device backup and connection alerts: 'exporter' fires them at the thresholds
    // below; 'vendor' fires them from the alert states Code42 itself reports per device
    // (backup_device_alert_state), so thresholds set in the Code42 console apply.
    code42Thresholds: 'exporter',
    // Code42: a device that has not completed a backup to any live destination (Code42's
    // alert e-mail defaults: warning after 3 days, critical after 5).
    backupAge: { warning: 3 * day, critical: 5 * day },
    // Code42: a destination that received no new data (the console's yellow and red
    // progress bar: 3 and 7 days), measured from the archive's last backup activity.
    noNewData: { warning: 3 * day, critical: 7 * day },
    // Code42: a device not connected to the Code42 cloud.
    connection: { warning: 3 * day, critical: 5 * day },
    // Druva: a Microsoft 365 resource without a successful backup for this many of its
    // backup intervals (backupFrequency)...
    resourceIntervalFactor: { warning: 2, critical: 3 },
    // ...and never sooner than this (all a resource without a schedule, such as a user's
    // mailbox or OneDrive, gets).
    resourceAge: { warning: 1 * day, critical: 2 * day },
    // Druva: licence use (used / allocated).
    license: { warning: 0.9, critical: 1.0 },
    // Druva: time left before Druva deletes a preserved user's backup data (autoDeleteOn).
    // Less time is worse here: the warning comes first, with more time left.
    preservedDeletion: { warning: 14 * day, critical: 3 * day },

    // Protection SLOs (docs/alerting.md): the share of the items that can back up whose
    // backup age is within the warning threshold in force (the RPO), per Code42 org and
    // per Druva workload, against an objective over `sloWindow`; and the share of Druva
    // backup jobs that succeed. Burn-rate alerts page when an org's or a workload's error
    // budget burns fast (a systemic failure) and open a ticket when it burns slowly.
    rpoObjective: 0.95,
    jobObjective: 0.95,
    sloWindow: '30d',
    // The multiwindow, multi-burn-rate alerts of the Google SRE Workbook: over `long` and
    // `short` both, the budget burns `factor` times faster than the window allows.
    burnRates: [
      { long: '1h', short: '5m', factor: 14.4, severity: 'critical' },
      { long: '6h', short: '30m', factor: 6, severity: 'critical' },
      { long: '3d', short: '6h', factor: 1, severity: 'warning' },
    ],
    // Druva's job counters move once a refresh (15 minutes by default), so the job SLO's
    // short windows span at least two refreshes.
    jobBurnRates: [
      { long: '1h', short: '30m', factor: 14.4, severity: 'critical' },
      { long: '6h', short: '1h', factor: 6, severity: 'critical' },
      { long: '3d', short: '6h', factor: 1, severity: 'warning' },
    ],
    // Code42's fast signal: a device connected throughout the last `stalledAfter` that
    // completed no backup in it is stalled; when at least `stalledShare` of an org's
    // steadily connected devices (and `stalledMinDevices` of them) are, backups stopped
    // for the org or the vendor, and that pages within hours, not days.
    stalledAfter: 4 * hour,
    stalledConnectedWithin: 1 * hour,
    stalledShare: 0.5,
    stalledMinDevices: 3,

    // Overrides of the four age thresholds and the two objectives, most specific first: an
    // entry naming a source and an org (or workload) beats one naming only an org (or
    // workload), which beats one naming only a source, which beats the defaults above.
    // Examples:
    //   { org: 'Servers', backupAge: { warning: 1 * day, critical: 2 * day } },
    //   { source: 'crashplan-eu', connection: { warning: 7 * day, critical: 14 * day } },
    //   { workload: 'Exchange Online', resourceAge: { warning: 12 * hour, critical: 1 * day } },
    //   { org: 'Servers', rpoObjective: 0.99 },
    // An entry may set only `warning` or only `critical`; the other comes from the entries
    // below it, and the pair in force for every source and org (or workload) the entries
    // name must stay a tier: alerts/render fails naming the pair otherwise. Unknown keys
    // are refused.
    overrides: [],

    // Alerts about one device, destination, resource, licence or user open tickets: in a
    // fleet some laptop is always off. Their critical tier pages for the orgs and workloads
    // named here (optionally of one source), e.g. [{ org: 'Servers' }].
    pagingScopes: [],
    // An alert about one item must hold this long before it notifies: one odd refresh
    // does not open a ticket (data alerts also keep firing through gaps: keepFiringFor).
    itemFor: '30m',

    // A source whose last success is older than this many refresh intervals is stale (a
    // warning, a ticket)...
    staleIntervals: 3,
    // ...and critically stale, a page, after this long, and never sooner than
    // `staleCriticalIntervals` refresh intervals (more than `staleIntervals`). A source that
    // never succeeded is as old as the time since the exporter started serving it.
    staleCritical: 6 * hour,
    staleCriticalIntervals: 6,
    // How long the exporter or a source may be failing before it alerts.
    exporterDownFor: '5m',
    sourceFailingFor: '15m',
    // A failed last backup must persist this long (over a couple of refreshes).
    lastBackupFailedFor: '30m',
    // Data alerts keep firing through gaps this long (an exporter restart, failed
    // scrapes), so they neither resolve falsely nor notify again when the data returns.
    keepFiringFor: '1h',
    // Rows skipped (other than duplicates) in every hour for this long: a ticket.
    rowsSkippedFor: '1h',

    // Where alert annotations link to: the runbook, and Grafana with the shipped dashboards.
    runbookUrl: 'https://github.com/backup-exporter/backup-exporter/blob/main/docs/runbook.md',
    grafanaUrl: 'http://localhost:3000',

    // Dashboards.
    dashboardTags: ['backup-exporter'],
    dashboardRefresh: '1m',
    dashboardTimezone: 'utc',
  },
}
