#!/usr/bin/env bash
# Measures `kakeibo serve` with 1,000 ALB-backed SLOs over 30 days of minute
# buckets: evaluation time per cycle, heap per SLO, and the time from start
# to ready with that data dir, in the Go benchmark and with the real binary.
# The baseline, measured in the same run, adds up every minute of each
# SLO's 30 days (what a store of plain minute records would read per cycle).
#
# Usage: bench/serve.sh [WORKDIR]   (default /tmp/kakeibo-serve-bench; ~1.5 GB;
#        the first run writes the data, about 1.5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kakeibo-serve-bench}
mkdir -p "$work"

KAKEIBO_BENCH_DIR="$work" go test -run XXX -bench EvaluateALBSLOs -benchtime 20x -timeout 30m ./server | grep -E "Benchmark|wrote"

go build -o "$work/kakeibo" ./cmd/kakeibo
port=$(( 20000 + RANDOM % 20000 ))
start=$(date +%s.%N)
"$work/kakeibo" serve --specs "$work/specs" --data-dir "$work/data" --alb-logs "$work/logs" \
  --listen "127.0.0.1:$port" --log-level warn > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" > /dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.01
done
end=$(date +%s.%N)
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
slos=$(curl -s "http://127.0.0.1:$port/api/v1/slos" | grep -c '"slo":')
kill -TERM $pid; wait $pid || true
trap - EXIT
awk -v s="$start" -v e="$end" -v r="$rss" -v n="$slos" 'BEGIN {
  printf "kakeibo serve: ready %.0f ms after start (goal < 1000), %d SLOs served, RSS %d MB after the first evaluation\n", (e - s) * 1000, n, r / 1024 }'
