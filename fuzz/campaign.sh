#!/usr/bin/env bash
# The fuzzing campaign of docs/reliability.md: every target (or those named) runs until it
# has executed RUNS inputs or for SECONDS, two at a time, with an RSS limit and a per-input
# timeout; new inputs go to fuzz/corpus-new/<target>, then the committed corpus is merged
# with them and minimised in place. A crash stops its target and leaves the input in
# fuzz/artifacts/<target>/. Figures go to fuzz/campaign.log, one line per target.
#   bash fuzz/campaign.sh                 # every target, 10 million inputs or 30 minutes each
#   SECONDS_EACH=300 bash fuzz/campaign.sh config web_config
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
SECONDS_EACH=${SECONDS_EACH:-1800}
JOBS=${JOBS:-2}
targets=("$@")
((${#targets[@]})) || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build --debug-assertions >/dev/null || exit 1

run() {
  local t=$1 log=logs/$1.log
  mkdir -p "corpus-new/$t" "corpus/$t" logs
  cargo +nightly fuzz run --debug-assertions "$t" "$PWD/corpus-new/$t" "$PWD/corpus/$t" -- \
    -runs="$RUNS" -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 >"$log" 2>&1
  local code=$?
  local execs rss cov
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  rss=$(grep -oE 'stat::peak_rss_mb:[[:space:]]*[0-9]+' "$log" | awk '{print $2}')
  cov=$(grep -oE '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
  local found=none
  ((code == 0)) || found="exit $code: $(grep -m1 -E 'panicked|ERROR: libFuzzer|SUMMARY' "$log")"
  # The committed corpus, merged with what this run found and minimised.
  mkdir -p "corpus-min/$t"
  cargo +nightly fuzz run --debug-assertions "$t" "$PWD/corpus-min/$t" "$PWD/corpus/$t" "$PWD/corpus-new/$t" -- -merge=1 >/dev/null 2>&1 &&
    rm -rf "corpus/$t" && mv "corpus-min/$t" "corpus/$t"
  printf '%s executions=%s seconds<=%s peak_rss_mb=%s %s corpus=%s findings=%s\n' \
    "$t" "${execs:-?}" "$SECONDS_EACH" "${rss:-?}" "${cov:-cov: ?}" "$(ls "corpus/$t" | wc -l)" "$found" >>campaign.log
}

for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= JOBS)); do wait -n; done
  run "$t" &
done
wait
rm -rf corpus-new corpus-min
cat campaign.log
