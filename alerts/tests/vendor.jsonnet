// The mixin in Code42 vendor mode (device backup and connection alerts from Code42's own
// alert states), rendered by alerts/render into vendor.rules.yml and tested by
// vendor_test.yml.
local mixin = (import '../mixin.libsonnet') + { _config+:: { code42Thresholds: 'vendor' } };
{ groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }
