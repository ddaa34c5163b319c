#!/usr/bin/env bash
# Runs the README's test command with two CPU-bound processes beside it, the
# way a shared 2-core CI machine or a developer's busy laptop runs it, RUNS
# times in a row (default 3), and prints how long each run took. Any failed
# run fails the script. The burners stop when the script ends, however it
# ends.
#
#   bash bench/busy-test.sh          # 3 loaded runs
#   RUNS=1 BURNERS=0 bash bench/busy-test.sh   # one quiet run, timed
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
burners=${BURNERS:-2}

pids=()
stop() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop EXIT
for _ in $(seq 1 "$burners"); do
  ( while :; do :; done ) &
  pids+=($!)
done
echo "busy-test: $burners CPU-bound process(es) beside the tests (pids ${pids[*]:-none}); $(nproc) CPUs"

for i in $(seq 1 "$runs"); do
  start=$(date +%s)
  if go vet ./... && go test -race -count=1 ./...; then
    echo "busy-test: run $i of $runs passed in $(( $(date +%s) - start )) s"
  else
    echo "busy-test: run $i of $runs FAILED after $(( $(date +%s) - start )) s" >&2
    exit 1
  fi
done
