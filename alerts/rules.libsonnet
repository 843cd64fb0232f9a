// Recording rules: ages derived from timestamps, per-series thresholds (defaults and
// overrides), health levels (0 healthy, 1 warning, 2 critical) and the roll-ups the
// dashboards and remote storage use.
{
  local config = self._config,
  local sel = config.exporterSelector,

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

  // A threshold for every series of `metric`: the most specific override, else the default.
  local thresholdChain(metric, key, level, scope) =
    std.join('\nor\n', [
      '0 * %s{%s} + %d' % [metric, matchers(o), o[key][level]]
      for o in overridesFor(key, level, scope)
    ] + ['0 * %s{%s} + %d' % [metric, sel, config[key][level]]]),

  local threshold(record, metric, key, level, scope='org') = {
    record: record,
    expr: thresholdChain(metric, key, level, scope),
  },

  // Druva: the larger of the age threshold and a multiple of the expected interval.
  local resourceThreshold(level) = {
    local base = thresholdChain('backup_resource_backup_age_seconds', 'resourceAge', level, 'workload'),
    record: 'backup:resource_backup_age_seconds:%s_threshold' % level,
    expr: |||
      (%d * backup_resource_expected_interval_seconds{%s} > (%s))
      or
      (%s)
    ||| % [config.resourceIntervalFactor[level], sel, base, base],
  },

  // 0, 1 or 2 as `value` passes the warning and critical thresholds.
  local level(value, prefix) =
    '(%s > bool %s:warning_threshold) + (%s > bool %s:critical_threshold)' % [value, prefix, value, prefix],

  // Per-series maximum of two vectors with the same labels.
  local maxOf(a, b) = '(%s > %s) or %s' % [a, b, b],

  local countByHealth(levels, without) = std.join('\nor\n', [
    'label_replace(count without (%s) (%s == %d), "health", "%s", "", "")' % [without, levels, l[0], l[1]]
    for l in [[0, 'healthy'], [1, 'warning'], [2, 'critical']]
  ]),

  prometheusRules+:: {
    groups+: [
      {
        name: 'backup-exporter.rules',
        rules: [
          {
            record: 'backup:device_last_activity_age_seconds',
            expr: 'time() - backup_device_last_activity_timestamp_seconds{%s}' % sel,
          },
          {
            record: 'backup:device_connection_age_seconds',
            expr: 'time() - backup_device_last_connected_timestamp_seconds{%s}' % sel,
          },
          threshold('backup:device_backup_age_seconds:warning_threshold', 'backup_device_backup_age_seconds', 'backupAge', 'warning'),
          threshold('backup:device_backup_age_seconds:critical_threshold', 'backup_device_backup_age_seconds', 'backupAge', 'critical'),
          threshold('backup:device_last_activity_age_seconds:warning_threshold', 'backup:device_last_activity_age_seconds', 'noNewData', 'warning'),
          threshold('backup:device_last_activity_age_seconds:critical_threshold', 'backup:device_last_activity_age_seconds', 'noNewData', 'critical'),
          threshold('backup:device_connection_age_seconds:warning_threshold', 'backup:device_connection_age_seconds', 'connection', 'warning'),
          threshold('backup:device_connection_age_seconds:critical_threshold', 'backup:device_connection_age_seconds', 'connection', 'critical'),
          resourceThreshold('warning'),
          resourceThreshold('critical'),
          {
            // An archive never completed counts as warning at most, as its alert does.
            record: 'backup:archive_backup_health:level',
            expr: |||
              (
                %s
              ) unless on(source, org, device_uid, destination) backup_device_never_completed{%s}
              or
              (backup_device_backup_age_seconds{%s} > bool backup:device_backup_age_seconds:warning_threshold)
            ||| % [level('backup_device_backup_age_seconds{%s}' % sel, 'backup:device_backup_age_seconds'), sel, sel],
          },
          {
            record: 'backup:archive_activity_health:level',
            expr: level('backup:device_last_activity_age_seconds', 'backup:device_last_activity_age_seconds'),
          },
          {
            record: 'backup:archive_health:level',
            expr: maxOf('backup:archive_activity_health:level', 'backup:archive_backup_health:level'),
          },
          {
            record: 'backup:device_connection_health:level',
            expr: level('backup:device_connection_age_seconds', 'backup:device_connection_age_seconds'),
          },
          {
            // The worst of the device's archives and its connection.
            record: 'backup:device_health:level',
            expr: maxOf('backup:device_connection_health:level', 'max without (destination) (backup:archive_health:level)'),
          },
          {
            record: 'backup:resource_age_health:level',
            expr: |||
              (
                %s
              ) unless on(source, workload, id) backup_resource_never_backed_up{%s}
              or
              (backup_resource_backup_age_seconds{%s} > bool backup:resource_backup_age_seconds:warning_threshold)
            ||| % [level('backup_resource_backup_age_seconds{%s}' % sel, 'backup:resource_backup_age_seconds'), sel, sel],
          },
          {
            // A failed last backup makes a resource at least a warning.
            record: 'backup:resource_health:level',
            expr: maxOf('backup_resource_last_backup_failed{%s}' % sel, 'backup:resource_age_health:level'),
          },
          {
            record: 'backup:org_devices_by_health:count',
            expr: countByHealth('backup:device_health:level', 'device_uid'),
          },
          {
            record: 'backup:source_devices_by_health:count',
            expr: 'sum without (org) (backup:org_devices_by_health:count)',
          },
          {
            record: 'backup:workload_resources_by_health:count',
            expr: countByHealth('backup:resource_health:level', 'id'),
          },
          {
            record: 'backup:source_resources_by_health:count',
            expr: 'sum without (workload) (backup:workload_resources_by_health:count)',
          },
          {
            record: 'backup:license_used:ratio',
            expr: 'backup_license_used{%s} / (backup_license_allocated{%s} > 0)' % [sel, sel],
          },
        ],
      },
    ],
  },
}
