#!/usr/bin/env bash
# Installs the Python virtualenv that the OTLP/gRPC integration test drives: the official
# OpenTelemetry SDK and its gRPC exporter, pinned, under target/py-venv. Idempotent: does
# nothing when the venv already has the pinned versions. Usage: scripts/py-venv.sh
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${WK_PY_VENV:-${CARGO_TARGET_DIR:-target}/py-venv}"
otel_version=1.45.2
stamp="$venv/.wk-otel-$otel_version"
[ -f "$stamp" ] && exit 0

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "==> installing Debian packages: python3 python3-venv"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
fi

echo "==> creating $venv (opentelemetry-sdk $otel_version and its OTLP/gRPC exporter)"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "opentelemetry-sdk==$otel_version" "opentelemetry-exporter-otlp-proto-grpc==$otel_version"
touch "$stamp"
