#!/bin/bash
# Scrape comparison: starts wk-scrape-targets (TARGETS node_exporter-like targets x
# SERIES series on 127.0.0.1:21000..), then one scraper (Watchkeeper or Prometheus)
# on loopback with an empty data directory and one static job listing every target
# at a 15 s interval. After a warm-up (WARMUP seconds, default 30: every target's
# first scrapes, which create its series), it measures DURATION seconds of steady
# state: the scraper's CPU seconds (utime + stime from /proc/PID/stat), the scrapes
# and samples the scraper recorded in that window (from its own up and
# scrape_samples_scraped series, over its HTTP API), the targets' request counts,
# and peak RSS. Stops everything and removes the directory. See docs/benchmarks.md.
#
# usage (from the repository root, after
#   nice -n 10 cargo build --release -j1 -p watchkeeper -p wk-bench):
#   crates/bench/scripts/scrape-vs.sh wk|prom TARGETS SERIES DURATION
set -euo pipefail
which=$1 targets=$2 series=$3 duration=$4
warmup=${WARMUP:-30} interval=15 first_port=${FIRST_PORT:-21000} control=127.0.0.1:${CONTROL_PORT:-20999}
dir=$(mktemp -d "${TMPDIR:-/tmp}/wk-scrape-$which.XXXX")
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"' EXIT

./target/release/wk-scrape-targets --targets "$targets" --series "$series" \
  --first-port "$first_port" --control "$control" > "$dir/targets.log" 2>&1 &
gen=$!; pids+=("$gen")

{
  printf 'global:\n  scrape_interval: %ss\n  scrape_timeout: 10s\n' "$interval"
  printf 'scrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets:\n'
  for i in $(seq 0 $((targets - 1))); do printf "          - '127.0.0.1:%d'\n" $((first_port + i)); done
} > "$dir/scrape.yml"
if [ "$which" = wk ]; then
  { printf 'host_agent:\n  enabled: false\nself_monitoring:\n  enabled: false\notlp:\n  grpc:\n    enabled: false\n'; cat "$dir/scrape.yml"; } > "$dir/watchkeeper.yml"
  ./target/release/watchkeeper serve --config.file "$dir/watchkeeper.yml" \
    --web.listen-address 127.0.0.1:20980 --storage.path "$dir/data" > "$dir/server.log" 2>&1 &
  pid=$! base=http://127.0.0.1:20980 ready=/-/ready
else
  prometheus --config.file "$dir/scrape.yml" --web.listen-address 127.0.0.1:20990 \
    --storage.tsdb.path "$dir/data" > "$dir/server.log" 2>&1 &
  pid=$! base=http://127.0.0.1:20990 ready=/-/ready
fi
pids+=("$pid")
for _ in $(seq 100); do curl -sf "$base$ready" > /dev/null && break; sleep 0.2; done
alive() { kill -0 "$pid" 2>/dev/null && kill -0 "$gen" 2>/dev/null; }
if ! alive || ! curl -sf "$base$ready" > /dev/null; then
  echo "$which or the targets did not start:"; tail -n 20 "$dir/server.log" "$dir/targets.log"; exit 1
fi

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
gen_stat() { curl -s "http://$control/stats" | awk -v k="$1" '$1 == k {print $2}'; }
query() { # query EXPR TIME -> the first result's value, or "-"
  curl -s -m 120 "$base/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$2" |
    jq -r '.data.result[0].value[1] // "-"'
}
hz=$(getconf CLK_TCK)
echo "scraper $which pid $pid; $targets targets x $series series every ${interval}s; warm-up ${warmup}s, window ${duration}s"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep "$warmup"
s0=$(ticks "$pid") g0=$(ticks "$gen") r0=$(gen_stat requests) t0=$(date +%s.%N)
sleep "$duration"
alive || { echo "$which or the targets died:"; tail -n 20 "$dir/server.log" "$dir/targets.log"; exit 1; }
s1=$(ticks "$pid") g1=$(ticks "$gen") r1=$(gen_stat requests) t1=$(date +%s.%N)
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

window=$(printf '%.0f' "$(echo "$t1 - $t0" | bc)")
sel="job=\"bench\""
scrapes=$(query "sum(count_over_time(up{$sel}[${window}s]))" "$t1")
up_sum=$(query "sum(sum_over_time(up{$sel}[${window}s]))" "$t1")
samples=$(query "sum(sum_over_time(scrape_samples_scraped{$sel}[${window}s]))" "$t1")
cpu=$(echo "scale=3; ($s1 - $s0) / $hz" | bc)
warm_cpu=$(echo "scale=3; $s0 / $hz" | bc)
gen_cpu=$(echo "scale=3; ($g1 - $g0) / $hz" | bc)
echo "window: ${window}s"
echo "target requests in window: $((r1 - r0)) (x $series series = $(( (r1 - r0) * series )) samples)"
echo "scrapes recorded (count of up): $scrapes; failed: $(echo "$scrapes - $up_sum" | bc)"
echo "samples scraped (sum of scrape_samples_scraped): $samples"
echo "scraper CPU in window: ${cpu} s ($(echo "scale=1; 100 * $cpu / $window" | bc) % of one core)"
if [ "$samples" != - ] && [ "$samples" != 0 ]; then
  echo "scraper CPU s per million samples: $(echo "scale=3; $cpu * 1000000 / $samples" | bc)"
fi
echo "scraper CPU before the window (start-up + warm-up): ${warm_cpu} s"
echo "generator CPU in window: ${gen_cpu} s"
echo "scraper $(grep VmHWM "/proc/$pid/status" | tr -s ' \t' ' '); $(grep VmRSS "/proc/$pid/status" | tr -s ' \t' ' ')"
echo "up == 1 now: $(query "count(up{$sel} == 1)" "$t1") of $targets"
echo "scrape duration in window: avg $(query "avg(avg_over_time(scrape_duration_seconds{$sel}[${window}s]))" "$t1") s, max $(query "max(max_over_time(scrape_duration_seconds{$sel}[${window}s]))" "$t1") s"
echo "stored check: count(node_load1) = $(query 'count(node_load1)' "$t1")"
