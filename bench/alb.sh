#!/usr/bin/env bash
# Measures `kakeibo report` on ALB logs against two baselines on the same
# data, in the same run (the machine is shared: ratios, not absolutes):
#   1. `gzip -dc` of the .log.gz files to /dev/null (single-threaded zlib);
#   2. `goaccess --log-format=AWSALB` on the same lines, uncompressed.
# It also reports kakeibo's peak memory.
#
# Usage: bench/alb.sh [WORKDIR]   (default /tmp/kakeibo-bench; needs ~3 GB free)
# Env:   BENCH_PER_MINUTE (default 700 requests/min per load balancer: ~1 GB a day)
#        BENCH_DAYS (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kakeibo-bench}
per_minute=${BENCH_PER_MINUTE:-700}
days=${BENCH_DAYS:-1}
mkdir -p "$work"

for tool in gzip goaccess /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install -y gzip goaccess time)" >&2; exit 1; }
done

go build -o "$work/kakeibo" ./cmd/kakeibo
go build -o "$work/albgen" ./cmd/albgen

gz="$work/logs-gz"
plain="$work/logs-plain"
if [ ! -f "$work/.generated-$per_minute-$days" ]; then
  rm -rf "$gz" "$plain"
  "$work/albgen" --out "$gz" --per-minute "$per_minute" --days "$days" --traps=false
  # The same lines, uncompressed, in the same tree (for goaccess and for
  # kakeibo's parse speed without decompression).
  (cd "$gz" && find . -name '*.log.gz' -print0 | while IFS= read -r -d '' f; do
    mkdir -p "$plain/$(dirname "$f")"; gzip -dc "$f" > "$plain/${f%.gz}"; done)
  find "$plain" -name '*.log' -print0 | xargs -0 cat > "$work/all.log"
  touch "$work/.generated-$per_minute-$days"
fi

lines=$(wc -l < "$work/all.log")
bytes=$(wc -c < "$work/all.log")
files=$(find "$gz" -name '*.log.gz' | wc -l)
echo "data: $files .log.gz files, $lines lines, $((bytes / 1000000)) MB uncompressed, $(du -sm "$gz" | cut -f1) MB compressed"

# seconds prints wall seconds, peak RSS (KB) and CPU seconds (user + system).
seconds() { /usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$@" > /dev/null 2> "$work/stderr.out" || { cat "$work/stderr.out" >&2; exit 1; }; awk '{print $1, $2, $3 + $4}' "$work/time.out"; }

# Warm the page cache so that every run reads from memory.
cat "$gz"/AWSLogs/*/elasticloadbalancing/*/*/*/*/* > /dev/null

read -r t_gzip _ c_gzip < <(seconds sh -c "find '$gz' -name '*.log.gz' -print0 | xargs -0 gzip -dc")
echo "gzip -dc:                   ${t_gzip}s, CPU ${c_gzip}s"

best_report=""
best_cpu=""
peak=0
for i in 1 2 3; do
  read -r t m c < <(seconds "$work/kakeibo" report --specs testdata/specs --alb-logs "$gz" --progress never --format json)
  echo "kakeibo report (.log.gz) #$i: ${t}s, CPU ${c}s, peak RSS $((m / 1024)) MB"
  if [ -z "$best_report" ] || awk "BEGIN{exit !($t < $best_report)}"; then best_report=$t; fi
  if [ -z "$best_cpu" ] || awk "BEGIN{exit !($c < $best_cpu)}"; then best_cpu=$c; fi
  [ "$m" -gt "$peak" ] && peak=$m
done

read -r t_plain _ < <(seconds "$work/kakeibo" report --specs testdata/specs --alb-logs "$plain" --progress never --format json)
echo "kakeibo report (plain .log): ${t_plain}s"

read -r t_goaccess _ < <(seconds goaccess "$work/all.log" --log-format=AWSALB --no-global-config -o "$work/goaccess.json")
echo "goaccess --log-format=AWSALB: ${t_goaccess}s"

awk -v l="$lines" -v g="$t_gzip" -v cg="$c_gzip" -v cr="$best_cpu" -v r="$best_report" -v p="$t_plain" -v a="$t_goaccess" -v m="$peak" 'BEGIN {
  printf "\nkakeibo report / gzip -dc wall time:      %.2f  (goal <= 0.35 on 2 cores)\n", r / g
  printf "kakeibo report / gzip -dc CPU time:       %.2f  (goal <= 0.7)\n", cr / cg
  printf "kakeibo lines/s (.log.gz):                %.0f\n", l / r
  printf "kakeibo lines/s (plain):                  %.0f\n", l / p
  printf "goaccess lines/s:                         %.0f\n", l / a
  printf "kakeibo / goaccess lines per second:      %.1fx (goal >= 20x, plain lines both)\n", (l / p) / (l / a)
  printf "kakeibo peak RSS:                         %d MB (goal <= 64 MB)\n", m / 1024
}'
