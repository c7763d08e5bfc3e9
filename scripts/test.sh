#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, config fixtures, doc tests,
# the process tests that start real runtimes (C and C++ programs among them)
# and the Python package's tests. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace "$@"
# The Python package's pytest suite, against real runtimes of this build.
scripts/python_test.sh
# In CI, every fuzz target also runs for a bounded time (docs/reliability.md).
if [ "${CI:-}" = true ]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
