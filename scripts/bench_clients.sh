#!/usr/bin/env bash
# The Rust, C and Python clients' figures side by side, against one runtime
# in one run (chimaera_bench --mode clients): release builds of all three,
# the C program compiled with the machine's gcc against the installed
# header, the Python package built into target/python-bench-env.
#
#   scripts/bench_clients.sh [--tasks N]     (default 200000 pings)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build --release -p chimaera-util -p chimaera_admin -p chimaera_bdev -p chimaera-client-c
prefix=$target/bench-c
scripts/install_c_client.sh "$prefix" --from "$target/release" >/dev/null
gcc -std=c11 -O2 -Wall -Wextra -Werror client-c/examples/client_figures.c -I "$prefix/include" \
  -L "$prefix/lib" -lchimaera_client -Wl,-rpath,"$(realpath "$prefix/lib")" -o "$prefix/client_figures"
venv=$target/python-bench-env
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check maturin numpy
VIRTUAL_ENV=$(realpath "$venv") PATH="$(realpath "$venv")/bin:$PATH" maturin develop -q --release -m python/Cargo.toml
exec "$target/release/chimaera_bench" --mode clients --c-figures "$prefix/client_figures" \
  --python-figures python/bench/client_figures.py --python "$venv/bin/python" "$@"
