#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test execgate.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
[ -x /usr/bin/python3 ] || need_apt+=(python3)
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)   # only for the runner benchmark's baseline
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)     # the RS256 JWT test makes its key pair with it
# The real-client tests (scripts/test-clients): node + npm for piston-client, a venv for judge0.
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
python3 -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
# The shared-state tests start their own redis-server instances (standalone and cluster).
{ command -v redis-server && command -v redis-cli; } >/dev/null 2>&1 || need_apt+=(redis-server)
# The operator console's tests drive a real headless Chromium through chromedriver.
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)

# scripts/bench-front only (not the tests): `deps.sh --bench`.
if [ "${1:-}" = "--bench" ]; then
  command -v nginx >/dev/null 2>&1 || need_apt+=(nginx)
  command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "deps: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: Rust is missing: install it with rustup (https://rustup.rs), then run this again" >&2
  exit 1
fi

# The clients the real-client tests run, unchanged, pinned: under target/clients.
clients="$(cd "$(dirname "$0")/.." && pwd)/${CARGO_TARGET_DIR:-target}/clients"
if [ ! -f "$clients/node_modules/piston-client/package.json" ]; then
  echo "deps: installing npm piston-client into $clients" >&2
  mkdir -p "$clients"
  npm install --silent --no-audit --no-fund --prefix "$clients" piston-client@1.0.2 >/dev/null
fi
if ! "$clients/venv/bin/python" -c 'import judge0' >/dev/null 2>&1; then
  echo "deps: installing the judge0 Python SDK into $clients/venv" >&2
  python3 -m venv "$clients/venv"
  "$clients/venv/bin/pip" install --quiet judge0==0.0.8
fi
