#!/usr/bin/env bash
# Measures `kakeibo validate` on one spec file of many SLOs (issue 22's
# bound: 100,000 SLOs in under 5 s and 300 MB), in two shapes: ALB SLOs
# written one per line in flow style, and Prometheus SLOs in block style.
# The same-run reference is `gzip -6` of the same file (the machine is
# shared: compare ratios), and 10,000 SLOs show how it scales.
#
# Usage: bench/validate.sh [WORKDIR]   (default /tmp/kakeibo-bench-validate)
# Env:   BENCH_SLOS (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-/tmp/kakeibo-bench-validate}
n=${BENCH_SLOS:-100000}
mkdir -p "$work"
command -v /usr/bin/time >/dev/null || { echo "bench: /usr/bin/time is missing (apt-get install -y time)" >&2; exit 1; }
go build -o "$work/kakeibo" ./cmd/kakeibo

gen() { # gen SHAPE COUNT FILE
  awk -v shape="$1" -v n="$2" 'BEGIN {
    print "service: shop"
    print "notify: {page: {slack: \"#shop-oncall\"}, ticket: {slack: \"#shop\"}}"
    print "slos:"
    for (i = 0; i < n; i++) {
      if (shape == "alb") {
        printf "  - {name: s%d, objective: 99, window: 7d, sli: {alb: {load_balancer: app/shop/0123456789abcdef, hosts: [svc%d.example.com], paths: [\"^/api/\"], latency: {threshold: 300ms}}}}\n", i, i
      } else {
        printf "  - name: s%d\n    objective: 99.9\n    window: 30d\n    labels: {team%d: t%d}\n    sli:\n      prometheus:\n        bad: sum(rate(http_requests_total{job=\"svc%d\",code=~\"5..\"}[{{.window}}]))\n        total: sum(rate(http_requests_total{job=\"svc%d\"}[{{.window}}]))\n", i, i % 50, i % 7, i, i
      }
    }
  }' > "$3"
}

seconds() { /usr/bin/time -f "%e %M %U %S" -o "$work/time.out" "$@" > /dev/null 2> "$work/stderr.out" || { cat "$work/stderr.out" >&2; exit 1; }; awk '{print $1, $2, $3 + $4}' "$work/time.out"; }

export KAKEIBO_MAX_SPEC_BYTES=$((1 << 30))
for shape in alb prometheus; do
  for count in $((n / 10)) "$n"; do
    f="$work/$shape-$count.yaml"
    [ -f "$f" ] || gen "$shape" "$count" "$f"
    read -r tg _ _ < <(seconds gzip -6 -c "$f")
    best=""; peak=0
    for i in 1 2 3; do
      read -r t m _ < <(seconds "$work/kakeibo" validate "$f")
      if [ -z "$best" ] || awk "BEGIN{exit !($t < $best)}"; then best=$t; fi
      [ "$m" -gt "$peak" ] && peak=$m
    done
    echo "$shape, $count SLOs ($(( $(wc -c < "$f") / 1000000 )) MB): validate ${best}s (best of 3, $(awk "BEGIN{printf \"%.2f\", $best / $tg}")x gzip -6 of the file, ${tg}s), peak RSS $((peak / 1024)) MB"
  done
done
