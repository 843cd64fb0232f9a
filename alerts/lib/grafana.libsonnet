// A small builder for Grafana dashboards (schema 39, modern panel types only), so the
// mixin needs no downloaded library.
{
  local ds = { type: 'prometheus', uid: '${datasource}' },

  target(expr, legend='', instant=false, table=false):: {
    datasource: ds,
    expr: expr,
    legendFormat: legend,
    [if instant then 'instant']: true,
    [if instant then 'range']: false,
    [if table then 'format']: 'table',
    refId: 'A',
  },

  local withRefIds(targets) = [
    targets[i] { refId: std.char(65 + i) }
    for i in std.range(0, std.length(targets) - 1)
  ],

  local panel(type, title, targets, unit, gridPos, description) = {
    type: type,
    title: title,
    description: description,
    datasource: ds,
    gridPos: gridPos,
    targets: withRefIds(targets),
    fieldConfig: {
      defaults: { unit: unit },
      overrides: [],
    },
    options: {},
  },

  grid(x, y, w, h):: { x: x, y: y, w: w, h: h },

  // Green / amber / red thresholds at `warning` and `critical`.
  steps(warning, critical):: {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'orange', value: warning },
      { color: 'red', value: critical },
    ],
  },

  stat(title, targets, unit, gridPos, description='', thresholds=null, colorMode='value'):: panel('stat', title, targets, unit, gridPos, description) {
    fieldConfig+: {
      defaults+: {
        [if thresholds != null then 'thresholds']: thresholds,
        color: { mode: if thresholds != null then 'thresholds' else 'fixed', [if thresholds == null then 'fixedColor']: 'text' },
      },
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: colorMode,
      graphMode: 'none',
      justifyMode: 'center',
      textMode: 'value_and_name',
      orientation: 'auto',
      wideLayout: true,
      showPercentChange: false,
    },
  },

  timeseries(title, targets, unit, gridPos, description='', stack=false):: panel('timeseries', title, targets, unit, gridPos, description) {
    fieldConfig+: {
      defaults+: {
        custom: {
          drawStyle: 'line',
          lineWidth: 1,
          fillOpacity: if stack then 60 else 10,
          showPoints: 'never',
          spanNulls: false,
          stacking: { mode: if stack then 'normal' else 'none', group: 'A' },
        },
      },
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },

  bargauge(title, targets, unit, gridPos, description='', thresholds=null, min=null, max=null):: panel('bargauge', title, targets, unit, gridPos, description) {
    fieldConfig+: {
      defaults+: {
        [if thresholds != null then 'thresholds']: thresholds,
        [if min != null then 'min']: min,
        [if max != null then 'max']: max,
        color: { mode: if thresholds != null then 'thresholds' else 'palette-classic' },
      },
    },
    options: {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      displayMode: 'gradient',
      orientation: 'horizontal',
      showUnfilled: true,
      valueMode: 'color',
      namePlacement: 'auto',
      sizing: 'auto',
      minVizHeight: 16,
      minVizWidth: 8,
      maxVizHeight: 300,
    },
  },

  // A table of instant values; `columns` renames labels and the value column.
  table(title, targets, gridPos, description='', columns={}, units={}, sortBy=null):: panel('table', title, targets, 'none', gridPos, description) {
    fieldConfig+: {
      overrides: [
        {
          matcher: { id: 'byName', options: name },
          properties: [{ id: 'unit', value: units[name] }],
        }
        for name in std.objectFields(units)
      ],
    },
    options: {
      showHeader: true,
      cellHeight: 'sm',
      footer: { show: false, reducer: ['sum'], countRows: false, fields: '' },
      [if sortBy != null then 'sortBy']: [{ displayName: sortBy, desc: true }],
    },
    transformations: [
      { id: 'merge', options: {} },
      {
        id: 'organize',
        options: {
          excludeByName: { Time: true, __name__: true, job: true, instance: true },
          renameByName: columns,
          indexByName: {},
        },
      },
    ],
  },

  datasourceVariable:: {
    name: 'datasource',
    label: 'Data source',
    type: 'datasource',
    query: 'prometheus',
    hide: 0,
    refresh: 1,
    regex: '',
    skipUrlSync: false,
    options: [],
  },

  queryVariable(name, label, query, multi=true, includeAll=true):: {
    name: name,
    label: label,
    type: 'query',
    datasource: ds,
    query: { query: query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 },
    refresh: 2,
    sort: 1,
    multi: multi,
    includeAll: includeAll,
    [if includeAll then 'allValue']: '.*',
    hide: 0,
    regex: '',
    skipUrlSync: false,
    options: [],
  },

  dashboard(uid, title, description, panels, variables, config):: {
    uid: uid,
    title: title,
    description: description,
    tags: config.dashboardTags,
    timezone: config.dashboardTimezone,
    refresh: config.dashboardRefresh,
    schemaVersion: 39,
    version: 1,
    editable: true,
    graphTooltip: 1,
    fiscalYearStartMonth: 0,
    liveNow: false,
    weekStart: '',
    time: { from: 'now-7d', to: 'now' },
    timepicker: {},
    annotations: { list: [] },
    links: [
      { title: 'Backup dashboards', type: 'dashboards', tags: config.dashboardTags, asDropdown: true, includeVars: false, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' },
    ],
    templating: { list: [$.datasourceVariable] + variables },
    panels: [
      panels[i] { id: i + 1 }
      for i in std.range(0, std.length(panels) - 1)
    ],
  },
}
