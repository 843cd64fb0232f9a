// The mixin with threshold and objective overrides and an org whose critical item alerts
// page, rendered by alerts/render into overrides.rules.yml and tested by overrides_test.yml.
local day = 86400;
local mixin = (import '../mixin.libsonnet') + {
  _config+:: {
    overrides: [
      { org: 'Servers', backupAge: { warning: 1 * day, critical: 2 * day } },
      { source: 'eu', backupAge: { warning: 4 * day } },
      { source: 'eu', org: 'Servers', backupAge: { warning: day / 2 } },
      { workload: 'Exchange Online', resourceAge: { warning: day / 2, critical: 1 * day } },
      { org: 'Servers', rpoObjective: 0.99 },
    ],
    pagingScopes: [{ org: 'Servers' }, { source: 'm365', workload: 'Exchange Online' }],
  },
};
{ groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }
