#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, config fixtures, doc tests and
# the process tests that start real runtimes. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
# In CI, every fuzz target also runs for a bounded time (docs/reliability.md).
if [ "${CI:-}" = true ]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
