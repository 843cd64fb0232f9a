// Alerting rules. Who gets woken up is one label, `urgency`: `page` for what needs a
// person now (the exporter or a source silent, an error budget burning fast, one org's or
// the vendor's backups stopping), `ticket` for the rest — every alert about one device,
// destination, resource, licence or user, because in a fleet some laptop is always off.
// `severity` keeps the vendors' warning and critical tiers; tiered alerts share a name and
// Alertmanager inhibits the warning while the critical fires (alertmanager.example.yml).
// Item alerts read the recording rules (rules.libsonnet), which leave out what cannot back
// up and read each source from its freshest replica: one alert per device or resource,
// however many replicas serve it.
local checks = import 'lib/checks.libsonnet';

{
  local config = self._config,
  local sel = config.exporterSelector,
  local r = (import 'lib/replicas.libsonnet')(config),
  local one = r.one,

  local runbook(name) = '%s#%s' % [config.runbookUrl, std.asciiLower(name)],
  local dashboard(uid, variables='') = '%s/d/%s?%s' % [config.grafanaUrl, uid, variables],
  local exporterHealth = dashboard('backup-exporter-health', 'var-source={{ $labels.source }}'),
  local compliance = dashboard('backup-exporter-compliance', 'var-source={{ $labels.source }}'),
  local deviceDashboard = dashboard('backup-exporter-device', 'var-source={{ $labels.source }}&var-org={{ $labels.org }}&var-device={{ $labels.device_uid }}'),
  local m365Dashboard = dashboard('backup-exporter-m365', 'var-source={{ $labels.source }}&var-workload={{ $labels.workload }}'),

  // An alert. `urgency` is `page` or `ticket`, or null when the expression sets it (item
  // alerts of paging scopes). Data alerts ride out exporter restarts and scrape gaps.
  local alert(name, severity, urgency, expr, summary, description, link, data=true, forDuration=null) = {
    alert: name,
    expr: expr,
    [if forDuration != null then 'for']: forDuration,
    [if data then 'keep_firing_for']: config.keepFiringFor,
    labels: { severity: severity } + (if urgency == null then {} else { urgency: urgency }),
    annotations: {
      summary: summary,
      description: description,
      runbook_url: runbook(name),
      dashboard_url: link,
    },
  },

  // RE2 text that matches `text` literally.
  local literal(text) = std.join('', [
    if std.member('\\.+*?()|[]{}^$', c) then '\\' + c else c
    for c in std.stringChars(text)
  ]),
  // The paging scopes that concern alerts scoped by `scope` (org or workload).
  local scopesOf(scope) = [p for p in config.pagingScopes if std.objectHas(p, scope)],

  // An alert about one item, scoped by `scope` (org, workload, or null): a ticket, except
  // at critical severity in a paging scope, which pages. Items must hold `itemFor`.
  local item(name, severity, expr, summary, description, link, scope=null) =
    local scopes = if scope == null || severity != 'critical' then [] else scopesOf(scope);
    local paged = std.join('|', [
      '%s\n%s' % [if std.objectHas(p, 'source') then literal(p.source) else '[^\\n]*', literal(p[scope])]
      for p in scopes
    ]);
    if scopes == [] then alert(name, severity, 'ticket', expr, summary, description, link, forDuration=config.itemFor)
    else alert(
      name, severity, null,
      |||
        label_replace(
          label_replace(
            label_replace(label_join(
              %s,
              "paging_scope", "\n", "source", "%s"), "urgency", "ticket", "", ""),
            "urgency", "page", "paging_scope", "%s"),
          "paging_scope", "", "", "")
      ||| % [std.strReplace(expr, '\n', '\n      '), scope, std.strReplace(std.strReplace(paged, '\\', '\\\\'), '\n', '\\n')],
      summary, description, link, forDuration=config.itemFor,
    ),

  // Adds the device's name and user, or the resource's name, to an alert (one info series
  // per item).
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

  // The burn rate of an SLO over `window`: its error ratio over the window, divided by the
  // share of errors its objective allows.
  local burn(errors, objectiveMetric, window, on) = '(%s%s / on(%s) group_left () (1 - %s))' % [errors, window, on, objectiveMetric],
  // Multiwindow burn-rate conditions at `severity`: any of the configured pairs, over both
  // its long and its short window.
  local burning(errors, objectiveMetric, on, severity, rates=config.burnRates) = std.join('\nor\n', [
    '%s > %g\nand on(%s)\n%s > %g' % [
      burn(errors, objectiveMetric, b.long, on),
      b.factor,
      on,
      burn(errors, objectiveMetric, b.short, on),
      b.factor,
    ]
    for b in rates
    if b.severity == severity
  ]),
  local burnTiers = std.set([b.severity for b in config.burnRates]),
  local longest(severity) = [b for b in config.burnRates if b.severity == severity][0],

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'backup-exporter',
        rules: [
          // The monitoring itself: a page only when nothing can be said any more.
          alert(
            'BackupExporterDown', 'critical', 'page',
            'max without (%s) (%s) == 0' % [r.labels, r.each('up')],
            'Every backup-exporter replica is down.',
            'Prometheus has scraped no backup-exporter replica of job {{ $labels.job }} for %s: no backup alert can fire.' % config.exporterDownFor,
            exporterHealth, data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            'BackupExporterDown', 'warning', 'ticket',
            '%s == 0' % r.each('up'),
            'A backup-exporter replica is down.',
            'Prometheus has not scraped backup-exporter at {{ $labels.instance }} for %s. Other replicas of the job still answer for the sources; this one will serve stale data when it returns until it refreshes.' % config.exporterDownFor,
            exporterHealth, data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            'BackupExporterAbsent', 'critical', 'page',
            'absent(up{%s})' % sel,
            'Prometheus has no backup-exporter target.',
            'No target matches {%s}: the exporter left service discovery or its job was renamed, and no backup alert can fire.' % sel,
            exporterHealth, data=false, forDuration=config.exporterDownFor,
          ),
          alert(
            // Each replica on its own: the freshest replica answers for the source, so one
            // failing replica changes no other alert.
            'BackupSourceRefreshFailing', 'warning', 'ticket',
            '%s == 0' % r.each('backup_source_up'),
            'A backup source fails to refresh.',
            'Source {{ $labels.source }} ({{ $labels.vendor }}) has failed to refresh on {{ $labels.instance }} for %s; its last good data is still served. See backup_source_refresh_failures_total and the exporter log.' % config.sourceFailingFor,
            exporterHealth, data=false, forDuration=config.sourceFailingFor,
          ),
        ] + [
          alert(
            'BackupSourceDataStale', level, if level == 'critical' then 'page' else 'ticket',
            'backup:source_data_age_seconds > backup:source_data_age_seconds:%s_threshold' % level,
            'Backup data is stale.',
            'No replica has refreshed source {{ $labels.source }} successfully for {{ $value | humanizeDuration }}%s: its devices and resources are not current, and their own alerts may be wrong.' % (
              if level == 'warning' then ', more than %d refresh intervals' % config.staleIntervals
              else ', more than %sh (or %d refresh intervals)' % [std.toString(config.staleCritical / 3600), config.staleCriticalIntervals]
            ),
            exporterHealth, data=false, forDuration='5m',
          )
          for level in ['warning', 'critical']
        ] + [
          alert(
            // The source's own data is fresh (backup_source_up); one of its other streams
            // (Druva's events) keeps failing.
            'BackupSourceStreamFailing', 'warning', 'ticket',
            '%s == 0\nunless on(source) (%s == 0)' % [one('backup_source_stream_up'), one('backup_source_up')],
            'A stream of a backup source fails to refresh.',
            "Source {{ $labels.source }}'s {{ $labels.stream }} stream has failed for %s while the rest of the source refreshes: its counters wait (nothing is lost or counted twice when it recovers). See the exporter log." % config.sourceFailingFor,
            exporterHealth, data=false, forDuration=config.sourceFailingFor,
          ),
          alert(
            'BackupSourceSeriesDropped', 'warning', 'ticket',
            '%s > 0' % one('backup_source_series_dropped'),
            'Per-device or per-resource series are left out.',
            'Source {{ $labels.source }} leaves out {{ $value }} series because max_series is reached: the least stale devices or resources have no series, and their alerts cannot fire.',
            exporterHealth, data=false, forDuration='30m',
          ),
          alert(
            'BackupSourceRowsSkipped', 'warning', 'ticket',
            'sum without (reason) (%s) > 0' % r.increase('backup_source_rows_skipped_total', '1h', 'reason!="duplicate"'),
            'The vendor keeps sending rows the exporter cannot read.',
            'Source {{ $labels.source }} skipped {{ $value | humanize }} malformed report rows in the last hour, every hour for %s: the items of those rows are missing. See backup_source_rows_skipped_total by reason and the exporter log.' % config.rowsSkippedFor,
            exporterHealth, data=false, forDuration=config.rowsSkippedFor,
          ),

          // Systemic symptoms: one page per org or workload (and one notification per
          // source, as the example Alertmanager configuration groups them).
          alert(
            'BackupCompletionsStalled', 'critical', 'page',
            'backup:org_devices_stalled:ratio >= %g\nand on(source, org)\nbackup:org_devices_stalled:count >= %d' % [config.stalledShare, config.stalledMinDevices],
            "An org's connected devices stopped completing backups.",
            '{{ $value | humanizePercentage }} of the devices of org {{ $labels.org }} (source {{ $labels.source }}) that stayed connected for the last %s completed no backup in that time: backups stopped for the org (an agent rollout, a policy) or for the vendor.' % (std.toString(config.stalledAfter / 3600) + 'h'),
            compliance, forDuration='30m',
          ),
        ] + [
          alert(
            'BackupRPOBudgetBurn', severity, if severity == 'critical' then 'page' else 'ticket',
            '(\n%s\n)\nor\n(\n%s\n)' % [
              burning('backup:org_rpo_error:ratio_avg', 'backup:org_rpo_compliance:objective', 'source, org', severity),
              burning('backup:workload_rpo_error:ratio_avg', 'backup:workload_rpo_compliance:objective', 'source, workload', severity),
            ],
            if severity == 'critical' then 'Backups of a whole org or workload fall behind their RPO fast.'
            else 'Backups of an org or workload fall behind their RPO.',
            'The share of the %s within their backup-age warning threshold is below its objective, burning the error budget {{ $value | humanize }} times faster than the %s window allows%s.' % [
              '{{ if $labels.org }}devices of org {{ $labels.org }}{{ else }}resources of workload {{ $labels.workload }}{{ end }} (source {{ $labels.source }})',
              config.sloWindow,
              if severity == 'critical' then ': something systemic stops their backups' else '',
            ],
            compliance, data=false, forDuration=if severity == 'critical' then '2m' else '1h',
          )
          for severity in burnTiers
        ] + [
          alert(
            'BackupJobFailureBudgetBurn', severity, if severity == 'critical' then 'page' else 'ticket',
            burning('backup:workload_job_error:ratio_rate', 'backup:workload_job_success:objective', 'source, workload, operation', severity, config.jobBurnRates),
            if severity == 'critical' then "A workload's backup jobs fail fast." else "A workload's backup jobs fail too often.",
            'Druva backup jobs of workload {{ $labels.workload }} (source {{ $labels.source }}) fail or are cancelled {{ $value | humanize }} times more often than the objective allows over the %s window.' % config.sloWindow,
            m365Dashboard, data=false, forDuration=if severity == 'critical' then '2m' else '1h',
          )
          for severity in burnTiers
        ] + tiered(function(level) item(
          // Items: tickets.
          'BackupDeviceBackupAge', level,
          withDevice('backup:device_backup_age_seconds\n  and on(source, org, device_uid) (backup:device_backup_health:level >= %d)\n  unless on(source, org, device_uid) backup:device_never_completed\n  unless on(source, org, device_uid) backup:device_not_completing_seconds' % levels[level]),
          "A device hasn't backed up to any destination for too long.",
          'Device %s has not completed a backup to any destination for {{ $value | humanizeDuration }}.' % device,
          deviceDashboard, 'org',
        )) + [
          item(
            'BackupDeviceNeverCompleted', 'warning',
            withDevice('backup:device_backup_age_seconds > backup:device_backup_age_seconds:warning_threshold\n  and on(source, org, device_uid) backup:device_never_completed'),
            'A device has never completed a backup.',
            'Device %s has never completed a backup to any destination; it was created {{ $value | humanizeDuration }} ago.' % device,
            deviceDashboard,
          ),
          item(
            'BackupDeviceNotCompleting', 'warning',
            withDevice('backup:device_not_completing_seconds'),
            'A device sends backup data but completes no backup.',
            'Device %s last completed a backup {{ $value | humanizeDuration }} ago, yet a destination received new data recently. Code42: "the device is likely sending new files, but a small number of files may be locked and preventing backup."' % device,
            deviceDashboard,
          ),
          item(
            // A console colour, not a vendor alert: a warning at most.
            'BackupDestinationNoNewData', 'warning',
            withDevice('backup:device_activity_age_seconds > backup:device_activity_age_seconds:warning_threshold'),
            'No backup destination has received new data for too long.',
            'No live destination has received backup data from device %s for {{ $value | humanizeDuration }}.' % device,
            deviceDashboard,
          ),
        ] + tiered(function(level) item(
          'BackupDeviceNotConnected', level,
          withDevice('backup:device_connection_age_seconds\n  and on(source, org, device_uid) (backup:device_connection_health:level >= %d)' % levels[level]),
          'A device has not connected to the backup service for too long.',
          'Device %s last connected to Code42 {{ $value | humanizeDuration }} ago.' % device,
          deviceDashboard, 'org',
        )) + tiered(function(level) item(
          'BackupResourceBackupAge', level,
          withResource('backup:resource_backup_age_seconds > backup:resource_backup_age_seconds:%s_threshold\n  unless on(source, workload, id) backup:resource_never_backed_up' % level),
          'A Microsoft 365 resource has not been backed up for too long.',
          'Resource %s was last backed up successfully {{ $value | humanizeDuration }} ago.' % resource,
          m365Dashboard, 'workload',
        )) + [
          item(
            'BackupResourceNeverBackedUp', 'warning',
            withResource('backup:resource_backup_age_seconds > backup:resource_backup_age_seconds:warning_threshold\n  and on(source, workload, id) backup:resource_never_backed_up'),
            'A Microsoft 365 resource has never been backed up.',
            'Resource %s has never been backed up; it was added {{ $value | humanizeDuration }} ago.' % resource,
            m365Dashboard,
          ),
          item(
            'BackupResourceLastBackupFailed', 'warning',
            withResource(withReason('%s == 1\n  unless on(source, workload, id) backup:resource_unprotected' % one('backup_resource_last_backup_failed'))),
            'The last backup of a Microsoft 365 resource failed.',
            'The last backup attempt of resource %s failed or was cancelled.{{ if $labels.code }} Druva says: {{ $labels.reason }} ({{ $labels.code }}).{{ end }}' % resource,
            m365Dashboard,
          ) + { 'for': config.lastBackupFailedFor },
        ] + [
          item(
            'BackupPreservedUserAutoDelete', level,
            '%s - time() < %d' % [one('backup_preserved_user_auto_delete_timestamp_seconds'), config.preservedDeletion[level]],
            "Druva will soon delete a preserved user's backup data.",
            'Druva deletes the backup data of preserved user {{ $labels.name }} ({{ $labels.id }}, source {{ $labels.source }}) in {{ $value | humanizeDuration }} (autoDeleteOn): extend the preservation or export what must be kept.',
            m365Dashboard,
          )
          for level in ['warning', 'critical']
        ] + [
          item(
            // Each Druva severity is its own alert (vendor_severity); Code42's alert
            // states are the device alerts' business.
            'BackupVendorAlertsActive', 'warning',
            'label_replace(%s > 0, "vendor_severity", "$1", "severity", "(.*)")\nand on(source) %s' % [one('backup_alerts_active'), one('backup_source_up', 'vendor="druva"')],
            'The backup vendor reports active alerts.',
            'Source {{ $labels.source }} reports {{ $value }} active {{ $labels.vendor_severity }} alert(s) in m365Alerts.',
            m365Dashboard,
          ),
          item(
            'BackupLicenseUsage', 'warning',
            'backup:license_used:ratio > %g' % config.license.warning,
            'Backup licences are nearly used up.',
            'Source {{ $labels.source }} uses {{ $value | humanizePercentage }} of its {{ $labels.license }} licences.',
            m365Dashboard,
          ),
          item(
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
