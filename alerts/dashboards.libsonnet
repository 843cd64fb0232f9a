// Grafana dashboards: a wall overview, a device drill-down, Microsoft 365, exporter health.
local g = import 'lib/grafana.libsonnet';

{
  local config = self._config,
  local sel = config.exporterSelector,
  local day = 86400,
  local s(filters='') = std.join(',', [sel, 'source=~"$source"'] + (if filters == '' then [] else [filters])),
  local sourceVariable(vendor=null) = g.queryVariable(
    'source', 'Source',
    'label_values(backup_source_up{%s}, source)' % std.join(',', [sel] + (if vendor == null then [] else ['vendor="%s"' % vendor])),
  ),
  local health(metric, level, filters='') =
    'sum(%s{%s, health="%s"}) or vector(0)' % [metric, s(filters), level],
  local healthStat(title, metric, level, color, x, y) = g.stat(
    title, [g.target(health(metric, level), title)], 'none', g.grid(x, y, 4, 5),
    thresholds={ mode: 'absolute', steps: [{ color: if level == 'healthy' then 'green' else 'text', value: null }] + (if level == 'healthy' then [] else [{ color: color, value: 1 }]) },
    colorMode='background',
  ),
  local ageSteps(warning, critical) = g.steps(warning, critical),

  grafanaDashboards+:: {
    'backup-overview.json': g.dashboard(
      'backup-exporter-overview', 'Backups / Overview',
      'The backup estate at a glance: devices and Microsoft 365 resources by health, vendor alerts, storage, licences and the oldest backups. Made for a wall screen.',
      [
        healthStat('Devices healthy', 'backup:source_devices_by_health:count', 'healthy', 'green', 0, 0),
        healthStat('Devices warning', 'backup:source_devices_by_health:count', 'warning', 'orange', 4, 0),
        healthStat('Devices critical', 'backup:source_devices_by_health:count', 'critical', 'red', 8, 0),
        healthStat('Resources healthy', 'backup:source_resources_by_health:count', 'healthy', 'green', 12, 0),
        healthStat('Resources warning', 'backup:source_resources_by_health:count', 'warning', 'orange', 16, 0),
        healthStat('Resources critical', 'backup:source_resources_by_health:count', 'critical', 'red', 20, 0),
        g.bargauge(
          'Active vendor alerts', [g.target('sum by (severity) (backup_alerts_active{%s})' % s(), '{{severity}}')], 'none', g.grid(0, 5, 6, 6),
          'Code42: devices in a warning or critical alert state. Druva: active m365Alerts.',
          thresholds=g.steps(1, 10), min=0,
        ),
        g.stat(
          'Stored backup data', [
            g.target('sum(backup_org_archive_bytes{%s}) or vector(0)' % s(), 'Code42 archives'),
            g.target('sum(backup_workload_storage_bytes{%s}) or vector(0)' % s(), 'Microsoft 365'),
          ], 'bytes', g.grid(6, 5, 6, 6),
        ),
        g.bargauge(
          'Licence use', [g.target('backup:license_used:ratio{%s}' % s(), '{{source}} {{license}}')], 'percentunit', g.grid(12, 5, 6, 6),
          'Druva licences used / allocated in the newest month.', thresholds=g.steps(config.license.warning, config.license.critical), min=0, max=1,
        ),
        g.stat(
          'Sources failing', [g.target('count(backup_source_up{%s} == 0) or vector(0)' % s(), 'failing')], 'none', g.grid(18, 5, 6, 6),
          'Sources whose last refresh failed; their last good data is shown.', thresholds=g.steps(1, 1), colorMode='background',
        ),
        g.table(
          'Oldest device backups', [g.target(
            'topk(15, max without (destination) (backup_device_backup_age_seconds{%s}) * on(source, org, device_uid) group_left(device_name, user) backup_device_info{%s})' % [s(), s()],
            instant=true, table=true,
          )], g.grid(0, 11, 12, 10),
          'Devices whose oldest archive has gone longest without a completed backup (or since creation, if never completed).',
          columns={ Value: 'Backup age', device_name: 'Device', user: 'User', org: 'Org', source: 'Source', device_uid: 'Device UID' },
          units={ 'Backup age': 's' }, sortBy='Backup age',
        ),
        g.table(
          'Oldest Microsoft 365 backups', [g.target(
            'topk(15, backup_resource_backup_age_seconds{%s} * on(source, workload, id) group_left(name) backup_resource_info{%s})' % [s(), s()],
            instant=true, table=true,
          )], g.grid(12, 11, 12, 10),
          columns={ Value: 'Backup age', name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source' },
          units={ 'Backup age': 's' }, sortBy='Backup age',
        ),
        g.bargauge(
          'Devices needing attention by org', [g.target('sum by (org) (backup:org_devices_by_health:count{%s, health!="healthy"})' % s(), '{{org}}')], 'none', g.grid(0, 21, 12, 9),
          'Devices in warning or critical health, per Code42 org.', thresholds=g.steps(1, 10), min=0,
        ),
        g.table(
          'Orgs', [
            g.target('sum by (source, org) (backup_org_devices{%s})' % s(), instant=true, table=true),
            g.target('sum by (source, org) (backup_org_archive_bytes{%s})' % s(), instant=true, table=true),
            g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health="warning"})' % s(), instant=true, table=true),
            g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health="critical"})' % s(), instant=true, table=true),
          ], g.grid(12, 21, 12, 9),
          columns={ source: 'Source', org: 'Org', 'Value #A': 'Devices', 'Value #B': 'Archive bytes', 'Value #C': 'Warning', 'Value #D': 'Critical' },
          units={ 'Archive bytes': 'bytes' }, sortBy='Critical',
        ),
      ],
      [sourceVariable()],
      config,
    ),

    'backup-device.json': g.dashboard(
      'backup-exporter-device', 'Backups / Code42 device',
      'One Code42 device: backup age, completion, bytes and connection per destination, and its alerts.',
      [
        g.table('Device', [g.target('backup_device_info{%s}' % s('org=~"$org", device_uid=~"$device"'), instant=true, table=true)], g.grid(0, 0, 16, 4),
                columns={ device_name: 'Device', user: 'User', org: 'Org', os: 'OS', os_version: 'OS version', app_version: 'App version', source: 'Source', device_uid: 'UID', Value: 'Info' }),
        g.stat('Health', [g.target('max(backup:device_health:level{%s})' % s('org=~"$org", device_uid=~"$device"'), 'health')], 'none', g.grid(16, 0, 4, 4),
               '0 healthy, 1 warning, 2 critical: the worst of backup age, new data and connection.', thresholds=g.steps(1, 2), colorMode='background'),
        g.stat('Firing alerts', [g.target('count(ALERTS{alertstate="firing", device_uid=~"$device"}) or vector(0)', 'alerts')], 'none', g.grid(20, 0, 4, 4),
               thresholds=g.steps(1, 1), colorMode='background'),
        g.timeseries('Backup age', [g.target('backup_device_backup_age_seconds{%s}' % s('org=~"$org", device_uid=~"$device"'), '{{destination}}')], 's', g.grid(0, 4, 12, 8),
                     'Time since the last completed backup per destination (since creation if never completed).') {
          fieldConfig+: { defaults+: { thresholds: ageSteps(config.backupAge.warning, config.backupAge.critical), custom+: { thresholdsStyle: { mode: 'line+area' } } } },
        },
        g.timeseries('No new data for', [g.target('backup:device_last_activity_age_seconds{%s}' % s('org=~"$org", device_uid=~"$device"'), '{{destination}}')], 's', g.grid(12, 4, 12, 8),
                     'Time since the destination last received backup data.') {
          fieldConfig+: { defaults+: { thresholds: ageSteps(config.noNewData.warning, config.noNewData.critical), custom+: { thresholdsStyle: { mode: 'line+area' } } } },
        },
        g.timeseries('Backup completion', [g.target('backup_device_backup_complete_ratio{%s}' % s('org=~"$org", device_uid=~"$device"'), '{{destination}}')], 'percentunit', g.grid(0, 12, 8, 8)),
        g.timeseries('Archive and selected bytes', [
          g.target('backup_device_archive_bytes{%s}' % s('org=~"$org", device_uid=~"$device"'), 'archive {{destination}}'),
          g.target('backup_device_selected_bytes{%s}' % s('org=~"$org", device_uid=~"$device"'), 'selected {{destination}}'),
        ], 'bytes', g.grid(8, 12, 8, 8)),
        g.timeseries('Not connected for', [g.target('backup:device_connection_age_seconds{%s}' % s('org=~"$org", device_uid=~"$device"'), 'connection')], 's', g.grid(16, 12, 8, 8)) {
          fieldConfig+: { defaults+: { thresholds: ageSteps(config.connection.warning, config.connection.critical), custom+: { thresholdsStyle: { mode: 'line+area' } } } },
        },
        g.stat('Cold storage', [g.target('backup_device_cold_storage{%s}' % s('org=~"$org", device_uid=~"$device"'), '{{destination}}')], 'none', g.grid(0, 20, 24, 4),
               '1 when the archive is in cold storage.'),
      ],
      [
        sourceVariable('code42'),
        g.queryVariable('org', 'Org', 'label_values(backup_device_info{%s}, org)' % s()),
        g.queryVariable('device', 'Device UID', 'label_values(backup_device_info{%s}, device_uid)' % s('org=~"$org"'), multi=false, includeAll=false),
      ],
      config,
    ),

    'backup-m365.json': g.dashboard(
      'backup-exporter-m365', 'Backups / Microsoft 365',
      'Druva inSync for Microsoft 365: storage and resources per workload, licences, job outcomes, the stalest resources and failed backups.',
      [
        healthStat('Resources healthy', 'backup:workload_resources_by_health:count', 'healthy', 'green', 0, 0) { targets: [g.target(health('backup:workload_resources_by_health:count', 'healthy', 'workload=~"$workload"'), 'healthy')] },
        healthStat('Resources warning', 'backup:workload_resources_by_health:count', 'warning', 'orange', 4, 0) { targets: [g.target(health('backup:workload_resources_by_health:count', 'warning', 'workload=~"$workload"'), 'warning')] },
        healthStat('Resources critical', 'backup:workload_resources_by_health:count', 'critical', 'red', 8, 0) { targets: [g.target(health('backup:workload_resources_by_health:count', 'critical', 'workload=~"$workload"'), 'critical')] },
        g.bargauge('Licence use', [g.target('backup:license_used:ratio{%s}' % s(), '{{license}}')], 'percentunit', g.grid(12, 0, 6, 5),
                   thresholds=g.steps(config.license.warning, config.license.critical), min=0, max=1),
        g.stat('Users', [g.target('sum by (state) (backup_users{%s})' % s(), '{{state}}')], 'none', g.grid(18, 0, 6, 5)),
        g.bargauge('Storage per workload', [g.target('sum by (workload) (backup_workload_storage_bytes{%s})' % s(), '{{workload}}')], 'bytes', g.grid(0, 5, 12, 8)),
        g.bargauge('Resources per workload', [g.target('sum by (workload, state) (backup_workload_resources{%s})' % s(), '{{workload}} {{state}}')], 'none', g.grid(12, 5, 12, 8)),
        g.timeseries('Job outcomes', [g.target('sum by (operation, status) (increase(backup_jobs_total{%s}[1h]))' % s('workload=~"$workload"'), '{{operation}} {{status}}')], 'none', g.grid(0, 13, 12, 8),
                     'Jobs finished per hour by outcome.', stack=true),
        g.timeseries('Job data', [g.target('sum by (operation) (increase(backup_job_bytes_total{%s}[1h]))' % s('workload=~"$workload"'), '{{operation}}')], 'bytes', g.grid(12, 13, 12, 8),
                     'Bytes of finished jobs per hour.'),
        g.table('Stalest resources', [g.target(
          'topk(20, backup_resource_backup_age_seconds{%s} * on(source, workload, id) group_left(name) backup_resource_info{%s})' % [s('workload=~"$workload"'), s()],
          instant=true, table=true,
        )], g.grid(0, 21, 12, 10), columns={ Value: 'Backup age', name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source' }, units={ 'Backup age': 's' }, sortBy='Backup age'),
        g.table('Last backup failed', [g.target(
          '(backup_resource_last_backup_failed{%s} == 1) * on(source, workload, id) group_left(name) backup_resource_info{%s}' % [s('workload=~"$workload"'), s()],
          instant=true, table=true,
        )], g.grid(12, 21, 12, 10), columns={ name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source', Value: 'Failed' }),
        g.timeseries('Events', [g.target('sum by (event_type, event_state) (increase(backup_events_total{%s}[1h]))' % s(), '{{event_type}} {{event_state}}')], 'none', g.grid(0, 31, 12, 8),
                     'inSync events per hour.'),
        g.bargauge('Active alerts', [g.target('sum by (severity) (backup_alerts_active{%s})' % s(), '{{severity}}')], 'none', g.grid(12, 31, 12, 8),
                   thresholds=g.steps(1, 10), min=0),
      ],
      [
        sourceVariable('druva'),
        g.queryVariable('workload', 'Workload', 'label_values(backup_resource_info{%s}, workload)' % s()),
      ],
      config,
    ),

    'backup-exporter.json': g.dashboard(
      'backup-exporter-health', 'Backups / Exporter health',
      'Is backup-exporter itself healthy: sources refreshing, refresh duration and failures, upstream requests, skipped rows.',
      [
        g.stat('Sources up', [g.target('backup_source_up{%s}' % s(), '{{source}}')], 'none', g.grid(0, 0, 12, 5),
               '1 when the last refresh succeeded.', thresholds={ mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'green', value: 1 }] }, colorMode='background'),
        g.bargauge('Time since last success', [g.target('time() - backup_source_last_success_timestamp_seconds{%s}' % s(), '{{source}}')], 's', g.grid(12, 0, 12, 5),
                   thresholds=g.steps(3600, 3 * 3600), min=0),
        g.timeseries('Refresh duration', [g.target('backup_source_refresh_duration_seconds{%s}' % s(), '{{source}}')], 's', g.grid(0, 5, 12, 8)),
        g.timeseries('Refresh failures', [g.target('increase(backup_source_refresh_failures_total{%s}[$__rate_interval])' % s(), '{{source}}')], 'none', g.grid(12, 5, 12, 8)),
        g.timeseries('Upstream requests', [g.target('sum by (source, endpoint, code) (rate(backup_source_api_requests_total{%s}[$__rate_interval]))' % s(), '{{source}} {{endpoint}} {{code}}')], 'reqps', g.grid(0, 13, 12, 8)),
        g.timeseries('Upstream response bytes', [g.target('rate(backup_source_response_bytes_total{%s}[$__rate_interval])' % s(), '{{source}}')], 'Bps', g.grid(12, 13, 12, 8)),
        g.timeseries('Skipped rows', [g.target('sum by (source, reason) (increase(backup_source_rows_skipped_total{%s}[$__rate_interval]))' % s(), '{{source}} {{reason}}')], 'none', g.grid(0, 21, 12, 8),
                     'Malformed report rows skipped, by reason.'),
        g.timeseries('Series per source', [
          g.target('backup_source_series{%s}' % s(), 'series {{source}}'),
        ], 'none', g.grid(12, 21, 6, 8)),
        g.timeseries('Scrape duration', [g.target('scrape_duration_seconds{%s}' % sel, '{{instance}}')], 's', g.grid(18, 21, 6, 8)),
      ],
      [sourceVariable()],
      config,
    ),
  },
}
