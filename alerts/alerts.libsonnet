// Alerting rules. Tiered alerts share a name and differ by `severity`: the warning fires
// above the warning threshold (also when critical), the critical above the critical one;
// Alertmanager inhibits the warning while the critical fires (alertmanager.example.yml).
{
  local config = self._config,
  local sel = config.exporterSelector,

  local runbook(name) = '%s#%s' % [config.runbookUrl, std.asciiLower(name)],

  local alert(name, severity, expr, summary, description, data=true, forDuration=null) = {
    alert: name,
    expr: expr,
    [if forDuration != null then 'for']: forDuration,
    // Data alerts ride out exporter restarts and failed scrapes.
    [if data then 'keep_firing_for']: config.keepFiringFor,
    labels: { severity: severity },
    annotations: {
      summary: summary,
      description: description,
      runbook_url: runbook(name),
    },
  },

  // Adds the device's name and user to an archive or device alert.
  local withDevice(expr) =
    '(\n  %s\n)\n* on(source, org, device_uid) group_left(device_name, user) backup_device_info{%s}' % [expr, sel],
  local withResource(expr) =
    '(\n  %s\n)\n* on(source, workload, id) group_left(name) backup_resource_info{%s}' % [expr, sel],

  local device = '{{ $labels.device_name }} (user {{ $labels.user }}, org {{ $labels.org }}, source {{ $labels.source }})',
  local resource = '{{ $labels.workload }} {{ $labels.name }} ({{ $labels.id }}, source {{ $labels.source }})',

  local tiered(name, build) = [build('warning'), build('critical')],

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'backup-exporter',
        rules: [
          alert(
            'BackupExporterDown', 'critical',
            'up{%s} == 0' % sel,
            'backup-exporter cannot be scraped.',
            'Prometheus has not scraped backup-exporter at {{ $labels.instance }} for %s: no backup alert can fire while it is down.' % config.exporterDownFor,
            data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            'BackupSourceRefreshFailing', 'warning',
            'backup_source_up{%s} == 0' % sel,
            'A backup source fails to refresh.',
            'Source {{ $labels.source }} ({{ $labels.vendor }}) has failed to refresh for %s; its last good data is still served. See backup_source_refresh_failures_total and the exporter log.' % config.sourceFailingFor,
            data=false, forDuration=config.sourceFailingFor,
          ),
          alert(
            'BackupSourceDataStale', 'warning',
            'time() - backup_source_last_success_timestamp_seconds{%s} > %d * backup_source_refresh_interval_seconds{%s}' % [sel, config.staleIntervals, sel],
            'Backup data is stale.',
            'Source {{ $labels.source }} last refreshed successfully {{ $value | humanizeDuration }} ago, more than %d refresh intervals: its devices and resources are not current.' % config.staleIntervals,
            data=false, forDuration='5m',
          ),
        ] + tiered('BackupDeviceBackupAge', function(level) alert(
          'BackupDeviceBackupAge', level,
          withDevice('backup_device_backup_age_seconds{%s} > backup:device_backup_age_seconds:%s_threshold\n  unless on(source, org, device_uid, destination) backup_device_never_completed{%s}' % [sel, level, sel]),
          'A device has not completed a backup for too long.',
          'Device %s has not completed a backup to {{ $labels.destination }} for {{ $value | humanizeDuration }}.' % device,
        )) + [
          alert(
            'BackupDeviceNeverCompleted', 'warning',
            withDevice('backup_device_backup_age_seconds{%s} > backup:device_backup_age_seconds:warning_threshold\n  and on(source, org, device_uid, destination) backup_device_never_completed{%s}' % [sel, sel]),
            'A device has never completed a backup.',
            'Device %s has never completed a backup to {{ $labels.destination }}; it was created {{ $value | humanizeDuration }} ago.' % device,
          ),
        ] + tiered('BackupDestinationNoNewData', function(level) alert(
          'BackupDestinationNoNewData', level,
          // Ages from time(), not from the recorded age: rules of another group would lag
          // one evaluation behind.
          withDevice('time() - backup_device_last_activity_timestamp_seconds{%s} > backup:device_last_activity_age_seconds:%s_threshold' % [sel, level]),
          'A backup destination has received no new data for too long.',
          'Destination {{ $labels.destination }} has received no backup data from device %s for {{ $value | humanizeDuration }}.' % device,
        )) + tiered('BackupDeviceNotConnected', function(level) alert(
          'BackupDeviceNotConnected', level,
          withDevice('time() - backup_device_last_connected_timestamp_seconds{%s} > backup:device_connection_age_seconds:%s_threshold' % [sel, level]),
          'A device has not connected to the backup service for too long.',
          'Device %s last connected to Code42 {{ $value | humanizeDuration }} ago.' % device,
        )) + tiered('BackupResourceBackupAge', function(level) alert(
          'BackupResourceBackupAge', level,
          withResource('backup_resource_backup_age_seconds{%s} > backup:resource_backup_age_seconds:%s_threshold\n  unless on(source, workload, id) backup_resource_never_backed_up{%s}' % [sel, level, sel]),
          'A Microsoft 365 resource has not been backed up for too long.',
          'Resource %s was last backed up successfully {{ $value | humanizeDuration }} ago.' % resource,
        )) + [
          alert(
            'BackupResourceNeverBackedUp', 'warning',
            withResource('backup_resource_backup_age_seconds{%s} > backup:resource_backup_age_seconds:warning_threshold\n  and on(source, workload, id) backup_resource_never_backed_up{%s}' % [sel, sel]),
            'A Microsoft 365 resource has never been backed up.',
            'Resource %s has never been backed up; it was added {{ $value | humanizeDuration }} ago.' % resource,
          ),
          alert(
            'BackupResourceLastBackupFailed', 'warning',
            withResource('backup_resource_last_backup_failed{%s} == 1' % sel),
            'The last backup of a Microsoft 365 resource failed.',
            'The last backup attempt of resource %s failed or was cancelled.' % resource,
            forDuration=config.lastBackupFailedFor,
          ),
          alert(
            'BackupVendorAlertsActive', 'critical',
            'backup_alerts_active{%s, severity="critical"} > 0' % sel,
            'The backup vendor reports critical alerts.',
            'Source {{ $labels.source }} reports {{ $value }} active critical alert(s) (Code42: devices in a critical alert state; Druva: critical alerts in m365Alerts).',
          ),
          alert(
            'BackupVendorAlertsActive', 'warning',
            'backup_alerts_active{%s, severity="high"} > 0' % sel,
            'The backup vendor reports high-severity alerts.',
            'Source {{ $labels.source }} reports {{ $value }} active high-severity alert(s) in m365Alerts.',
          ),
          alert(
            'BackupLicenseUsage', 'warning',
            'backup_license_used{%s} / (backup_license_allocated{%s} > 0) > %g' % [sel, sel, config.license.warning],
            'Backup licences are nearly used up.',
            'Source {{ $labels.source }} uses {{ $value | humanizePercentage }} of its {{ $labels.license }} licences.',
          ),
          alert(
            'BackupLicenseUsage', 'critical',
            'backup_license_used{%s} / (backup_license_allocated{%s} > 0) >= %g' % [sel, sel, config.license.critical],
            'Backup licences are used up.',
            'Source {{ $labels.source }} uses {{ $value | humanizePercentage }} of its {{ $labels.license }} licences: new users will not be protected.',
          ),
        ],
      },
    ],
  },
}
