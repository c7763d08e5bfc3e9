#!/usr/bin/env bash
# Builds the runtime image without a registry or network inside `docker
# build`: makes the base image if missing (build-base.sh), builds the Rust
# binaries on the host, stages them in docker/dist, and builds the image.
#   docker/build-image.sh [TAG] [--profile debug|release]
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="chimaera-rs:latest"
PROFILE="release"
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) PROFILE="$2"; shift 2 ;;
    *) TAG="$1"; shift ;;
  esac
done
BASE="${BASE:-debian:bookworm-slim}"

docker/build-base.sh "$BASE"
if [ "$PROFILE" = release ]; then
  cargo build --workspace --release
else
  cargo build --workspace
fi
OUT="target/$PROFILE"
DIST=docker/dist
rm -rf "$DIST"
mkdir -p "$DIST/bin" "$DIST/lib"
for tool in chimaera_start_runtime chimaera_stop_runtime chimaera_compose chimaera_status; do
  cp "$OUT/$tool" "$DIST/bin/"
done
cp "$OUT"/libchimaera_*.so "$DIST/lib/"
cp config/chimaera_default.yaml "$DIST/"
docker build --build-arg "BASE=$BASE" -t "$TAG" -f docker/Dockerfile docker >/dev/null
echo "build-image: built $TAG from $BASE ($PROFILE binaries)"
