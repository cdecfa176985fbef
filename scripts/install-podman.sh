#!/usr/bin/env bash
# Idempotent: Debian's podman and what the project needs with it (runc, buildah, debootstrap for
# the local base image). Only when no Docker engine answers; devstack/engine.py calls it.
set -euo pipefail
need=()
for cmd in podman runc buildah debootstrap; do
  command -v "$cmd" >/dev/null 2>&1 || need+=("$cmd")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-podman: missing ${need[*]}; install them (apt-get install podman runc buildah debootstrap) or start Docker" >&2
  exit 1
fi
echo "install-podman: installing ${need[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq podman runc buildah debootstrap uidmap >/dev/null 2>&1 || {
  apt-get update -qq && apt-get install -y -qq podman runc buildah debootstrap uidmap >/dev/null
}
