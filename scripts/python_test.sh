#!/usr/bin/env bash
# Builds the Python package `chimaera` into a virtual environment of its
# own (target/python-env, with maturin, pytest and numpy from PyPI) and runs
# its pytest suite against real runtimes of this build.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
venv=$target/python-env
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --disable-pip-version-check maturin pytest numpy
# The runtime, its tools and modules the tests start, in the debug profile.
cargo build --workspace
VIRTUAL_ENV=$(realpath "$venv") PATH="$(realpath "$venv")/bin:$PATH" maturin develop -q -m python/Cargo.toml
CHI_BIN_DIR=$target/debug "$venv/bin/python" -m pytest -q python/tests "$@"
