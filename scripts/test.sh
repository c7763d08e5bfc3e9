#!/usr/bin/env bash
# Runs every test of the workspace: unit tests, config fixtures, doc tests,
# the process tests that start real runtimes (C and C++ programs among them)
# and the Python package's tests. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
# The Python package first: its pytest suite against real runtimes, and the
# package the client guide's Python example imports (tests/docs.rs finds it
# in target/python-env).
scripts/python_test.sh
cargo test --workspace "$@"
# In CI, every fuzz target also runs for a bounded time (docs/reliability.md).
if [ "${CI:-}" = true ]; then
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
fi
