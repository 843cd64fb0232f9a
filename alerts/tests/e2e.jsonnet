// The shipped mixin with item alerts that notify at once (`itemFor: '0s'`), rendered by
// alerts/render into e2e.rules.yml for tests/e2e_stack.rs: a real Prometheus there runs
// for minutes, not the 30 minutes item alerts hold. Everything else is the shipped rules.
local mixin = (import '../mixin.libsonnet') + { _config+:: { itemFor: '0s' } };
{ groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }
