// Exporter replicas — an HA pair, or two pods during a rolling update — serve the same
// sources, and disagree while one refreshes later than the other or fails. Every rule,
// alert and dashboard reads a source's series from its freshest replica only: the one
// whose last successful refresh is the newest (backup:source_freshest_replica), with the
// replica labels dropped. A stale or failing replica therefore changes no item series and
// breaks no join; two replicas that refreshed in the same second serve the same data, and
// `max` merges them.
function(config) {
  local sel = config.exporterSelector,
  local replicas = std.join(', ', config.replicaLabels),
  local selector(matchers) = std.join(', ', [sel] + (if matchers == '' then [] else [matchers])),

  // The labels that tell replicas apart, for `without (...)`.
  labels:: replicas,

  // The recording rule naming each source's freshest replica (value 1).
  freshestRule:: {
    record: 'backup:source_freshest_replica',
    expr: |||
      group without () (
        backup_source_last_success_timestamp_seconds{%s}
        == on(source) group_left ()
        max by (source) (backup_source_last_success_timestamp_seconds{%s})
      )
    ||| % [sel, sel],
  },

  // The series of `metric` matching `matchers`, from each source's freshest replica.
  one(metric, matchers=''):: 'max without (%s) (\n  %s{%s}\n  and on(source, %s) backup:source_freshest_replica\n)' % [
    replicas,
    metric,
    selector(matchers),
    replicas,
  ],

  // The increase of counter `metric` over `range`, from each source's freshest replica.
  increase(metric, range, matchers=''):: 'max without (%s) (\n  increase(%s{%s}[%s])\n  and on(source, %s) backup:source_freshest_replica\n)' % [
    replicas,
    metric,
    selector(matchers),
    range,
    replicas,
  ],

  // An exporter series of every replica, as it is (the exporter's own alerts are about a
  // replica).
  each(metric, matchers=''):: '%s{%s}' % [metric, selector(matchers)],
}
