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

  // A panel that shows one value per series (stat, bar gauge, table) asks for it now: an
  // instant query. A range query would reduce the dashboard's whole range (lastNotNull)
  // and keep showing the numbers of before an outage for as long as the range reaches.
  local now = {
    targets: [t { instant: true, range: false } for t in super.targets],
  },

  // Health levels as the recording rules write them (backup:*:level), and 3 for an item
  // that cannot back up; each a word and a colour.
  healthMappings:: [{
    type: 'value',
    options: {
      '0': { text: 'healthy', color: 'green', index: 0 },
      '1': { text: 'warning', color: 'orange', index: 1 },
      '2': { text: 'critical', color: 'red', index: 2 },
      '3': { text: 'not protected', color: 'text', index: 3 },
    },
  }],

  // A value mapping from numbers to words and colours: [[value, text, colour], ...].
  mappings(entries):: [{
    type: 'value',
    options: {
      [std.toString(entries[i][0])]: { text: entries[i][1], color: entries[i][2], index: i }
      for i in std.range(0, std.length(entries) - 1)
    },
  }],

  // Field overrides drawing the series whose name ends in "warning threshold" or "critical
  // threshold" as dashed orange and red lines: the thresholds the rules use, overrides
  // included, read from the recorded threshold series.
  thresholdLineOverrides:: [
    {
      matcher: { id: 'byRegexp', options: '.*%s threshold.*' % line.level },
      properties: [
        { id: 'color', value: { mode: 'fixed', fixedColor: line.colour } },
        { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
        { id: 'custom.fillOpacity', value: 0 },
      ],
    }
    for line in [{ level: 'warning', colour: 'orange' }, { level: 'critical', colour: 'red' }]
  ],

  // Green / amber / red thresholds at `warning` and `critical`.
  steps(warning, critical):: {
    mode: 'absolute',
    steps: [
      { color: 'green', value: null },
      { color: 'orange', value: warning },
      { color: 'red', value: critical },
    ],
  },

  stat(title, targets, unit, gridPos, description, thresholds=null, colorMode='value', mappings=[]):: panel('stat', title, targets, unit, gridPos, description) + now {
    fieldConfig+: {
      defaults+: {
        [if thresholds != null then 'thresholds']: thresholds,
        color: if thresholds != null || mappings != [] then { mode: 'thresholds' } else { mode: 'fixed', fixedColor: 'text' },
        [if mappings != [] then 'mappings']: mappings,
        // Mapped values take the mapping's colour; anything else stays neutral.
        [if mappings != [] && thresholds == null then 'thresholds']: { mode: 'absolute', steps: [{ color: 'text', value: null }] },
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

  timeseries(title, targets, unit, gridPos, description, stack=false):: panel('timeseries', title, targets, unit, gridPos, description) {
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
      overrides: $.thresholdLineOverrides,
    },
    options: {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    },
  },

  bargauge(title, targets, unit, gridPos, description, thresholds=null, min=null, max=null):: panel('bargauge', title, targets, unit, gridPos, description) + now {
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

  // A table of instant values merged on their labels; `columns` renames labels and value
  // columns (by their new names: `units` sets units, `levels` shows health levels as
  // coloured words, `mapped` other value mappings, `links` makes a column a link, and
  // `rowLevel` colours whole rows by that level column); `hidden` labels are left out.
  table(title, targets, gridPos, description, columns={}, units={}, sortBy=null, levels=[], mapped={}, links={}, rowLevel=null, hidden=[], levelMappings=$.healthMappings):: panel('table', title, targets, 'none', gridPos, description) + now {
    local byName(name, properties) = { matcher: { id: 'byName', options: name }, properties: properties },
    fieldConfig+: {
      overrides: [
        byName(name, [{ id: 'unit', value: units[name] }])
        for name in std.objectFields(units)
      ] + [
        byName(name, [
          { id: 'mappings', value: levelMappings },
          { id: 'custom.cellOptions', value: { type: 'color-background', mode: 'basic', [if name == rowLevel then 'applyToRow']: true } },
          { id: 'color', value: { mode: 'thresholds' } },
          { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'transparent', value: null }] } },
        ])
        for name in levels
      ] + [
        byName(name, [
          { id: 'mappings', value: mapped[name] },
          { id: 'custom.cellOptions', value: { type: 'color-text' } },
          { id: 'color', value: { mode: 'thresholds' } },
          { id: 'thresholds', value: { mode: 'absolute', steps: [{ color: 'text', value: null }] } },
        ])
        for name in std.objectFields(mapped)
      ] + [
        byName(name, [{ id: 'links', value: [{ title: links[name].title, url: links[name].url, targetBlank: false }] }])
        for name in std.objectFields(links)
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
          excludeByName: { Time: true, __name__: true, job: true, instance: true, pod: true } + { [label]: true for label in hidden },
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

  // `regex` picks the value and its display text from each result (Grafana's named
  // groups `value` and `text`), e.g. a device's UID shown as its name.
  queryVariable(name, label, query, multi=true, includeAll=true, regex=''):: {
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
    regex: regex,
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
