#!/usr/bin/env bash
# Sets up a fresh machine (only the Rust toolchain, gcc and Python assumed)
# and builds the runtime, its tools and its modules in release mode.
# Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_cmd() { command -v "$1" >/dev/null 2>&1; }

if ! need_cmd cargo; then
  echo "setup: cargo not found; install the Rust toolchain (rustup) first" >&2
  exit 1
fi

# Rust components CI checks with.
if need_cmd rustup; then
  rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
  rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi

# fio: the bdev benchmark measures the file system's own limit with it.
if ! need_cmd fio && need_cmd apt-get; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y fio >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y fio >/dev/null 2>&1; } \
    || echo "setup: could not install fio; chimaera_bench --mode bdev will print file figures without fio's" >&2
fi

cargo build --workspace --release "$@"
echo "setup: built into $(pwd)/target/release"
