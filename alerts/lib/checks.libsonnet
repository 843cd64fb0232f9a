// What alerts/render refuses, in words: threshold pairs that are not tiers (warning below
// critical) for the defaults and for every source and org (or workload) the overrides
// name, however the overrides combine; override entries with unknown keys or no scope;
// objectives outside (0, 1); stale thresholds that could invert; paging scopes that name
// nothing.
local ageKeys = { backupAge: 'org', noNewData: 'org', connection: 'org', resourceAge: 'workload' };
local objectiveKeys = { rpoObjective: ['org', 'workload'], jobObjective: ['workload'] };
local scopeKeys = ['source', 'org', 'workload'];
local overrideKeys = scopeKeys + std.objectFields(ageKeys) + std.objectFields(objectiveKeys);

// The entries of `overrides` that set `key` (and `level`), most specific first: one naming
// a source and an org (or workload), then one naming the org (or workload), then one naming
// the source. Entries of equal rank keep their order. The rules use the same order.
local ranked(overrides, key, level, scope) =
  local relevant = [
    o
    for o in overrides
    if std.objectHas(o, key) && (level == null || std.objectHas(o[key], level))
  ];
  local rank(o) = (if std.objectHas(o, scope) then 0 else 2) + (if std.objectHas(o, 'source') then 0 else 1);
  std.sort(relevant, rank);

local describe(o) = std.manifestJsonMinified(o);

{
  ageKeys:: ageKeys,
  objectiveKeys:: objectiveKeys,
  ranked:: ranked,

  errors(config)::
    local overrides = config.overrides;
    // An entry's own faults.
    local entryErrors = std.flattenArrays([
      local unknown = [k for k in std.objectFields(o) if !std.member(overrideKeys, k)];
      local scoped = [k for k in ['org', 'workload'] if std.objectHas(o, k)];
      (if unknown != [] then ['override %s: unknown key %s (known: %s)' % [describe(o), std.join(', ', unknown), std.join(', ', overrideKeys)]] else []) +
      (if scoped == [] && !std.objectHas(o, 'source') then ['override %s: names no source, org or workload' % describe(o)] else []) +
      (if std.length(scoped) > 1 then ['override %s: names both an org and a workload' % describe(o)] else []) +
      std.flattenArrays([
        local pair = o[key];
        local levels = [k for k in std.objectFields(pair) if !std.member(['warning', 'critical'], k)];
        (if std.objectHas(o, 'org') && ageKeys[key] == 'workload' || std.objectHas(o, 'workload') && ageKeys[key] == 'org'
         then ['override %s: %s thresholds are scoped by %s' % [describe(o), key, ageKeys[key]]] else []) +
        (if levels != [] then ['override %s: %s has unknown key %s (known: warning, critical)' % [describe(o), key, std.join(', ', levels)]] else [])
        for key in std.objectFields(ageKeys)
        if std.objectHas(o, key)
      ]) +
      std.flattenArrays([
        (if std.type(o[key]) != 'number' || o[key] <= 0 || o[key] >= 1 then ['override %s: %s must be a number between 0 and 1' % [describe(o), key]] else []) +
        (if std.objectHas(o, 'org') && !std.member(objectiveKeys[key], 'org') then ['override %s: %s is scoped by workload' % [describe(o), key]] else [])
        for key in std.objectFields(objectiveKeys)
        if std.objectHas(o, key)
      ])
      for o in overrides
    ]);

    // Every pair in force: for each source the entries name (and any other source), each
    // org or workload they name (and any other), the warning and the critical threshold as
    // the rules resolve them, each from its own most specific entry.
    local named(key) = std.set([o[key] for o in overrides if std.objectHas(o, key)]);
    local pairErrors(key) =
      local scope = ageKeys[key];
      local pick(level, source, value) =
        local applies(o) =
          (!std.objectHas(o, 'source') || o.source == source) && (!std.objectHas(o, scope) || o[scope] == value);
        local chosen = [o for o in ranked(overrides, key, level, scope) if applies(o)];
        if chosen == [] then { value: config[key][level], from: 'the default' }
        else { value: chosen[0][key][level], from: describe(chosen[0]) };
      local where(source, value) = std.join(', ', (if source == null then [] else ['source %s' % source]) + (if value == null then [] else ['%s %s' % [scope, value]]));
      std.flattenArrays([
        local warning = pick('warning', source, value);
        local critical = pick('critical', source, value);
        if warning.value < critical.value then []
        else ['%s: %s warning %s (from %s) is not below critical %s (from %s)' % [
          if where(source, value) == '' then 'every source' else where(source, value),
          key,
          warning.value,
          warning.from,
          critical.value,
          critical.from,
        ]]
        for source in named('source') + [null]
        for value in named(scope) + [null]
      ]);

    local defaults(key) =
      local pair = config[key];
      if pair.warning < pair.critical then [] else ['%s: warning %s is not below critical %s' % [key, pair.warning, pair.critical]];

    local preserved = config.preservedDeletion;
    local unknownScopeKeys = std.flattenArrays([
      local unknown = [k for k in std.objectFields(p) if !std.member(scopeKeys, k)];
      (if unknown != [] then ['pagingScopes %s: unknown key %s (known: source, org, workload)' % [describe(p), std.join(', ', unknown)]] else []) +
      (if !std.objectHas(p, 'org') && !std.objectHas(p, 'workload') then ['pagingScopes %s: names no org or workload' % describe(p)] else [])
      for p in config.pagingScopes
    ]);

    std.flattenArrays([defaults(key) for key in std.objectFields(ageKeys) + ['resourceIntervalFactor', 'license']]) +
    (if preserved.warning > preserved.critical then []
     else ['preservedDeletion: warning %s is not above critical %s (time left)' % [preserved.warning, preserved.critical]]) +
    (if config.staleCriticalIntervals > config.staleIntervals then []
     else ['staleCriticalIntervals %s is not above staleIntervals %s: the critical stale threshold could fall below the warning one' % [config.staleCriticalIntervals, config.staleIntervals]]) +
    std.flattenArrays([
      if config[key] > 0 && config[key] < 1 then [] else ['%s must be between 0 and 1' % key]
      for key in std.objectFields(objectiveKeys)
    ]) +
    entryErrors +
    unknownScopeKeys +
    (if entryErrors != [] then [] else std.flattenArrays([pairErrors(key) for key in std.objectFields(ageKeys)])),
}
