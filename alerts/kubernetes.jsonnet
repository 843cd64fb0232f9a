// The mixin as Prometheus Operator and Grafana objects for deploy/kubernetes/: one
// PrometheusRule with every recording and alerting rule, and one ConfigMap per dashboard
// labelled for the Grafana sidecar (grafana_dashboard: "1"). alerts/render writes them as
// YAML.
local mixin = import 'mixin.libsonnet';

local labels = {
  'app.kubernetes.io/name': 'backup-exporter',
  'app.kubernetes.io/part-of': 'backup-exporter',
};
{
  prometheusRule: {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'backup-exporter', labels: labels },
    spec: { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups },
  },
  dashboards: [
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'grafana-dashboard-' + std.strReplace(file, '.json', ''),
        labels: labels { grafana_dashboard: '1' },
        annotations: { grafana_folder: 'Backups' },
      },
      data: { [file]: std.manifestJsonEx(mixin.grafanaDashboards[file], '  ') + '\n' },
    }
    for file in std.objectFields(mixin.grafanaDashboards)
  ],
}
