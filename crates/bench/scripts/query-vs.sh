#!/bin/bash
# Query latency comparison: loads the same node_exporter-like data (wk-bench over
# remote_write) into Watchkeeper, Prometheus and VictoriaMetrics, one server at a
# time, each on a free loopback port with an empty data directory; runs a fixed
# set of range queries over the loaded span RUNS times each; prints the median
# latency per query and the server's peak RSS, then stops the server and removes
# its directory. See docs/benchmarks.md ("Query latency: Watchkeeper vs
# Prometheus vs VictoriaMetrics").
#
# usage (from the repository root, after
#   nice -n 10 cargo build --release -j2 -p watchkeeper -p wk-bench):
#   crates/bench/scripts/query-vs.sh [SERIES [STEPS [RUNS [QUERY_STEP [SYSTEMS]]]]]
# SERIES: series per scrape (100 per host; default 100000); STEPS: scrapes 15 s
# apart (default 240 = 1 h); RUNS: runs per query (default 5); QUERY_STEP: the
# range queries' step in seconds (default 15); SYSTEMS: any of "wk prom vm"
# (default all three, in that order).
#
# Large data sets (e.g. 100000 series x 5760 steps = 24 h) take longer to load
# than to query, so they can be loaded once and kept:
#   KEEP=DIR    data directories live in DIR/wk, DIR/prom, DIR/vm and are kept;
#               a system whose DIR/SYSTEM/loaded exists is not loaded again, only
#               restarted on its data and queried. DIR/grid holds the time grid,
#               written by the first run, so every system gets the same samples.
#   LOAD_ONLY=1 load (if needed) and stop without querying; several systems can
#               load at once from separate invocations sharing one KEEP.
#   SAMPLES_PER_SERIES=K  each request carries K consecutive scrapes of 2000/K
#               series (default 1, as a live sender): a backfill of 24 h loads
#               several times faster on every system with K=20.
# wk-bench streams (encodes each request just before sending it), so memory
# stays flat at any size. Query limits are raised on every system (samples per
# query, timeout) so that a 24 h query answers instead of hitting a default.
set -euo pipefail
series=${1:-100000} steps=${2:-240} runs=${3:-5} qstep=${4:-15} systems=${5:-"wk prom vm"}
keep=${KEEP:-} load_only=${LOAD_ONLY:-} per_series=${SAMPLES_PER_SERIES:-1}

# One time grid for every system, so that all hold the same samples and the
# queries cover the same span: scrapes at start, start + 15 s, ..., end.
if [ -n "$keep" ] && [ -s "$keep/grid" ]; then
  read -r series steps start_ms < "$keep/grid"
else
  now_ms=$(( $(date +%s) * 1000 ))
  start_ms=$(( now_ms - now_ms % 15000 - steps * 15000 ))
  if [ -n "$keep" ]; then mkdir -p "$keep"; echo "$series $steps $start_ms" > "$keep/grid"; fi
fi
end_s=$(( (start_ms + (steps - 1) * 15000) / 1000 ))
# Range queries start 5 minutes in, so rate() windows are full at every step.
qstart_s=$(( start_ms / 1000 + 300 ))

queries=(
  'raw_selector|node_cpu_seconds_total{instance="host-00002:9100"}'
  'sum_rate_by_instance|sum by (instance) (rate(node_cpu_seconds_total[5m]))'
  'histogram_quantile|histogram_quantile(0.9, sum by (le) (rate(node_exporter_scrape_duration_seconds_bucket[5m])))'
  'topk_rate|topk(5, rate(node_network_receive_bytes_total[5m]))'
  'count_by_job_all|count by (job) ({__name__=~".+"})'
  'regex_matcher|node_cpu_seconds_total{mode=~"user|system",instance=~"host-000[0-4].*"}'
  'subquery_max_rate|max_over_time(rate(node_cpu_seconds_total{instance="host-00001:9100"}[5m])[30m:1m])'
)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
pid="" dir=""
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$dir" ] && [ -z "$keep" ]; then rm -rf "$dir"; fi
  pid="" dir=""
}
trap stop EXIT
hwm() { awk '/VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }

run_system() {
  local which=$1 port base ready extra=""
  port=$(free_port)
  if [ -n "$keep" ]; then
    dir=$keep/$which; mkdir -p "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/wk-query-$which.XXXX")
  fi
  base=http://127.0.0.1:$port
  case $which in
    wk)
      # Default options (the query sample limit counts samples held at once,
      # as Prometheus's, so streamed aggregations over every series pass).
      printf 'host_agent:\n  enabled: false\nself_monitoring:\n  enabled: false\nquery:\n  timeout: 10m\n  max_samples: 1000000000\notlp:\n  grpc:\n    enabled: false\n' > "$dir/watchkeeper.yml"
      ./target/release/watchkeeper serve --config.file "$dir/watchkeeper.yml" \
        --web.listen-address "127.0.0.1:$port" --storage.path "$dir/data" >> "$dir/server.log" 2>&1 &
      pid=$! ready=/-/ready ;;
    prom)
      printf 'global:\n  scrape_interval: 15s\n' > "$dir/prometheus.yml"
      prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
        --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver \
        --query.max-samples=1000000000 --query.timeout=10m >> "$dir/server.log" 2>&1 &
      pid=$! ready=/-/ready ;;
    vm)
      # nocache=1 on every query turns off VictoriaMetrics' rollup result cache,
      # which would otherwise answer repeated runs from memory.
      victoria-metrics -httpListenAddr="127.0.0.1:$port" -storageDataPath="$dir/data" \
        -search.maxUniqueTimeseries=2000000 -search.latencyOffset=1s -search.maxQueryDuration=10m \
        >> "$dir/server.log" 2>&1 &
      pid=$! ready=/health extra="&nocache=1" ;;
    *) echo "unknown system $which" >&2; return 1 ;;
  esac
  # A restart on kept data replays the server's write-ahead log first.
  local t0=$SECONDS
  for _ in $(seq 1200); do
    curl -sf "$base$ready" > /dev/null && break
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$which exited before it was ready:" >&2; tail -n 5 "$dir/server.log" >&2; pid=""; stop; return 1
    fi
    sleep 0.5
  done
  echo "== $which (pid $pid, port $port, ready in $((SECONDS - t0)) s); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ -f "$dir/loaded" ]; then
    echo "   data loaded earlier: $(cat "$dir/loaded")"
  else
    t0=$SECONDS
    timeout 14400 ./target/release/wk-bench --url "$base/api/v1/write" --series "$series" --steps "$steps" \
      --start-ms "$start_ms" --batch-series $(( (2000 + per_series - 1) / per_series )) \
      --samples-per-series "$per_series" --concurrency 4 --pid "$pid" --stream --quiet 2>&1 | sed 's/^/   /'
    echo "   loaded in $((SECONDS - t0)) s; peak RSS after loading: $(hwm "$pid")"
    if [ -n "$keep" ]; then echo "$series series x $steps steps in $((SECONDS - t0)) s on $(date -u +%FT%TZ)" > "$dir/loaded"; fi
    sleep 5   # let VictoriaMetrics make the newest rows searchable
  fi
  if [ -n "$load_only" ]; then echo "   data on disk: $(du -sh "$dir/data" | cut -f1)"; stop; return; fi
  printf '   %-22s %10s   %s\n' query "median s" "runs (s); result series"
  for entry in "${queries[@]}"; do
    local name=${entry%%|*} q=${entry#*|} times=() n=""
    for _ in $(seq "$runs"); do
      local out
      out=$(curl -s -m 900 -o "$dir/answer.json" -w '%{http_code} %{time_total}' "$base/api/v1/query_range" \
        --data-urlencode "query=$q" -d "start=$qstart_s&end=$end_s&step=$qstep$extra")
      if [ "${out%% *}" != 200 ]; then
        echo "   $name: HTTP ${out%% *}: $(head -c 300 "$dir/answer.json")"; times=(); break
      fi
      times+=("${out#* }")
    done
    [ ${#times[@]} -eq 0 ] && continue
    n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]["result"]))' "$dir/answer.json")
    printf '   %-22s %10s   %s; %s\n' "$name" \
      "$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')" \
      "${times[*]}" "$n"
  done
  echo "   peak RSS over the whole run (VmHWM): $(hwm "$pid"); data on disk: $(du -sh "$dir/data" | cut -f1)"
  stop
}

echo "data: $series series x $steps scrapes from $start_ms ms; queries from $qstart_s to $end_s s at ${qstep}s steps, $runs runs each"
for s in $systems; do run_system "$s"; done
