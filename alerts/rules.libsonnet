// Recording rules: what can back up, device and resource ages as the vendors mean them,
// per-series thresholds (defaults and overrides), health levels (0 healthy, 1 warning,
// 2 critical) and the counts the dashboards and remote storage use. Every rule reads the
// exporter's series with the replica labels aggregated away (`one`), so two exporter
// replicas serving a source give one series and one alert.
{
  local config = self._config,
  local sel = config.exporterSelector,
  local tierErrors = (import 'lib/tiers.libsonnet')(config),
  local vendorMode = config.code42Thresholds == 'vendor',
  assert std.member(['exporter', 'vendor'], config.code42Thresholds) :
         "code42Thresholds must be 'exporter' or 'vendor', not %s" % config.code42Thresholds,

  // A series of the exporter, one per item however many replicas serve it.
  local one(metric, matchers='') = 'max without (%s) (%s{%s})' % [
    std.join(', ', config.replicaLabels),
    metric,
    std.join(', ', [sel] + (if matchers == '' then [] else [matchers])),
  ],

  // Overrides that set `key.level`, most specific first, for series scoped by `scope`
  // (`org` for Code42, `workload` for Druva).
  local overridesFor(key, level, scope) =
    local relevant = [
      o
      for o in config.overrides
      if std.objectHas(o, key) && std.objectHas(o[key], level)
    ];
    local check = [
      if std.objectHas(o, 'org') && scope == 'workload' || std.objectHas(o, 'workload') && scope == 'org'
      then error 'override %s: %s thresholds are scoped by %s' % [std.manifestJsonEx(o, ''), key, scope]
      else o
      for o in relevant
    ];
    local rank(o) = (if std.objectHas(o, scope) then 0 else 2) + (if std.objectHas(o, 'source') then 0 else 1);
    std.sort(check, rank),

  local matchers(o) = std.join(',', [sel] + [
    '%s="%s"' % [k, o[k]]
    for k in ['source', 'org', 'workload']
    if std.objectHas(o, k)
  ]),

  // A threshold for every series of the recorded `metric`: the most specific override,
  // else the default.
  local thresholdChain(metric, key, level, scope) =
    std.join('\nor\n', [
      '0 * %s{%s} + %d' % [metric, matchers(o), o[key][level]]
      for o in overridesFor(key, level, scope)
    ] + ['0 * %s{%s} + %d' % [metric, sel, config[key][level]]]),

  local threshold(metric, key, level, scope='org') = {
    record: '%s:%s_threshold' % [metric, level],
    expr: thresholdChain(metric, key, level, scope),
  },

  // 0, 1 or 2 as `value` passes the warning and critical thresholds recorded for it.
  local level(value) =
    '(%s > bool %s:warning_threshold) + (%s > bool %s:critical_threshold)' % [value, value, value, value],

  // From Code42's own alert states of a device: 2 for its critical state of `kind`, 1 for
  // its warning state, 0 for neither.
  local vendorLevel(kind, base) = |||
    max without (alert) (
      2 * %s
      or
      %s
    )
    unless on(source, org, device_uid) backup:device_unprotected
    or
    0 * %s
  ||| % [
    one('backup_device_alert_state', 'alert="Critical%sAlert"' % kind),
    one('backup_device_alert_state', 'alert="Warning%sAlert"' % kind),
    base,
  ],

  // Items by health for one grouping: warning and critical from levels, not protected
  // from the exporter's count, healthy the rest of the total; every count present (0)
  // whenever the total is, and absent when there is no data.
  local byHealth(levels, item, total, unprotected) = std.join('\nor\n', [
    'label_replace(count without (%s) (%s == 1) or 0 * (%s), "health", "warning", "", "")' % [item, levels, total],
    'label_replace(count without (%s) (%s == 2) or 0 * (%s), "health", "critical", "", "")' % [item, levels, total],
    'label_replace(%s, "health", "unprotected", "", "")' % unprotected,
    'label_replace((%s) - %s - (count without (%s) (%s > 0) or 0 * (%s)), "health", "healthy", "", "")' % [total, unprotected, item, levels, total],
  ]),

  local coldArchives = '(%s == 1)' % one('backup_device_cold_storage'),
  local archive = 'source, org, device_uid, destination',
  local device = 'source, org, device_uid',
  local resource = 'source, workload, id',
  local protectedResources = 'sum without (protection) (%s)' % one('backup_resources', 'protection="protected"'),
  local unprotectedResources = 'sum without (protection) (%s)' % one('backup_resources', 'protection!="protected"'),

  prometheusRules+:: {
    groups+: if tierErrors != [] then error 'thresholds that are not tiers: ' + std.join('; ', tierErrors) else [
      {
        name: 'backup-exporter.rules',
        rules: [
          // Code42. An archive in cold storage (its destination removed, or the device
          // deactivated) cannot back up; a device with every archive there is not protected.
          {
            record: 'backup:device_unprotected',
            expr: 'min without (destination) (%s) == 1' % one('backup_device_cold_storage'),
          },
          {
            // A live archive never completed, and no live archive of the device did.
            record: 'backup:device_never_completed',
            expr: |||
              group without (destination) (%s unless on(%s) %s)
              unless on(%s)
              group without (destination) (%s unless on(%s) %s)
            ||| % [one('backup_device_never_completed'), archive, coldArchives, device, one('backup_device_last_completed_backup_timestamp_seconds'), archive, coldArchives],
          },
          {
            // The device's backup age on its freshest live destination, as Code42 means
            // it ("hasn't backed up to any destination"); since its creation if no live
            // destination ever completed a backup.
            record: 'backup:device_backup_age_seconds',
            expr: |||
              min without (destination) (
                %s
                unless on(%s) %s
                unless on(%s) %s
              )
              or
              (
                min without (destination) (%s unless on(%s) %s)
                and on(%s) backup:device_never_completed
              )
            ||| % [one('backup_device_backup_age_seconds'), archive, one('backup_device_never_completed'), archive, coldArchives, one('backup_device_backup_age_seconds'), archive, coldArchives, device],
          },
          {
            record: 'backup:device_last_activity_age_seconds',
            expr: 'time() - %s\nunless on(%s) %s' % [one('backup_device_last_activity_timestamp_seconds'), archive, coldArchives],
          },
          {
            record: 'backup:device_connection_age_seconds',
            expr: 'time() - %s\nunless on(%s) backup:device_unprotected' % [one('backup_device_last_connected_timestamp_seconds'), device],
          },
          threshold('backup:device_backup_age_seconds', 'backupAge', 'warning'),
          threshold('backup:device_backup_age_seconds', 'backupAge', 'critical'),
          threshold('backup:device_last_activity_age_seconds', 'noNewData', 'warning'),
          threshold('backup:device_last_activity_age_seconds', 'noNewData', 'critical'),
          threshold('backup:device_connection_age_seconds', 'connection', 'warning'),
          threshold('backup:device_connection_age_seconds', 'connection', 'critical'),
          {
            // Backup health per device. A device that never completed a backup is a
            // warning at most, as its alert is.
            record: 'backup:device_backup_health:level',
            expr: if vendorMode then vendorLevel('Backup', 'backup:device_backup_age_seconds') else |||
              (
                %s
              ) unless on(%s) backup:device_never_completed
              or
              (backup:device_backup_age_seconds > bool backup:device_backup_age_seconds:warning_threshold)
            ||| % [level('backup:device_backup_age_seconds'), device],
          },
          {
            record: 'backup:archive_activity_health:level',
            expr: level('backup:device_last_activity_age_seconds'),
          },
          {
            record: 'backup:device_connection_health:level',
            expr: if vendorMode then vendorLevel('Connection', 'backup:device_connection_age_seconds')
            else level('backup:device_connection_age_seconds'),
          },
          {
            // The worst of the device's backup, its live destinations' new data and its
            // connection.
            record: 'backup:device_health:level',
            expr: |||
              max without (check) (
                label_replace(backup:device_backup_health:level, "check", "backup", "", "")
                or
                label_replace(max without (destination) (backup:archive_activity_health:level), "check", "activity", "", "")
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

          // The sources: how old their data is, and when that is stale.
          {
            record: 'backup:source_data_age_seconds',
            expr: 'min without (%s) (time() - backup_source_last_success_timestamp_seconds{%s})' % [std.join(', ', config.replicaLabels), sel],
          },
          {
            record: 'backup:source_data_age_seconds:warning_threshold',
            expr: '%d * %s' % [config.staleIntervals, one('backup_source_refresh_interval_seconds')],
          },
          {
            record: 'backup:source_data_age_seconds:critical_threshold',
            expr: '0 * %s + %d' % [one('backup_source_refresh_interval_seconds'), config.staleCritical],
          },
        ],
      },
    ],
  },
}
