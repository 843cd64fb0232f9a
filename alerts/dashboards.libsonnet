// Grafana dashboards: a wall overview, a device drill-down, Microsoft 365, exporter health.
//
// They read the recording rules wherever the rules decide something (health levels, ages
// over live destinations, thresholds), so the wall, the alerts and the status page agree.
// Nothing turns "no data" into 0: with the exporter down the counts show "No data" and the
// Exporter tile turns red ("down", or "absent" when Prometheus has no target at all).
// Stat, bar-gauge and table panels are instant queries (lib/grafana), so they show what is
// true now, never the last value of a range. Raw series go through `one()`
// (lib/replicas), which reads each source from its freshest replica, so two replicas
// serving a source never double a number, show a stale replica's view or break a join.
local g = import 'lib/grafana.libsonnet';

{
  local config = self._config,
  local sel = config.exporterSelector,
  local r = (import 'lib/replicas.libsonnet')(config),
  local s(filters='') = std.join(', ', [sel, 'source=~"$source"'] + (if filters == '' then [] else [filters])),
  local picked(filters) = std.join(', ', ['source=~"$source"'] + (if filters == '' then [] else [filters])),
  local one(metric, filters='') = r.one(metric, picked(filters)),
  local increase(metric, range, filters='') = r.increase(metric, range, picked(filters)),
  // Keeps `expr`'s series of the sources of `vendor` (a panel about one vendor's data).
  local ofVendor(expr, vendor) = '(%s)\nand on(source) %s' % [expr, one('backup_source_up', 'vendor="%s"' % vendor)],
  local sourceVariable(vendor=null) = g.queryVariable(
    'source', 'Source',
    'label_values(backup_source_up{%s}, source)' % std.join(', ', [sel] + (if vendor == null then [] else ['vendor="%s"' % vendor])),
  ),

  // Druva backup jobs that failed or were cancelled in the last hour, as a share of all.
  local jobFailureRatio(filters='') =
    local jobs(status) = 'sum by (workload) (%s)' % increase('backup_jobs_total', '1h', std.join(', ', (if filters == '' then [] else [filters]) + ['operation="backup"'] + status));
    '%s\n/ (%s > 0)' % [jobs(['status=~"failed|cancelled"']), jobs([])],

  // Adds a device's name and user, or a resource's name, to each series of `expr`.
  local withDevice(expr, filters='') =
    '(%s)\n* on(source, org, device_uid) group_left(device_name, user)\ntopk by (source, org, device_uid) (1, %s)' % [expr, one('backup_device_info', filters)],
  local withResource(expr, filters='') =
    '(%s)\n* on(source, workload, id) group_left(name)\ntopk by (source, workload, id) (1, %s)' % [expr, one('backup_resource_info', filters)],

  // Links from a table row to the drill-down dashboards, carrying the row's labels.
  local deviceLink = {
    title: 'Open ${__data.fields.device_name} on the device dashboard',
    url: '/d/backup-exporter-device/backups-code42-device?var-source=${__data.fields.source}&var-org=${__data.fields.org}&var-device=${__data.fields.device_uid}&${__url_time_range}',
  },
  local m365Link = {
    title: 'Open ${__data.fields.workload} on the Microsoft 365 dashboard',
    url: '/d/backup-exporter-m365/backups-microsoft-365?var-source=${__data.fields.source}&var-workload=${__data.fields.workload}&${__url_time_range}',
  },

  // A health count tile: the recorded count for one level, summed over the selection.
  local healthStat(title, metric, level, colour, x, y, description, filters='') = g.stat(
    title,
    [g.target('sum(%s{%s})' % [metric, s(std.join(', ', ['health="%s"' % level] + (if filters == '' then [] else [filters])))], title)],
    'none', g.grid(x, y, 3, 4), description,
    thresholds={ mode: 'absolute', steps: [{ color: if level == 'healthy' || level == 'unprotected' then colour else 'text', value: null }] + (if level == 'healthy' || level == 'unprotected' then [] else [{ color: colour, value: 1 }]) },
    colorMode='background',
  ),
  local deviceHealthTiles(x, y) = [
    healthStat('Devices healthy', 'backup:source_devices_by_health:count', 'healthy', 'green', x, y,
               'Code42 devices that can back up and are within every threshold: all devices (backup_org_devices) less the unhealthy and the not protected, whatever device_metrics exposes.'),
    healthStat('Devices warning', 'backup:source_devices_by_health:count', 'warning', 'orange', x + 3, y,
               'Code42 devices at warning level: no completed backup to any live destination, no new data at a destination, or no connection, past the warning threshold (see the alert runbook).'),
    healthStat('Devices critical', 'backup:source_devices_by_health:count', 'critical', 'red', x + 6, y,
               'Code42 devices at critical level: the same checks past their critical thresholds. Each opens a ticket; a page needs a whole org (BackupCompletionsStalled, BackupRPOBudgetBurn).'),
    healthStat('Devices not protected', 'backup:source_devices_by_health:count', 'unprotected', 'text', x + 9, y,
               'Code42 devices with every archive in cold storage (destination removed or device deactivated): they cannot back up, never alert, and are neither healthy nor unhealthy.'),
  ],
  local resourceHealthTiles(metric, x, y, filters='') = [
    healthStat('Resources healthy', metric, 'healthy', 'green', x, y,
               'Microsoft 365 resources with backup enabled and scheduled, backed up within their thresholds and whose last backup did not fail.', filters),
    healthStat('Resources warning', metric, 'warning', 'orange', x + 3, y,
               'Microsoft 365 resources at warning level: no successful backup for 2 backup intervals (at least a day), a failed last backup, or never backed up.', filters),
    healthStat('Resources critical', metric, 'critical', 'red', x + 6, y,
               'Microsoft 365 resources at critical level: no successful backup for 3 backup intervals (at least 2 days). Each opens a ticket; a page needs a whole workload (BackupRPOBudgetBurn, BackupJobFailureBudgetBurn).', filters),
    healthStat('Resources not protected', metric, 'unprotected', 'text', x + 9, y,
               'Microsoft 365 resources not backed up by choice: backup disabled (appStatus), team archived (teamState) or never scheduled (backupFrequency 0). They never alert.', filters),
  ],

  local exporterUp(x, y, w, h) = g.stat(
    'Exporter', [g.target('up{%s}\nor\n-absent(up{%s})' % [sel, sel], '{{instance}}')], 'none', g.grid(x, y, w, h),
    "Prometheus's own up series for each backup-exporter replica: red \"down\" when its last scrape failed, and then the other panels show no data rather than stale numbers; red \"absent\" when Prometheus has no backup-exporter target at all (alert BackupExporterAbsent).",
    colorMode='background', mappings=g.mappings([[-1, 'absent', 'red'], [0, 'down', 'red'], [1, 'up', 'green']]),
  ),
  // Per source: its data's age, the recorded stale thresholds, and the row coloured at the
  // level BackupSourceDataStale fires at.
  local dataAge(x, y, w, h) = g.table(
    'Data age', [
      g.target('backup:source_data_age_seconds{%s}' % s(), instant=true, table=true),
      g.target(
        '(backup:source_data_age_seconds{%(s)s} > bool backup:source_data_age_seconds:warning_threshold{%(s)s})\n+ (backup:source_data_age_seconds{%(s)s} > bool backup:source_data_age_seconds:critical_threshold{%(s)s})' % { s: s() },
        instant=true, table=true,
      ),
      g.target('backup:source_data_age_seconds:warning_threshold{%s}' % s(), instant=true, table=true),
      g.target('backup:source_data_age_seconds:critical_threshold{%s}' % s(), instant=true, table=true),
    ], g.grid(x, y, w, h),
    'Time since each source last refreshed successfully. The row turns orange and red exactly where BackupSourceDataStale warns (%d refresh intervals) and pages (%sh): every other number on the wall is that old.' % [config.staleIntervals, std.toString(config.staleCritical / 3600)],
    columns={ source: 'Source', 'Value #A': 'Data age', 'Value #B': 'State', 'Value #C': 'Stale after', 'Value #D': 'Critical after' },
    units={ 'Data age': 's', 'Stale after': 's', 'Critical after': 's' },
    levels=['State'], rowLevel='State', levelMappings=g.mappings([[0, 'fresh', 'green'], [1, 'stale', 'orange'], [2, 'critically stale', 'red']]),
  ),

  // Every unhealthy device with the level of each check and the ages behind it.
  local deviceAttention(x, y, w, h) =
    local unhealthy = 'on(source, org, device_uid) (backup:device_health:level{%s} > 0)' % s();
    g.table(
      'Needs attention: devices', [
        g.target(withDevice('backup:device_health:level{%s} > 0' % s()), instant=true, table=true),
        g.target(withDevice('backup:device_backup_health:level{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
        g.target(withDevice('backup:device_backup_age_seconds{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
        g.target(withDevice('backup:device_activity_health:level{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
        g.target(withDevice('backup:device_activity_age_seconds{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
        g.target(withDevice('backup:device_connection_health:level{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
        g.target(withDevice('backup:device_connection_age_seconds{%s} and %s' % [s(), unhealthy]), instant=true, table=true),
      ], g.grid(x, y, w, h),
      'Every Code42 device at warning or critical level, worst first, with each check: backup (no completed backup to any live destination), new data (no live destination received any) and connection, each coloured by its level. Click a device to open it.',
      columns={
        device_name: 'Device', user: 'User', org: 'Org', source: 'Source', device_uid: 'UID',
        'Value #A': 'Health', 'Value #B': 'Backup', 'Value #C': 'Backup age', 'Value #D': 'New data', 'Value #E': 'No new data for', 'Value #F': 'Connection', 'Value #G': 'Not connected for',
      },
      units={ 'Backup age': 's', 'No new data for': 's', 'Not connected for': 's' },
      levels=['Health', 'Backup', 'New data', 'Connection'], links={ Device: deviceLink }, sortBy='Health',
    ),
  // Every unhealthy Microsoft 365 resource with its level, age, thresholds and last result.
  local resourceAttention(x, y, w, h, filters='') =
    local unhealthy = 'on(source, workload, id) (backup:resource_health:level{%s} > 0)' % s(filters);
    g.table(
      'Needs attention: Microsoft 365', [
        g.target(withResource('backup:resource_health:level{%s} > 0' % s(filters)), instant=true, table=true),
        g.target(withResource('backup:resource_age_health:level{%s} and %s' % [s(filters), unhealthy]), instant=true, table=true),
        g.target(withResource('backup:resource_backup_age_seconds{%s} and %s' % [s(filters), unhealthy]), instant=true, table=true),
        g.target(withResource('backup:resource_backup_age_seconds:critical_threshold{%s} and %s' % [s(filters), unhealthy]), instant=true, table=true),
        g.target(withResource('%s and %s' % [one('backup_resource_last_backup_failed', filters), unhealthy]), instant=true, table=true),
      ], g.grid(x, y, w, h),
      'Every Microsoft 365 resource at warning or critical level, worst first: its backup age against the critical threshold the rules apply to it (overrides included), and whether its last backup failed. Click a workload to open it.',
      columns={
        name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source',
        'Value #A': 'Health', 'Value #B': 'Backup', 'Value #C': 'Backup age', 'Value #D': 'Critical after', 'Value #E': 'Last backup',
      },
      units={ 'Backup age': 's', 'Critical after': 's' },
      levels=['Health', 'Backup'], mapped={ 'Last backup': g.mappings([[0, 'succeeded', 'green'], [1, 'failed', 'red']]) },
      links={ Workload: m365Link }, sortBy='Health',
    ),

  grafanaDashboards+:: {
    'backup-overview.json': g.dashboard(
      'backup-exporter-overview', 'Backups / Overview',
      'The backup estate at a glance, made for a wall screen: is the exporter up and its data fresh, devices and Microsoft 365 resources by health, what needs attention, and the trends.',
      [
        exporterUp(0, 0, 4, 4),
        dataAge(4, 0, 10, 4),
        g.stat(
          'Sources failing', [g.target('count(%s == 0) or 0 * count(%s)' % [one('backup_source_up'), one('backup_source_up')], 'failing')], 'none', g.grid(14, 0, 4, 4),
          'Sources whose last refresh failed; their last good data is still shown (see Data age). No data when the exporter is not scraped.',
          thresholds=g.steps(1, 1), colorMode='background',
        ),
        g.bargauge(
          'Druva alerts', [g.target('sum by (severity) (%s)' % ofVendor(one('backup_alerts_active', 'severity=~"critical|high|warning"'), 'druva'), '{{severity}}')], 'none', g.grid(18, 0, 6, 4),
          "Active alerts Druva itself reports (m365Alerts), by Druva's severity. Each is a ticket (BackupVendorAlertsActive); Code42's own alert states are shown per device instead.",
          thresholds=g.steps(1, 10), min=0,
        ),
      ] + deviceHealthTiles(0, 4) + resourceHealthTiles('backup:source_resources_by_health:count', 12, 4) + [
        deviceAttention(0, 8, 12, 10),
        resourceAttention(12, 8, 12, 10),
        g.table(
          'Oldest device backups', [g.target(
            withDevice('topk(15, backup:device_backup_age_seconds{%s})' % s()),
            instant=true, table=true,
          )], g.grid(0, 18, 12, 9),
          'The devices longest without a completed backup to any live destination (since creation, if none ever completed), as BackupDeviceBackupAge sees them: cold-storage archives and devices that cannot back up are left out. Click a device to open it.',
          columns={ Value: 'Backup age', device_name: 'Device', user: 'User', org: 'Org', source: 'Source', device_uid: 'UID' },
          units={ 'Backup age': 's' }, sortBy='Backup age', links={ Device: deviceLink },
        ),
        g.table(
          'Oldest Microsoft 365 backups', [g.target(
            withResource('topk(15, backup:resource_backup_age_seconds{%s})' % s()),
            instant=true, table=true,
          )], g.grid(12, 18, 12, 9),
          'The Microsoft 365 resources longest without a successful backup (since they were added, if never), leaving out those disabled, archived or never scheduled. Click a workload to open it.',
          columns={ Value: 'Backup age', name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source' },
          units={ 'Backup age': 's' }, sortBy='Backup age', links={ Workload: m365Link },
        ),
        g.timeseries(
          'Devices by health', [g.target('sum by (health) (backup:source_devices_by_health:count{%s})' % s(), '{{health}}')], 'none', g.grid(0, 27, 8, 8),
          'Code42 devices by health level over time, from the recorded counts: a rising warning or critical band is an estate falling behind.', stack=true,
        ),
        g.timeseries(
          'Resources by health', [g.target('sum by (health) (backup:source_resources_by_health:count{%s})' % s(), '{{health}}')], 'none', g.grid(8, 27, 8, 8),
          'Microsoft 365 resources by health level over time.', stack=true,
        ),
        g.timeseries(
          'Backup job failure ratio', [g.target(jobFailureRatio(), '{{workload}}')], 'percentunit', g.grid(16, 27, 8, 8),
          'Share of Druva backup jobs that failed or were cancelled in the last hour, per workload.',
        ),
        g.timeseries(
          'Stored backup data', [
            g.target('sum by (source) (%s)' % one('backup_org_archive_bytes'), 'Code42 archives {{source}}'),
            g.target('sum by (workload) (%s)' % one('backup_workload_storage_bytes'), 'Microsoft 365 {{workload}}'),
          ], 'bytes', g.grid(0, 35, 12, 8),
          'Backup data stored: Code42 archive bytes per source, and Druva storage per Microsoft 365 workload (m365StorageConsumption).',
        ),
        g.bargauge(
          'Licence use', [g.target('backup:license_used:ratio{%s}' % s(), '{{source}} {{license}}')], 'percentunit', g.grid(12, 35, 12, 8),
          'Druva licences used / allocated in the newest month; BackupLicenseUsage warns at %d %% and pages at %d %%.' % [config.license.warning * 100, config.license.critical * 100],
          thresholds=g.steps(config.license.warning, config.license.critical), min=0, max=1,
        ),
        g.bargauge(
          'Devices needing attention by org', [g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health=~"warning|critical"})' % s(), '{{org}} ({{source}})')], 'none', g.grid(0, 43, 12, 9),
          'Code42 devices at warning or critical level, per org of each source (orgs of the same name in two sources stay apart).',
          thresholds=g.steps(1, 10), min=0,
        ),
        g.table(
          'Orgs', [
            g.target('sum by (source, org) (%s)' % one('backup_org_devices'), instant=true, table=true),
            g.target('sum by (source, org) (%s)' % one('backup_org_archive_bytes'), instant=true, table=true),
            g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health="warning"})' % s(), instant=true, table=true),
            g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health="critical"})' % s(), instant=true, table=true),
            g.target('sum by (source, org) (backup:org_devices_by_health:count{%s, health="unprotected"})' % s(), instant=true, table=true),
          ], g.grid(12, 43, 12, 9),
          'Per Code42 org: devices, archive bytes, and devices at warning and critical level or not protected (every archive in cold storage).',
          columns={ source: 'Source', org: 'Org', 'Value #A': 'Devices', 'Value #B': 'Archive bytes', 'Value #C': 'Warning', 'Value #D': 'Critical', 'Value #E': 'Not protected' },
          units={ 'Archive bytes': 'bytes' }, sortBy='Critical',
        ),
      ],
      [sourceVariable()],
      config,
    ),

    'backup-device.json':
      local device = 'org=~"$org", device_uid="$device"';
      g.dashboard(
        'backup-exporter-device', 'Backups / Code42 device',
        'One Code42 device: its health as the alerts see it (its freshest live destination), each destination, the thresholds in force, and its firing alerts.',
        [
          g.table('Device', [g.target(one('backup_device_info', device), instant=true, table=true)], g.grid(0, 0, 14, 4),
                  "The device as Code42's DeviceBackupReport describes it.",
                  columns={ device_name: 'Device', user: 'User', org: 'Org', os: 'OS', os_version: 'OS version', app_version: 'App version', source: 'Source', device_uid: 'UID' },
                  hidden=['Value']),
          g.stat('Health', [g.target('max(backup:device_health:level{%(s)s}) or 3 * max(backup:device_unprotected{%(s)s})' % { s: s(device) }, 'health')], 'none', g.grid(14, 0, 4, 4),
                 'The worst of its checks: backup to any live destination, new data at each destination, connection. "not protected" when every archive is in cold storage.',
                 colorMode='background', mappings=g.healthMappings),
          g.stat('Firing alerts', [g.target(
            'count(max by (alertname, destination) (ALERTS{alertstate="firing", %s})) or 0 * max(%s)' % [s(device), one('backup_device_info', device)],
            'alerts',
          )], 'none', g.grid(18, 0, 6, 4),
                 'Alerts firing for this device, each counted once whatever its severity (a critical alert also fires its warning).',
                 thresholds=g.steps(1, 1), colorMode='background'),
          g.timeseries('Backup age', [
            g.target('backup:device_backup_age_seconds{%s}' % s(device), 'device (freshest live destination)'),
            g.target(one('backup_device_backup_age_seconds', device), '{{destination}}'),
            g.target('backup:device_backup_age_seconds:warning_threshold{%s}' % s(device), 'warning threshold'),
            g.target('backup:device_backup_age_seconds:critical_threshold{%s}' % s(device), 'critical threshold'),
          ], 's', g.grid(0, 4, 12, 8),
                       'Time since the last completed backup: the device line is its freshest live destination, what BackupDeviceBackupAge alerts on; one line per destination (cold storage included); dashed, the thresholds the rules apply to this device.'),
          g.timeseries('No new data for', [
            g.target('backup:device_last_activity_age_seconds{%s}' % s(device), '{{destination}}'),
            g.target('backup:device_activity_age_seconds:warning_threshold{%s}' % s(device), 'warning threshold'),
            g.target('backup:device_activity_age_seconds:critical_threshold{%s}' % s(device), 'critical threshold'),
          ], 's', g.grid(12, 4, 12, 8),
                       "Time since each live destination last received backup data; the console's yellow and red bar (dashed) go by the freshest of them, as BackupDestinationNoNewData does."),
          g.timeseries('Not connected for', [
            g.target('backup:device_connection_age_seconds{%s}' % s(device), 'connection'),
            g.target('backup:device_connection_age_seconds:warning_threshold{%s}' % s(device), 'warning threshold'),
            g.target('backup:device_connection_age_seconds:critical_threshold{%s}' % s(device), 'critical threshold'),
          ], 's', g.grid(0, 12, 8, 8),
                       'Time since the device last connected to Code42; dashed, the thresholds of BackupDeviceNotConnected.'),
          g.timeseries('Backup completion', [g.target(one('backup_device_backup_complete_ratio', device), '{{destination}}')], 'percentunit', g.grid(8, 12, 8, 8),
                       'Share of the selected data backed up at each destination.'),
          g.timeseries('Archive and selected bytes', [
            g.target(one('backup_device_archive_bytes', device), 'archive {{destination}}'),
            g.target(one('backup_device_selected_bytes', device), 'selected {{destination}}'),
          ], 'bytes', g.grid(16, 12, 8, 8),
                       'Bytes stored at each destination, and bytes selected for backup.'),
          g.stat('Destinations', [g.target(one('backup_device_cold_storage', device), '{{destination}}')], 'none', g.grid(0, 20, 12, 4),
                 'Each destination: live, or in cold storage (the destination was removed or the device deactivated; it cannot back up and never alerts).',
                 mappings=g.mappings([[0, 'live', 'green'], [1, 'cold storage', 'text']])),
          g.stat('Code42 alert states', [g.target('count by (alert) (%s)' % one('backup_device_alert_state', device), '{{alert}}')], 'none', g.grid(12, 20, 12, 4),
                 "The alert states Code42 itself reports for the device, by the thresholds set in the Code42 console (what code42Thresholds: 'vendor' alerts on). No data: none.",
                 thresholds=g.steps(1, 1), colorMode='background'),
        ],
        [
          sourceVariable('code42'),
          g.queryVariable('org', 'Org', 'label_values(backup_device_info{%s}, org)' % s()),
          g.queryVariable(
            'device', 'Device',
            'query_result(group by (device_name, device_uid) (backup_device_info{%s}))' % s('org=~"$org"'),
            multi=false, includeAll=false,
            regex='/device_name="(?<text>[^"]*)".*device_uid="(?<value>[^"]*)"/',
          ),
        ],
        config,
      ),

    'backup-m365.json':
      local workload = 'workload=~"$workload"';
      g.dashboard(
        'backup-exporter-m365', 'Backups / Microsoft 365',
        'Druva inSync for Microsoft 365: resources by health and protection, what needs attention, storage, licences, jobs and events.',
        resourceHealthTiles('backup:workload_resources_by_health:count', 0, 0, workload) + [
          g.bargauge('Licence use', [g.target('backup:license_used:ratio{%s}' % s(), '{{license}}')], 'percentunit', g.grid(12, 0, 6, 4),
                     'Druva licences used / allocated in the newest month.',
                     thresholds=g.steps(config.license.warning, config.license.critical), min=0, max=1),
          g.stat('Users', [g.target('sum by (state) (%s)' % one('backup_users'), '{{state}}')], 'none', g.grid(18, 0, 6, 4),
                 'Druva users by state (active, preserved).'),
          resourceAttention(0, 4, 24, 10, workload),
          g.bargauge('Resources by protection', [g.target('sum by (workload, protection) (%s)' % one('backup_resources', workload), '{{workload}} {{protection}}')], 'none', g.grid(0, 14, 12, 8),
                     'Resources per workload: protected, or not backed up by choice (disabled, archived, unscheduled). Deleted resources are not counted.'),
          g.timeseries('Storage per workload', [g.target('sum by (workload) (%s)' % one('backup_workload_storage_bytes', workload), '{{workload}}')], 'bytes', g.grid(12, 14, 12, 8),
                       'Backup data per workload over time (m365StorageConsumption).'),
          g.timeseries('Job outcomes', [g.target('sum by (operation, status) (%s)' % increase('backup_jobs_total', '1h', workload), '{{operation}} {{status}}')], 'none', g.grid(0, 22, 8, 8),
                       'Jobs finished in the last hour by outcome.', stack=true),
          g.timeseries('Backup job failure ratio', [g.target(jobFailureRatio(workload), '{{workload}}')], 'percentunit', g.grid(8, 22, 8, 8),
                       'Share of backup jobs that failed or were cancelled in the last hour.'),
          g.timeseries('Job data', [g.target('sum by (operation) (%s)' % increase('backup_job_bytes_total', '1h', workload), '{{operation}}')], 'bytes', g.grid(16, 22, 8, 8),
                       'Bytes of jobs finished in the last hour.'),
          local stalest = 'topk(20, backup:resource_backup_age_seconds{%s})' % s(workload);
          local ofStalest(metric) = withResource('%s{%s} and on(source, workload, id) %s' % [metric, s(workload), stalest]);
          g.table('Stalest resources', [
            g.target(withResource(stalest), instant=true, table=true),
            g.target(ofStalest('backup:resource_backup_age_seconds:warning_threshold'), instant=true, table=true),
            g.target(ofStalest('backup:resource_backup_age_seconds:critical_threshold'), instant=true, table=true),
            g.target(ofStalest('backup:resource_age_health:level'), instant=true, table=true),
          ], g.grid(0, 30, 12, 10),
                  'The resources longest without a successful backup, with the thresholds the rules apply to each (2 and 3 backup intervals, at least 1 and 2 days, overrides included).',
                  columns={ name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source', 'Value #A': 'Backup age', 'Value #B': 'Warning after', 'Value #C': 'Critical after', 'Value #D': 'Level' },
                  units={ 'Backup age': 's', 'Warning after': 's', 'Critical after': 's' }, levels=['Level'], sortBy='Backup age'),
          g.table('Not protected', [g.target(
            withResource('label_replace(%s == 0, "reason", "backup disabled", "", "") or label_replace(%s == 1, "reason", "team archived", "", "") or label_replace(%s == 0, "reason", "never scheduled", "", "")' % [
              one('backup_resource_backup_enabled', workload),
              one('backup_resource_archived', workload),
              one('backup_resource_scheduled', workload),
            ]),
            instant=true, table=true,
          )], g.grid(12, 30, 12, 10),
                  'Resources not backed up by choice, and why: they never alert. Check that each is meant to be unprotected.',
                  columns={ name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source', reason: 'Reason' }, hidden=['Value']),
          g.timeseries('Events', [g.target('sum by (event_type, event_state, severity) (%s)' % increase('backup_events_total', '1h'), '{{event_type}} {{event_state}} ({{severity}})')], 'none', g.grid(0, 40, 12, 8),
                       'inSync events in the last hour, by type, state and severity.'),
          g.bargauge('Druva alerts', [g.target('sum by (severity) (%s)' % ofVendor(one('backup_alerts_active'), 'druva'), '{{severity}}')], 'none', g.grid(12, 40, 12, 8),
                     "Active alerts Druva reports (m365Alerts) by Druva's severity.",
                     thresholds=g.steps(1, 10), min=0),
          g.table('Why backups failed', [g.target(
            withResource('%s' % one('backup_resource_last_backup_error', workload)),
            instant=true, table=true,
          )], g.grid(0, 48, 12, 10),
                  "Every resource whose last backup failed or finished with errors, with the reason Druva gives (errorDetailsNew's codes, else the code of errorDetailsOld or statusDetails; free text shows as other). The codes' meanings are in the runbook.",
                  columns={ name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source', code: 'Code', reason: 'Reason' }, hidden=['Value']),
          g.bargauge('Failure reasons', [g.target('count by (reason) (%s)' % one('backup_resource_last_backup_error', workload), '{{reason}}')], 'none', g.grid(12, 48, 12, 10),
                     'Resources whose last backup failed or finished with errors, by reason: one reason across many resources points at the tenant (permissions, throttling), not at the resources.',
                     thresholds=g.steps(1, 10), min=0),
          g.table('Preserved users Druva will delete', [g.target(
            '%s - time()' % one('backup_preserved_user_auto_delete_timestamp_seconds'),
            instant=true, table=true,
          )], g.grid(0, 58, 12, 9),
                  "Preserved users (leavers) whose backup data Druva deletes on its autoDeleteOn date, soonest first: BackupPreservedUserAutoDelete warns %d days before and pages %d days before." % [config.preservedDeletion.warning / 86400, config.preservedDeletion.critical / 86400],
                  columns={ name: 'User', id: 'E-mail', source: 'Source', Value: 'Deleted in' }, units={ 'Deleted in': 's' }),
          g.bargauge('Users by status and licence', [g.target('sum by (status, license_state, managed_by) (%s)' % one('backup_users_provisioned'), '{{status}} · {{license_state}} · {{managed_by}}')], 'none', g.grid(12, 58, 12, 9),
                     'Users by status (active, preserved), Microsoft 365 licence state and how they are provisioned (m365UserProvisioning).'),
          // No line (rather than NaN) for a workload without a job that day.
          g.timeseries('Job duration, 90th percentile', [g.target('histogram_quantile(0.9, sum by (workload, operation, le) (%s))\nand on(workload, operation) sum by (workload, operation) (%s) > 0' % [increase('backup_job_duration_seconds_bucket', '1d', workload), increase('backup_job_duration_seconds_count', '1d', workload)], '{{workload}} {{operation}}')], 's', g.grid(0, 67, 12, 8),
                       "How long jobs take: 90 % of the jobs finished over the last day took at most this (startTime to endTime of the activity reports). A backup window growing from 2 h to 9 h shows here before backups fall behind."),
          g.bargauge('Why jobs did not go well', [g.target('sum by (operation, status, code, reason) (%s)' % increase('backup_job_failure_reasons_total', '1d', workload), '{{operation}} {{status}}: {{reason}}')], 'none', g.grid(12, 67, 12, 8),
                     "Reasons failed, cancelled and partial (with errors) jobs gave over the last day (statusDetails of SharePoint's activity reports), by code.",
                     thresholds=g.steps(1, 10), min=0),
        ],
        [
          sourceVariable('druva'),
          g.queryVariable('workload', 'Workload', 'label_values(backup_resource_info{%s}, workload)' % s()),
        ],
        config,
      ),

    'backup-compliance.json':
      local scope = '{{source}} {{org}}{{workload}}';
      // Code42 orgs and Druva workloads side by side: one of the two labels is set.
      local both(metric, filters='') = '%s{%s}\nor\n%s{%s}' % [
        std.strReplace(metric, '<scope>', 'org'), s(filters),
        std.strReplace(metric, '<scope>', 'workload'), s(filters),
      ];
      local burnRate(window) = std.join('\nor\n', [
        'backup:%(x)s_rpo_error:ratio_avg%(w)s{%(s)s}\n/ on(source, %(x)s) group_left ()\n(1 - backup:%(x)s_rpo_compliance:objective{%(s)s})' % { x: x, w: window, s: s() }
        for x in ['org', 'workload']
      ]);
      g.dashboard(
        'backup-exporter-compliance', 'Backups / Protection SLOs',
        "Protection as a service level, for the wall and for managers: the share of the devices and resources that can back up whose backup is within its RPO (the warning threshold in force), per Code42 org and Druva workload, against its objective over %s; the error budget left, how fast it burns, what breaches now, and a weekly report like Commvault's SLA report. docs/alerting.md explains the maths." % config.sloWindow,
        [
          g.stat('RPO compliance now', [g.target('backup:source_rpo_compliance:ratio{%s}' % s(), '{{source}}')], 'percentunit', g.grid(0, 0, 8, 4),
                 'Per source: the share of its devices or resources that can back up whose last backup is within its warning threshold (the RPO), now.',
                 thresholds={ mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'orange', value: config.rpoObjective - 0.05 }, { color: 'green', value: config.rpoObjective }] },
                 colorMode='background'),
          g.stat('Error budget left', [g.target(both('backup:<scope>_rpo_error_budget:remaining'), scope)], 'percentunit', g.grid(8, 0, 8, 4),
                 'Per Code42 org and Druva workload: the share of the %s error budget not yet spent (negative: overspent). BackupRPOBudgetBurn pages when it burns fast and opens a ticket when it burns slowly.' % config.sloWindow,
                 thresholds={ mode: 'absolute', steps: [{ color: 'red', value: null }, { color: 'orange', value: 0 }, { color: 'green', value: 0.25 }] }, colorMode='background'),
          g.stat('Stalled completions', [g.target('backup:org_devices_stalled:ratio{%s}' % s(), '{{source}} {{org}}')], 'percentunit', g.grid(16, 0, 8, 4),
                 'Per Code42 org: the share of the devices connected throughout the last %sh that completed no backup in them. BackupCompletionsStalled pages at %d %% (and %d devices): backups stopped for the org or the vendor.' % [std.toString(config.stalledAfter / 3600), config.stalledShare * 100, config.stalledMinDevices],
                 thresholds=g.steps(config.stalledShare / 2, config.stalledShare), colorMode='background'),
          g.timeseries('RPO compliance', [
            g.target(both('backup:<scope>_rpo_compliance:ratio'), scope),
            g.target(both('backup:<scope>_rpo_compliance:objective'), 'objective ' + scope),
          ], 'percentunit', g.grid(0, 4, 12, 8),
                       'Per org and workload over time, with its objective (dashed lines are the objectives).'),
          g.timeseries('Error budget left', [g.target(both('backup:<scope>_rpo_error_budget:remaining'), scope)], 'percentunit', g.grid(12, 4, 12, 8),
                       'The %s error budget left, per org and workload: a steady fall is a slow burn (a ticket), a cliff a fast one (a page).' % config.sloWindow),
          g.timeseries('Burn rate (1 hour)', [g.target(burnRate('1h'), scope)], 'none', g.grid(0, 12, 12, 8),
                       'How many times faster than the %s window allows the budget burned over the last hour: %s.' % [config.sloWindow, std.join(', ', ['%g over %s (and %s) %s' % [b.factor, b.long, b.short, if b.severity == 'critical' then 'pages' else 'opens a ticket'] for b in config.burnRates])]),
          g.timeseries('Druva job success', [
            g.target('1 - backup:workload_job_error:ratio_rate1h{%s}' % s(), '{{source}} {{workload}}'),
            g.target('backup:workload_job_success:objective{%s}' % s(), 'objective {{source}} {{workload}}'),
          ], 'percentunit', g.grid(12, 12, 12, 8),
                       'The share of Druva backup jobs that did not fail or get cancelled over the last hour, per workload, with its objective (BackupJobFailureBudgetBurn).'),
          g.table('Breaching now: devices', [
            g.target(withDevice('backup:device_backup_age_seconds{%(s)s}\nand on(source, org, device_uid) (backup:device_rpo_met{%(s)s} == 0)' % { s: s() }), instant=true, table=true),
            g.target(withDevice('backup:device_backup_age_seconds:warning_threshold{%(s)s}\nand on(source, org, device_uid) (backup:device_rpo_met{%(s)s} == 0)' % { s: s() }), instant=true, table=true),
          ], g.grid(0, 20, 12, 10),
                  'Every Code42 device out of its RPO now, the one that costs its org budget: its backup age against the warning threshold in force. Click a device to open it.',
                  columns={ device_name: 'Device', user: 'User', org: 'Org', source: 'Source', device_uid: 'UID', 'Value #A': 'Backup age', 'Value #B': 'RPO' },
                  units={ 'Backup age': 's', RPO: 's' }, sortBy='Backup age', links={ Device: deviceLink }),
          g.table('Breaching now: Microsoft 365', [
            g.target(withResource('backup:resource_backup_age_seconds{%(s)s}\nand on(source, workload, id) (backup:resource_rpo_met{%(s)s} == 0)' % { s: s() }), instant=true, table=true),
            g.target(withResource('backup:resource_backup_age_seconds:warning_threshold{%(s)s}\nand on(source, workload, id) (backup:resource_rpo_met{%(s)s} == 0)' % { s: s() }), instant=true, table=true),
          ], g.grid(12, 20, 12, 10),
                  'Every Microsoft 365 resource out of its RPO now. Click a workload to open it.',
                  columns={ name: 'Resource', workload: 'Workload', id: 'ID', source: 'Source', 'Value #A': 'Backup age', 'Value #B': 'RPO' },
                  units={ 'Backup age': 's', RPO: 's' }, sortBy='Backup age', links={ Workload: m365Link }),
          g.table('Weekly report', [
            g.target('count by (source, org) (backup:device_rpo_met{%(s)s})\nor\ncount by (source, workload) (backup:resource_rpo_met{%(s)s})' % { s: s() }, instant=true, table=true),
            g.target('sum by (source, org) (backup:device_rpo_met{%(s)s})\nor\nsum by (source, workload) (backup:resource_rpo_met{%(s)s})' % { s: s() }, instant=true, table=true),
            g.target('avg_over_time(backup:org_rpo_compliance:ratio{%(s)s}[7d])\nor\navg_over_time(backup:workload_rpo_compliance:ratio{%(s)s}[7d])' % { s: s() }, instant=true, table=true),
            g.target('min_over_time(backup:org_rpo_compliance:ratio{%(s)s}[7d])\nor\nmin_over_time(backup:workload_rpo_compliance:ratio{%(s)s}[7d])' % { s: s() }, instant=true, table=true),
            g.target('(avg_over_time(backup:org_rpo_compliance:ratio{%(s)s}[7d]) >= bool on(source, org) backup:org_rpo_compliance:objective{%(s)s})\nor\n(avg_over_time(backup:workload_rpo_compliance:ratio{%(s)s}[7d]) >= bool on(source, workload) backup:workload_rpo_compliance:objective{%(s)s})' % { s: s() }, instant=true, table=true),
          ], g.grid(0, 30, 24, 10),
                  "Per Code42 org and Druva workload, as a backup manager reads it each week (Commvault's SLA report: items that met their SLA over all the items that can be backed up): items that can back up now, those within their RPO now, the compliance averaged over the last 7 days and its worst point, and whether the week met the objective.",
                  columns={ source: 'Source', org: 'Org', workload: 'Workload', 'Value #A': 'Items', 'Value #B': 'Within RPO now', 'Value #C': 'Compliance (7 days)', 'Value #D': 'Worst (7 days)', 'Value #E': 'Objective met' },
                  units={ 'Compliance (7 days)': 'percentunit', 'Worst (7 days)': 'percentunit' },
                  mapped={ 'Objective met': g.mappings([[0, 'no', 'red'], [1, 'yes', 'green']]) }, sortBy='Compliance (7 days)'),
        ],
        [sourceVariable()],
        config,
      ),

    'backup-exporter.json': g.dashboard(
      'backup-exporter-health', 'Backups / Exporter health',
      'Is backup-exporter itself healthy: scraped, sources refreshing and fresh, refresh duration and failures, upstream requests, skipped rows, series.',
      [
        exporterUp(0, 0, 6, 5),
        g.stat('Streams up', [g.target(one('backup_source_stream_up'), '{{source}} {{stream}}')], 'none', g.grid(6, 0, 6, 5),
               "Per source and stream (Code42's report; Druva's reports and events): whether its last read succeeded. The source is up with its reports (BackupSourceRefreshFailing after %s failing); another stream failing alone raises BackupSourceStreamFailing." % config.sourceFailingFor,
               colorMode='background', mappings=g.mappings([[0, 'failing', 'red'], [1, 'up', 'green']])),
        dataAge(12, 0, 12, 5),
        g.timeseries('Refresh duration', [g.target('backup_source_refresh_duration_seconds{%s}' % s(), '{{source}} {{instance}}')], 's', g.grid(0, 5, 12, 8),
                     'How long each source took to read its reports, per exporter instance.'),
        g.timeseries('Refresh failures', [g.target('increase(backup_source_refresh_failures_total{%s}[$__rate_interval])' % s(), '{{source}} {{instance}}')], 'none', g.grid(12, 5, 12, 8),
                     'Failed refreshes; the exporter log and backup_source_last_refresh_error say why.'),
        g.timeseries('Upstream requests', [g.target('sum by (source, endpoint, code) (rate(backup_source_api_requests_total{%s}[$__rate_interval]))' % s(), '{{source}} {{endpoint}} {{code}}')], 'reqps', g.grid(0, 13, 12, 8),
                     'Requests to the vendor APIs by endpoint and HTTP status, over every instance.'),
        g.timeseries('Upstream response bytes', [g.target('sum by (source) (rate(backup_source_response_bytes_total{%s}[$__rate_interval]))' % s(), '{{source}}')], 'Bps', g.grid(12, 13, 12, 8),
                     'Bytes read from the vendor APIs, over every instance.'),
        g.timeseries('Skipped rows and values', [
          g.target('sum by (source, reason) (%s)' % increase('backup_source_rows_skipped_total', '$__rate_interval'), 'rows {{source}} {{reason}}'),
          g.target('sum by (source, field) (%s)' % increase('backup_source_values_skipped_total', '$__rate_interval'), 'values {{source}} {{field}}'),
        ], 'none', g.grid(0, 21, 12, 8),
                     'Report rows skipped (a row without its identity, by reason; duplicates are normal: Code42 repeats a device per backup set), and values left out of rows that were kept, by field (a date in an unknown format, say). Skipped rows other than duplicates every hour for %s raise BackupSourceRowsSkipped.' % config.rowsSkippedFor),
        g.timeseries('Series per source', [
          g.target(one('backup_source_series'), 'series {{source}}'),
          g.target(one('backup_source_series_dropped'), 'dropped {{source}}'),
        ], 'none', g.grid(12, 21, 6, 8),
                     'Series each source exposes, and those left out because max_series was reached (BackupSourceSeriesDropped).'),
        g.timeseries('Scrape duration', [g.target('scrape_duration_seconds{%s}' % sel, '{{instance}}')], 's', g.grid(18, 21, 6, 8),
                     "How long Prometheus's scrapes of each instance take."),
      ],
      [sourceVariable()],
      config,
    ),
  },
}
