// The mixin as Prometheus Operator and Grafana objects for deploy/kubernetes/: one
// PrometheusRule with every recording and alerting rule, and one ConfigMap per dashboard
// labelled for the Grafana sidecar (grafana_dashboard: "1"). alerts/render writes them.
local mixin = import 'mixin.libsonnet';
local yaml = import 'lib/yaml.libsonnet';

local labels = {
  'app.kubernetes.io/name': 'backup-exporter',
  'app.kubernetes.io/part-of': 'backup-exporter',
};
local header = '# Generated from alerts/*.libsonnet by alerts/render. Do not edit; change the mixin.\n';

{
  'prometheusrule.yaml': header + yaml.manifest({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'backup-exporter', labels: labels },
    spec: { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
  }),
  'dashboards.yaml': header + std.join('---\n', [
    yaml.manifest({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'grafana-dashboard-' + std.strReplace(file, '.json', ''),
        labels: labels { grafana_dashboard: '1' },
        annotations: { grafana_folder: 'Backups' },
      },
      data: { [file]: std.manifestJsonEx(mixin.grafanaDashboards[file], '  ') + '\n' },
    })
    for file in std.objectFields(mixin.grafanaDashboards)
  ]),
}
