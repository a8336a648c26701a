#!/usr/bin/env bash
# Runs the whole test suite, as CI does: installs what the tests need (idempotent),
# then formatting, lints and every test. Usage: scripts/test.sh [extra nextest args]
# Longer soaks: WK_SOAK=1 scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }

# Debian packages whose real programs the tests talk to.
#   promtool (package prometheus): checks our /metrics exposition.
#   prometheus-node-exporter: the host agent is compared with it, metric by metric.
#   dnsmasq (package dnsmasq-base): the DNS server that DNS discovery and probes ask.
need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
command -v dnsmasq >/dev/null 2>&1 || need+=(dnsmasq-base)
if ((${#need[@]})); then
  log "installing Debian packages: ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The official OpenTelemetry Python SDK, the real OTLP/gRPC client of
# crates/server/tests/otlp_grpc.rs, in a venv under target/ (installed once).
scripts/py-venv.sh

for component in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$component"; then
    log "installing rustup component $component"
    rustup component add "$component"
  fi
done

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

log "tests"
if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doc tests; run them first so nextest's summary closes the log.
  cargo test --workspace --locked --doc
  cargo nextest run --workspace --locked --no-fail-fast "$@"
else
  cargo test --workspace --locked --no-fail-fast "$@"
fi
