// Alerting rules. Tiered alerts share a name and differ by `severity`: the warning fires
// above the warning threshold (also when critical), the critical above the critical one;
// Alertmanager inhibits the warning while the critical fires (alertmanager.example.yml).
// Device and resource alerts read the recording rules (rules.libsonnet), which leave out
// what cannot back up and aggregate exporter replicas away: one alert per device,
// destination or resource, however many replicas serve it.
{
  local config = self._config,
  local sel = config.exporterSelector,
  local replicas = std.join(', ', config.replicaLabels),
  local one(metric, matchers='') = 'max without (%s) (%s{%s})' % [
    replicas,
    metric,
    std.join(', ', [sel] + (if matchers == '' then [] else [matchers])),
  ],

  local runbook(name) = '%s#%s' % [config.runbookUrl, std.asciiLower(name)],
  local dashboard(uid, variables='') = '%s/d/%s?%s' % [config.grafanaUrl, uid, variables],
  local overview = dashboard('backup-exporter-overview', 'var-source={{ $labels.source }}'),
  local exporterHealth = dashboard('backup-exporter-health', 'var-source={{ $labels.source }}'),
  local deviceDashboard = dashboard('backup-exporter-device', 'var-source={{ $labels.source }}&var-org={{ $labels.org }}&var-device={{ $labels.device_uid }}'),
  local m365Dashboard = dashboard('backup-exporter-m365', 'var-source={{ $labels.source }}&var-workload={{ $labels.workload }}'),

  local alert(name, severity, expr, summary, description, link, data=true, forDuration=null) = {
    alert: name,
    expr: expr,
    [if forDuration != null then 'for']: forDuration,
    // Data alerts ride out exporter restarts and gaps in scrapes.
    [if data then 'keep_firing_for']: config.keepFiringFor,
    labels: { severity: severity },
    annotations: {
      summary: summary,
      description: description,
      runbook_url: runbook(name),
      dashboard_url: link,
    },
  },

  // Adds the device's name and user, or the resource's name, to an alert (one info series
  // per item, whichever replica it comes from).
  local withDevice(expr) =
    '(\n  %s\n)\n* on(source, org, device_uid) group_left(device_name, user)\ntopk by (source, org, device_uid) (1, %s)' % [expr, one('backup_device_info')],
  // Adds the failure reason (code and meaning) of a resource, one of them when Druva gives
  // several; a resource without one keeps its alert.
  local withReason(expr) =
    '(\n  (%s)\n  * on(source, workload, id) group_left(code, reason)\n  topk by (source, workload, id) (1, %s)\n)\nor\n(\n  (%s)\n  unless on(source, workload, id) %s\n)' % [
      expr,
      one('backup_resource_last_backup_error'),
      expr,
      one('backup_resource_last_backup_error'),
    ],
  local withResource(expr) =
    '(\n  %s\n)\n* on(source, workload, id) group_left(name)\ntopk by (source, workload, id) (1, %s)' % [expr, one('backup_resource_info')],

  local device = '{{ $labels.device_name }} (user {{ $labels.user }}, org {{ $labels.org }}, source {{ $labels.source }})',
  local resource = '{{ $labels.workload }} {{ $labels.name }} ({{ $labels.id }}, source {{ $labels.source }})',
  local levels = { warning: 1, critical: 2 },

  local tiered(build) = [build('warning'), build('critical')],

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'backup-exporter',
        rules: [
          // The monitoring itself.
          alert(
            'BackupExporterDown', 'critical',
            'up{%s} == 0' % sel,
            'backup-exporter cannot be scraped.',
            'Prometheus has not scraped backup-exporter at {{ $labels.instance }} for %s: no backup alert can fire while it is down.' % config.exporterDownFor,
            exporterHealth, data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            'BackupExporterAbsent', 'critical',
            'absent(up{%s})' % sel,
            'Prometheus has no backup-exporter target.',
            'No target matches {%s}: the exporter left service discovery or its job was renamed, and no backup alert can fire.' % sel,
            exporterHealth, data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            'BackupSourceRefreshFailing', 'warning',
            '%s == 0' % one('backup_source_up'),
            'A backup source fails to refresh.',
            'Source {{ $labels.source }} ({{ $labels.vendor }}) has failed to refresh for %s; its last good data is still served. See backup_source_refresh_failures_total and the exporter log.' % config.sourceFailingFor,
            exporterHealth, data=false, forDuration=config.sourceFailingFor,
          ),
        ] + [
          alert(
            'BackupSourceDataStale', level,
            'backup:source_data_age_seconds > backup:source_data_age_seconds:%s_threshold' % level,
            'Backup data is stale.',
            'Source {{ $labels.source }} last refreshed successfully {{ $value | humanizeDuration }} ago%s: its devices and resources are not current, and their own alerts may be wrong.' % (
              if level == 'warning' then ', more than %d refresh intervals' % config.staleIntervals
              else ', more than %s' % std.toString(config.staleCritical / 3600) + 'h'
            ),
            exporterHealth, data=false, forDuration='5m',
          )
          for level in ['warning', 'critical']
        ] + [
          alert(
            // The source's own data is fresh (backup_source_up); one of its other streams
            // (Druva's events) keeps failing.
            'BackupSourceStreamFailing', 'warning',
            '%s == 0\nunless on(source) (%s == 0)' % [one('backup_source_stream_up'), one('backup_source_up')],
            "A stream of a backup source fails to refresh.",
            "Source {{ $labels.source }}'s {{ $labels.stream }} stream has failed for %s while the rest of the source refreshes: its counters wait (nothing is lost or counted twice when it recovers). See the exporter log." % config.sourceFailingFor,
            exporterHealth, data=false, forDuration=config.sourceFailingFor,
          ),
          alert(
            'BackupSourceSeriesDropped', 'warning',
            '%s > 0' % one('backup_source_series_dropped'),
            'Per-device or per-resource series are left out.',
            'Source {{ $labels.source }} leaves out {{ $value }} series because max_series is reached: the least stale devices or resources have no series, and their alerts cannot fire.',
            exporterHealth, data=false, forDuration='30m',
          ),
          alert(
            'BackupSourceRowsSkipped', 'warning',
            'sum without (reason) (max without (%s) (increase(backup_source_rows_skipped_total{%s, reason!="duplicate"}[1h]))) > 0' % [replicas, sel],
            'The vendor keeps sending rows the exporter cannot read.',
            'Source {{ $labels.source }} skipped {{ $value | humanize }} malformed report rows in the last hour, every hour for %s: the items of those rows are missing. See backup_source_rows_skipped_total by reason and the exporter log.' % config.rowsSkippedFor,
            exporterHealth, data=false, forDuration=config.rowsSkippedFor,
          ),
        ] + tiered(function(level) alert(
          'BackupDeviceBackupAge', level,
          withDevice('backup:device_backup_age_seconds\n  and on(source, org, device_uid) (backup:device_backup_health:level >= %d)\n  unless on(source, org, device_uid) backup:device_never_completed' % levels[level]),
          "A device hasn't backed up to any destination for too long.",
          'Device %s has not completed a backup to any destination for {{ $value | humanizeDuration }}.' % device,
          deviceDashboard,
        )) + [
          alert(
            'BackupDeviceNeverCompleted', 'warning',
            withDevice('backup:device_backup_age_seconds > backup:device_backup_age_seconds:warning_threshold\n  and on(source, org, device_uid) backup:device_never_completed'),
            'A device has never completed a backup.',
            'Device %s has never completed a backup to any destination; it was created {{ $value | humanizeDuration }} ago.' % device,
            deviceDashboard,
          ),
        ] + tiered(function(level) alert(
          'BackupDestinationNoNewData', level,
          withDevice('backup:device_last_activity_age_seconds > backup:device_last_activity_age_seconds:%s_threshold' % level),
          'A backup destination has received no new data for too long.',
          'Destination {{ $labels.destination }} has received no backup data from device %s for {{ $value | humanizeDuration }}.' % device,
          deviceDashboard,
        )) + tiered(function(level) alert(
          'BackupDeviceNotConnected', level,
          withDevice('backup:device_connection_age_seconds\n  and on(source, org, device_uid) (backup:device_connection_health:level >= %d)' % levels[level]),
          'A device has not connected to the backup service for too long.',
          'Device %s last connected to Code42 {{ $value | humanizeDuration }} ago.' % device,
          deviceDashboard,
        )) + tiered(function(level) alert(
          'BackupResourceBackupAge', level,
          withResource('backup:resource_backup_age_seconds > backup:resource_backup_age_seconds:%s_threshold\n  unless on(source, workload, id) backup:resource_never_backed_up' % level),
          'A Microsoft 365 resource has not been backed up for too long.',
          'Resource %s was last backed up successfully {{ $value | humanizeDuration }} ago.' % resource,
          m365Dashboard,
        )) + [
          alert(
            'BackupResourceNeverBackedUp', 'warning',
            withResource('backup:resource_backup_age_seconds > backup:resource_backup_age_seconds:warning_threshold\n  and on(source, workload, id) backup:resource_never_backed_up'),
            'A Microsoft 365 resource has never been backed up.',
            'Resource %s has never been backed up; it was added {{ $value | humanizeDuration }} ago.' % resource,
            m365Dashboard,
          ),
          alert(
            'BackupResourceLastBackupFailed', 'warning',
            withResource(withReason('%s == 1\n  unless on(source, workload, id) backup:resource_unprotected' % one('backup_resource_last_backup_failed'))),
            'The last backup of a Microsoft 365 resource failed.',
            'The last backup attempt of resource %s failed or was cancelled.{{ if $labels.code }} Druva says: {{ $labels.reason }} ({{ $labels.code }}).{{ end }}' % resource,
            m365Dashboard, forDuration=config.lastBackupFailedFor,
          ),
        ] + [
          alert(
            'BackupPreservedUserAutoDelete', level,
            '%s - time() < %d' % [one('backup_preserved_user_auto_delete_timestamp_seconds'), config.preservedDeletion[level]],
            "Druva will soon delete a preserved user's backup data.",
            "Druva deletes the backup data of preserved user {{ $labels.name }} ({{ $labels.id }}, source {{ $labels.source }}) in {{ $value | humanizeDuration }} (autoDeleteOn): extend the preservation or export what must be kept.",
            m365Dashboard,
          )
          for level in ['warning', 'critical']
        ] + [
          alert(
            // Each Druva severity is its own alert (vendor_severity); Code42's alert
            // states are the device alerts' business.
            'BackupVendorAlertsActive', 'warning',
            'label_replace(%s > 0, "vendor_severity", "$1", "severity", "(.*)")\nand on(source) %s' % [one('backup_alerts_active'), one('backup_source_up', 'vendor="druva"')],
            'The backup vendor reports active alerts.',
            'Source {{ $labels.source }} reports {{ $value }} active {{ $labels.vendor_severity }} alert(s) in m365Alerts.',
            m365Dashboard,
          ),
          alert(
            'BackupLicenseUsage', 'warning',
            'backup:license_used:ratio > %g' % config.license.warning,
            'Backup licences are nearly used up.',
            'Source {{ $labels.source }} uses {{ $value | humanizePercentage }} of its {{ $labels.license }} licences.',
            m365Dashboard,
          ),
          alert(
            'BackupLicenseUsage', 'critical',
            'backup:license_used:ratio >= %g' % config.license.critical,
            'Backup licences are used up.',
            'Source {{ $labels.source }} uses {{ $value | humanizePercentage }} of its {{ $labels.license }} licences: new users will not be protected.',
            m365Dashboard,
          ),
        ],
      },
    ],
  },
}
