// Recording rules: each source's freshest replica, what can back up, device and resource
// ages as the vendors mean them, per-series thresholds and objectives (defaults and
// overrides), health levels (0 healthy, 1 warning, 2 critical), the protection SLOs (RPO
// compliance, Druva job success) with their error budgets, Code42's stalled completions,
// the sources' data age, and the counts the dashboards and remote storage use. Every
// exporter series is read from its source's freshest replica (`one`, lib/replicas): a
// stale or failing replica changes nothing here.
local checks = import 'lib/checks.libsonnet';

{
  local config = self._config,
  local sel = config.exporterSelector,
  local r = (import 'lib/replicas.libsonnet')(config),
  local one = r.one,
  local configErrors = checks.errors(config),
  local vendorMode = config.code42Thresholds == 'vendor',
  assert std.member(['exporter', 'vendor'], config.code42Thresholds) :
         "code42Thresholds must be 'exporter' or 'vendor', not %s" % config.code42Thresholds,

  local matchers(o) = std.join(',', [sel] + [
    '%s="%s"' % [k, o[k]]
    for k in ['source', 'org', 'workload']
    if std.objectHas(o, k)
  ]),

  // A value for every series of the recorded `metric`: the most specific override's
  // (lib/checks orders them), else the default.
  local number(v) = if std.floor(v) == v then '%d' % v else '%g' % v,
  local chain(metric, values, default) =
    std.join('\nor\n', [
      '0 * %s{%s} + %s' % [metric, matchers(v.o), number(v.value)]
      for v in values
    ] + ['0 * %s{%s} + %s' % [metric, sel, number(default)]]),
  local thresholdChain(metric, key, level, scope) = chain(
    metric,
    [{ o: o, value: o[key][level] } for o in checks.ranked(config.overrides, key, level, scope)],
    config[key][level],
  ),
  local threshold(metric, key, level, scope='org') = {
    record: '%s:%s_threshold' % [metric, level],
    expr: thresholdChain(metric, key, level, scope),
  },
  local objective(metric, key, scope) = chain(
    metric,
    [{ o: o, value: o[key] } for o in checks.ranked(config.overrides, key, null, scope)],
    config[key],
  ),

  // 0, 1 or 2 as `value` passes the warning and critical thresholds recorded for it.
  local level(value) =
    '(%s > bool %s:warning_threshold) + (%s > bool %s:critical_threshold)' % [value, value, value, value],

  // Items by health for one grouping: warning and critical from levels, not protected
  // from the exporter's count, healthy the rest of the total; every count present (0)
  // whenever the total is, and absent when there is no data.
  local byHealth(levels, item, total, unprotected) = std.join('\nor\n', [
    'label_replace(count without (%s) (%s == 1) or 0 * (%s), "health", "warning", "", "")' % [item, levels, total],
    'label_replace(count without (%s) (%s == 2) or 0 * (%s), "health", "critical", "", "")' % [item, levels, total],
    'label_replace(%s, "health", "unprotected", "", "")' % unprotected,
    'label_replace((%s) - %s - (count without (%s) (%s > 0) or 0 * (%s)), "health", "healthy", "", "")' % [total, unprotected, item, levels, total],
  ]),

  // The averaging windows of the SLOs: the burn-rate windows and the SLO window.
  local windowsOf(rates) = std.set([b.long for b in rates] + [b.short for b in rates] + [config.sloWindow]),
  local windows = windowsOf(config.burnRates),

  // The SLO `name` over `backup:<name>_compliance:ratio` (the good share, recorded per
  // `scope`): its objective, its error ratio averaged over every window, and the error
  // budget left over the SLO window.
  local slo(name, objectiveKey, scope) =
    local ratio = 'backup:%s_compliance:ratio' % name;
    [
      {
        record: 'backup:%s_compliance:objective' % name,
        expr: objective(ratio, objectiveKey, scope),
      },
    ] + [
      {
        record: 'backup:%s_error:ratio_avg%s' % [name, window],
        expr: '1 - avg_over_time(%s[%s])' % [ratio, window],
      }
      for window in windows
    ] + [
      {
        record: 'backup:%s_error_budget:remaining' % name,
        expr: '1 - backup:%s_error:ratio_avg%s / (1 - backup:%s_compliance:objective)' % [name, config.sloWindow, name],
      },
    ],

  local archive = 'source, org, device_uid, destination',
  local device = 'source, org, device_uid',
  local resource = 'source, workload, id',
  local coldArchives = '(%s == 1)' % one('backup_device_cold_storage'),
  // Series that tell an archive exists: its age or its never-completed mark (unless its
  // completion date was unreadable), its last activity, its size and its cold storage
  // state (unless the report did not say). An archive that lacks all five is not live.
  local archiveFamilies = [
    'backup_device_backup_age_seconds',
    'backup_device_never_completed',
    'backup_device_last_activity_timestamp_seconds',
    'backup_device_archive_bytes',
    'backup_device_cold_storage',
  ],
  local protectedResources = 'sum without (protection) (%s)' % one('backup_resources', 'protection="protected"'),
  local unprotectedResources = 'sum without (protection) (%s)' % one('backup_resources', 'protection!="protected"'),
  local backupJobs(status, window) = 'sum without (status) (%s)' % r.increase('backup_jobs_total', window, std.join(', ', ['operation="backup"'] + status)),

  prometheusRules+:: {
    groups+: if configErrors != [] then error 'the mixin configuration is not valid: ' + std.join('; ', configErrors) else [
      {
        name: 'backup-exporter.rules',
        rules: [
          // Which replica answers for each source.
          r.freshestRule,

          // Code42. An archive in cold storage (its destination removed, or the device
          // deactivated) cannot back up; a device with every archive there is not
          // protected. An archive the report gives no cold storage state for stays live.
          {
            record: 'backup:device_live_archive',
            expr: '(\n  %s\n)\nunless on(%s) %s' % [
              std.join('\n  or\n  ', ['group without () (%s)' % std.strReplace(one(f), '\n', '\n  ') for f in archiveFamilies]),
              archive,
              coldArchives,
            ],
          },
          {
            record: 'backup:device_unprotected',
            expr: 'group without (destination) %s\nunless on(%s) backup:device_live_archive' % [coldArchives, device],
          },
          {
            // Every live archive never completed a backup (one whose completion date was
            // unreadable is not known to have never completed).
            record: 'backup:device_never_completed',
            expr: |||
              group without (destination) (%s and on(%s) backup:device_live_archive)
              unless on(%s)
              (backup:device_live_archive unless on(%s) %s)
            ||| % [one('backup_device_never_completed'), archive, device, archive, one('backup_device_never_completed')],
          },
          {
            // The device's backup age on its freshest live destination, as Code42 means
            // it ("hasn't backed up to any destination"); since its creation if no live
            // destination ever completed a backup.
            record: 'backup:device_backup_age_seconds',
            expr: |||
              min without (destination) (
                %s
                and on(%s) (backup:device_live_archive unless on(%s) %s)
              )
              or
              (
                min without (destination) (%s and on(%s) backup:device_live_archive)
                and on(%s) backup:device_never_completed
              )
            ||| % [one('backup_device_backup_age_seconds'), archive, archive, one('backup_device_never_completed'), one('backup_device_backup_age_seconds'), archive, device],
          },
          {
            record: 'backup:device_last_activity_age_seconds',
            expr: 'time() - %s\nand on(%s) backup:device_live_archive' % [one('backup_device_last_activity_timestamp_seconds'), archive],
          },
          {
            // Since any live destination of the device last received new data: the
            // console's one progress bar per device ("combine the information for
            // multiple backups into one progress bar").
            record: 'backup:device_activity_age_seconds',
            expr: 'min without (destination) (backup:device_last_activity_age_seconds)',
          },
          {
            record: 'backup:device_connection_age_seconds',
            expr: 'time() - %s\nunless on(%s) backup:device_unprotected' % [one('backup_device_last_connected_timestamp_seconds'), device],
          },
          threshold('backup:device_backup_age_seconds', 'backupAge', 'warning'),
          threshold('backup:device_backup_age_seconds', 'backupAge', 'critical'),
          threshold('backup:device_activity_age_seconds', 'noNewData', 'warning'),
          threshold('backup:device_activity_age_seconds', 'noNewData', 'critical'),
          threshold('backup:device_connection_age_seconds', 'connection', 'warning'),
          threshold('backup:device_connection_age_seconds', 'connection', 'critical'),
          {
            // Backup health per device. A device that never completed a backup is a
            // warning at most, as its alert is. In vendor mode, from the states Code42
            // reports per destination: a device is as bad as its best live destination,
            // since Code42 alerts when it "hasn't backed up to any destination".
            record: 'backup:device_backup_health:level',
            expr: if vendorMode then |||
              min without (destination) (
                (
                  max without (alert) (
                    2 * %s
                    or
                    %s
                  )
                  and on(%s) backup:device_live_archive
                )
                or
                0 * backup:device_live_archive
              )
            ||| % [
              one('backup_device_destination_alert_state', 'alert="CriticalBackupAlert"'),
              one('backup_device_destination_alert_state', 'alert="WarningBackupAlert"'),
              archive,
            ] else |||
              (
                %s
              ) unless on(%s) backup:device_never_completed
              or
              (backup:device_backup_age_seconds > bool backup:device_backup_age_seconds:warning_threshold)
            ||| % [level('backup:device_backup_age_seconds'), device],
          },
          {
            record: 'backup:device_activity_health:level',
            expr: level('backup:device_activity_age_seconds'),
          },
          {
            // Connection health: in vendor mode from Code42's device states (a device is
            // connected or not, whatever the destination).
            record: 'backup:device_connection_health:level',
            expr: if vendorMode then |||
              max without (alert) (
                2 * %s
                or
                %s
              )
              unless on(%s) backup:device_unprotected
              or
              0 * backup:device_connection_age_seconds
            ||| % [
              one('backup_device_alert_state', 'alert="CriticalConnectionAlert"'),
              one('backup_device_alert_state', 'alert="WarningConnectionAlert"'),
              device,
            ] else level('backup:device_connection_age_seconds'),
          },
          {
            // The worst of the device's backup, its new data and its connection.
            record: 'backup:device_health:level',
            expr: |||
              max without (check) (
                label_replace(backup:device_backup_health:level, "check", "backup", "", "")
                or
                label_replace(backup:device_activity_health:level, "check", "activity", "", "")
                or
                label_replace(backup:device_connection_health:level, "check", "connection", "", "")
              )
            |||,
          },
          {
            record: 'backup:org_devices_by_health:count',
            expr: byHealth('backup:device_health:level', 'device_uid', one('backup_org_devices'), one('backup_org_devices_unprotected')),
          },
          {
            record: 'backup:source_devices_by_health:count',
            expr: 'sum without (org) (backup:org_devices_by_health:count)',
          },
          {
            // Seed 002: no completed backup past the warning level while a live destination
            // still receives new data: "the device is likely sending new files, but a small
            // number of files may be locked and preventing backup". Its own ticket, not a
            // "no backup" alert.
            record: 'backup:device_not_completing_seconds',
            expr: |||
              backup:device_backup_age_seconds
              and on(%s) (backup:device_backup_health:level >= 1)
              and on(%s) (backup:device_activity_age_seconds <= backup:device_activity_age_seconds:warning_threshold)
              unless on(%s) backup:device_never_completed
            ||| % [device, device, device],
          },

          // Code42's fast signal: devices connected throughout the last stalledAfter
          // (never away longer than stalledConnectedWithin) that completed no backup in it.
          {
            record: 'backup:device_stalled',
            expr: |||
              (backup:device_backup_age_seconds > bool %d)
              and on(%s) (max_over_time(backup:device_connection_age_seconds[%ds]) <= %d)
            ||| % [config.stalledAfter, device, config.stalledAfter, config.stalledConnectedWithin],
          },
          {
            record: 'backup:org_devices_stalled:ratio',
            expr: 'avg without (device_uid) (backup:device_stalled)',
          },
          {
            record: 'backup:org_devices_stalled:count',
            expr: 'sum without (device_uid) (backup:device_stalled)',
          },

          // Code42 RPO compliance: the share of the org's devices that can back up whose
          // backup is within the warning threshold in force (Code42's own, in vendor mode).
          {
            record: 'backup:device_rpo_met',
            expr: 'backup:device_backup_health:level == bool 0',
          },
          {
            record: 'backup:org_rpo_compliance:ratio',
            expr: 'avg without (device_uid) (backup:device_rpo_met)',
          },
        ] + slo('org_rpo', 'rpoObjective', 'org') + [

          // Druva. A resource whose backup an administrator disabled, an archived team, or
          // one never scheduled is not protected: it cannot be stale.
          {
            record: 'backup:resource_unprotected',
            expr: 'group without () (\n  (%s == 0)\n  or (%s == 1)\n  or (%s == 0)\n)' % [one('backup_resource_backup_enabled'), one('backup_resource_archived'), one('backup_resource_scheduled')],
          },
          {
            record: 'backup:resource_backup_age_seconds',
            expr: '%s\nunless on(%s) backup:resource_unprotected' % [one('backup_resource_backup_age_seconds'), resource],
          },
          {
            record: 'backup:resource_never_backed_up',
            expr: '%s\nunless on(%s) backup:resource_unprotected' % [one('backup_resource_never_backed_up'), resource],
          },
        ] + [
          {
            // The larger of `resourceIntervalFactor` backup intervals and the age floor.
            local floor = thresholdChain('backup:resource_backup_age_seconds', 'resourceAge', level, 'workload'),
            record: 'backup:resource_backup_age_seconds:%s_threshold' % level,
            expr: |||
              (%g * %s > (%s))
              or
              (%s)
            ||| % [config.resourceIntervalFactor[level], one('backup_resource_expected_interval_seconds'), floor, floor],
          }
          for level in ['warning', 'critical']
        ] + [
          {
            // A resource never backed up is a warning at most, as its alert is.
            record: 'backup:resource_age_health:level',
            expr: |||
              (
                %s
              ) unless on(%s) backup:resource_never_backed_up
              or
              (backup:resource_backup_age_seconds > bool backup:resource_backup_age_seconds:warning_threshold)
            ||| % [level('backup:resource_backup_age_seconds'), resource],
          },
          {
            // A failed last backup makes a protected resource at least a warning.
            record: 'backup:resource_health:level',
            expr: |||
              max without (check) (
                label_replace(%s unless on(%s) backup:resource_unprotected, "check", "last_backup", "", "")
                or
                label_replace(backup:resource_age_health:level, "check", "age", "", "")
              )
            ||| % [one('backup_resource_last_backup_failed'), resource],
          },
          {
            record: 'backup:workload_resources_by_health:count',
            expr: byHealth('backup:resource_health:level', 'id', protectedResources + ' + ' + unprotectedResources, unprotectedResources),
          },
          {
            record: 'backup:source_resources_by_health:count',
            expr: 'sum without (workload) (backup:workload_resources_by_health:count)',
          },
          {
            record: 'backup:license_used:ratio',
            expr: '%s / (%s > 0)' % [one('backup_license_used'), one('backup_license_allocated')],
          },

          // Druva RPO compliance: the share of the workload's protected resources backed up
          // within their warning threshold.
          {
            record: 'backup:resource_rpo_met',
            expr: 'backup:resource_age_health:level == bool 0',
          },
          {
            record: 'backup:workload_rpo_compliance:ratio',
            expr: 'avg without (id) (backup:resource_rpo_met)',
          },
        ] + slo('workload_rpo', 'rpoObjective', 'workload') + [
          {
            // The share of the source's items, of every org or workload, within their RPO.
            record: 'backup:source_rpo_compliance:ratio',
            expr: 'avg without (org, device_uid) (backup:device_rpo_met)\nor\navg without (workload, id) (backup:resource_rpo_met)',
          },

          // Druva backup jobs: the share that failed or was cancelled, over each window
          // (a request-style SLI: each job counts once, when it ends).
        ] + [
          {
            record: 'backup:workload_job_error:ratio_rate%s' % window,
            expr: '%s\n/\n(%s > 0)' % [backupJobs(['status=~"failed|cancelled"'], window), backupJobs([], window)],
          }
          for window in windowsOf(config.jobBurnRates)
        ] + [
          {
            // For every workload that had a backup job in the SLO window.
            record: 'backup:workload_job_success:objective',
            expr: objective('backup:workload_job_error:ratio_rate%s' % config.sloWindow, 'jobObjective', 'workload'),
          },
          {
            record: 'backup:workload_job_error_budget:remaining',
            expr: '1 - backup:workload_job_error:ratio_rate%s / (1 - backup:workload_job_success:objective)' % config.sloWindow,
          },

          // The sources: how old their data is (from their freshest replica; since the
          // exporter started serving a source that never succeeded), and when that is
          // stale. The critical threshold is never below the warning one.
          {
            record: 'backup:source_data_age_seconds',
            expr: |||
              min without (%s) (time() - backup_source_last_success_timestamp_seconds{%s})
              or
              max without (%s) (time() - backup_source_start_timestamp_seconds{%s})
            ||| % [r.labels, sel, r.labels, sel],
          },
          {
            record: 'backup:source_data_age_seconds:warning_threshold',
            expr: '%d * max without (%s) (backup_source_refresh_interval_seconds{%s})' % [config.staleIntervals, r.labels, sel],
          },
          {
            record: 'backup:source_data_age_seconds:critical_threshold',
            expr: 'clamp_min(%d * max without (%s) (backup_source_refresh_interval_seconds{%s}), %d)' % [config.staleCriticalIntervals, r.labels, sel, config.staleCritical],
          },
        ],
      },
    ],
  },
}
