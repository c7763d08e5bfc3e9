#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for SECONDS each, default 60,
# and prints how many inputs each one ran. Installs cargo-fuzz if missing.
# libFuzzer's instrumentation needs nightly compiler flags; RUSTC_BOOTSTRAP=1
# lets the stable toolchain accept them (no other toolchain is fetched).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
cargo fuzz build --fuzz-dir fuzz -O >/dev/null
for target in $(cargo fuzz list --fuzz-dir fuzz); do
  log="$(mktemp)"
  if ! cargo fuzz run --fuzz-dir fuzz -O "$target" -- -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 >"$log" 2>&1; then
    echo "fuzz: $target FAILED (input saved under fuzz/artifacts/$target):" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
  runs="$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1)"
  echo "fuzz: $target: ${runs:-no summary} in ${SECONDS_EACH}s, no crash"
  rm -f "$log"
done
