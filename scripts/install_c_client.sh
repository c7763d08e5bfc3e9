#!/usr/bin/env bash
# Installs the C client into PREFIX: include/chimaera.h,
# lib/libchimaera_client.{so,a} and lib/pkgconfig/chimaera_client.pc.
#
#   scripts/install_c_client.sh /usr/local          # builds it (release) first
#   scripts/install_c_client.sh PREFIX --from DIR   # libraries already built in DIR
#
# Then: cc app.c $(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig pkg-config --cflags --libs chimaera_client)
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 PREFIX [--from DIR]" >&2
  exit 2
fi
# Both paths are the caller's: made absolute before moving to the repository.
prefix=$(realpath -m "$1")
from=
if [ "${2:-}" = --from ]; then
  from=$(realpath -m "${3:?--from needs the directory holding libchimaera_client.so}")
fi
cd "$(dirname "$(realpath "$0")")/.."
if [ -z "$from" ]; then
  cargo build --release -p chimaera-client-c
  from=${CARGO_TARGET_DIR:-target}/release
fi
for lib in libchimaera_client.so libchimaera_client.a; do
  if [ ! -f "$from/$lib" ]; then
    echo "$0: $from/$lib is missing; build it with cargo build -p chimaera-client-c" >&2
    exit 1
  fi
done
mkdir -p "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 client-c/include/chimaera.h "$prefix/include/"
install -m 755 "$from/libchimaera_client.so" "$prefix/lib/"
install -m 644 "$from/libchimaera_client.a" "$prefix/lib/"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
cat > "$prefix/lib/pkgconfig/chimaera_client.pc" <<PC
prefix=$prefix
Name: chimaera_client
Description: The C API of the Chimaera runtime's client
Version: $version
Cflags: -I\${prefix}/include
Libs: -L\${prefix}/lib -lchimaera_client
Libs.private: -lpthread -ldl -lm
PC
echo "installed the C client in $prefix"
