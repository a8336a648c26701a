#!/bin/bash
# Ingestion comparison: starts one server (Watchkeeper or VictoriaMetrics) on
# loopback with an empty data directory, sends it SERIES x STEPS samples with
# wk-bench, checks with two queries that every series and sample is there, then
# stops the server and removes its directory. See docs/benchmarks.md.
#
# usage (from the repository root, after
#   nice -n 10 cargo build --release -j2 -p watchkeeper -p wk-bench):
#   crates/bench/scripts/remote-write-vs.sh wk|vm SERIES STEPS
set -euo pipefail
which=$1 series=$2 steps=$3
dir=$(mktemp -d "${TMPDIR:-/tmp}/wk-bench-$which.XXXX")
if [ "$which" = wk ]; then
  printf 'host_agent:\n  enabled: false\nself_monitoring:\n  enabled: false\notlp:\n  grpc:\n    enabled: false\n' > "$dir/watchkeeper.yml"
  ./target/release/watchkeeper serve --config.file "$dir/watchkeeper.yml" \
    --web.listen-address 127.0.0.1:19800 --storage.path "$dir/data" > "$dir/server.log" 2>&1 &
  pid=$! base=http://127.0.0.1:19800 ready=/-/ready
else
  # The two -search.* flags only let the check queries below see all series and
  # the newest samples; they do not touch ingestion.
  victoria-metrics -httpListenAddr=127.0.0.1:18428 -storageDataPath="$dir/data" \
    -search.maxUniqueTimeseries=2000000 -search.latencyOffset=1s > "$dir/server.log" 2>&1 &
  pid=$! base=http://127.0.0.1:18428 ready=/health
fi
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -sf "$base$ready" > /dev/null && break; sleep 0.2; done
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
t0=$(ticks)
echo "server $which pid $pid; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
timeout 180 ./target/release/wk-bench --url "$base/api/v1/write" --series "$series" --steps "$steps" \
  --batch-series 2000 --concurrency 4 --pid "$pid" --quiet
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
sleep 5
echo "server CPU from ready to 5 s after the run: $(( ($(ticks) - t0) * 1000 / $(getconf CLK_TCK) )) ms; $(grep VmHWM "/proc/$pid/status")"
for q in 'count({job="node"})' 'sum(count_over_time({job="node"}[30m]))'; do
  echo "$q -> $(curl -s -m 60 "$base/api/v1/query" --data-urlencode "query=$q" | cut -c1-160)"
done
