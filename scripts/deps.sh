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
