#!/usr/bin/env bash
# Measures `kakeibo serve` with N ALB-backed SLOs (default 1000; SLOS=10000
# for the organization shape: 100 load balancers) over 30 days of minute
# buckets: evaluation time per cycle (unchanged and with every watermark
# moved), heap per SLO and time to ready in the Go benchmark, then the real
# binary's time to ready and resident memory (steady: after 20 cycles at a
# 1 s interval, and peak, VmHWM). The baseline, measured in the same run,
# adds up every minute of each SLO's 30 days (what a store of plain minute
# records would read per cycle).
#
# Usage: SLOS=10000 bench/serve.sh [WORKDIR]   (default /tmp/kakeibo-serve-bench;
#        about 0.4 GB and 4 s to write per 1,000 SLOs, the first time)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kakeibo-serve-bench}
n=${SLOS:-1000}
mkdir -p "$work"

KAKEIBO_BENCH_SLOS=$n KAKEIBO_BENCH_DIR="$work" go test -run XXX -bench EvaluateALBSLOs -benchtime 20x -timeout 60m ./server | grep -E "Benchmark|wrote"

go build -o "$work/kakeibo" ./cmd/kakeibo
dir="$work/$n"
port=$(( 20000 + RANDOM % 20000 ))
start=$(date +%s.%N)
"$work/kakeibo" serve --specs "$dir/specs" --data-dir "$dir/data" --alb-logs "$dir/logs" \
  --listen "127.0.0.1:$port" --eval-interval 1s --log-level warn > "$work/serve.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" > /dev/null; do
  kill -0 $pid 2>/dev/null || { cat "$work/serve.log"; exit 1; }
  sleep 0.01
done
end=$(date +%s.%N)
first=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
sleep 20
curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
curl -s -o /dev/null "http://127.0.0.1:$port/"
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
last=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^kakeibo_evaluation_last_duration_seconds / {print $2}')
slos=$(curl -s "http://127.0.0.1:$port/api/v1/slos" | grep -c '"slo":')
kill -TERM $pid; wait $pid || true
trap - EXIT
awk -v s="$start" -v e="$end" -v f="$first" -v r="$rss" -v h="$hwm" -v n="$slos" -v l="$last" 'BEGIN {
  printf "kakeibo serve: %d SLOs served; ready %.0f ms after start; RSS %d MB after the first evaluation, %d MB after 20 s of 1 s cycles and a scrape, peak %d MB; last cycle %.3f s\n", n, (e - s) * 1000, f / 1024, r / 1024, h / 1024, l }'
