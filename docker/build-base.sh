#!/usr/bin/env bash
# Makes the base image the Dockerfile starts from (default
# debian:bookworm-slim) on a machine with no image registry: debootstrap
# of Debian into a folder, then `docker import` under that tag. Does
# nothing when the image already exists. Needs root (debootstrap) and
# Debian's package mirror.
set -euo pipefail

TAG="${1:-debian:bookworm-slim}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "build-base: $TAG already exists"
  exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get install -y debootstrap >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null && $SUDO apt-get install -y debootstrap >/dev/null; }
fi
ROOTFS="$(mktemp -d /tmp/chimaera-rootfs.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT
echo "build-base: debootstrap $SUITE into $ROOTFS (a few minutes)"
debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$MIRROR" >/dev/null
# What a slim image leaves out: package lists and docs.
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/*
tar -C "$ROOTFS" -c . | docker import - "$TAG" >/dev/null
echo "build-base: imported $TAG"
