// Every threshold pair of a configuration must be a tier: warning below critical. Returns
// the pairs that are not, in words; alerts/render fails with them.
local ageKeys = ['backupAge', 'noNewData', 'connection', 'resourceAge'];
local pairKeys = ageKeys + ['resourceIntervalFactor', 'license'];

function(config)
  local bad(where, pair) =
    if pair.warning < pair.critical then []
    else ['%s: warning %s is not below critical %s' % [where, pair.warning, pair.critical]];
  // Time left: the warning comes with more of it left than the critical.
  local preserved = config.preservedDeletion;
  (if preserved.warning > preserved.critical then []
   else ['preservedDeletion: warning %s is not above critical %s (time left)' % [preserved.warning, preserved.critical]]) +
  std.flattenArrays([bad(key, config[key]) for key in pairKeys]) +
  std.flattenArrays([
    local effective = {
      warning: if std.objectHas(o[key], 'warning') then o[key].warning else config[key].warning,
      critical: if std.objectHas(o[key], 'critical') then o[key].critical else config[key].critical,
    };
    bad('override %s of %s' % [std.manifestJsonMinified(o), key], effective)
    for o in config.overrides
    for key in ageKeys
    if std.objectHas(o, key)
  ])
