#!/usr/bin/env bash
# Make a local base image for `make image BASE=...` on machines that cannot pull one:
# Debian bookworm from the Debian mirror by debootstrap (python3 3.11, venv, pip), imported
# into podman. Usage: deploy/build-local-base.sh [image name] (default localhost/gateway-base:bookworm).
# Needs root, debootstrap and podman. The host's extra CA certificates
# (/usr/local/share/ca-certificates/*.crt, e.g. of a TLS-inspecting egress proxy) are added to
# the base's trust store, so that apt and pip inside `podman build` trust what the host trusts.
set -euo pipefail

IMAGE="${1:-localhost/gateway-base:bookworm}"
SUITE="${SUITE:-bookworm}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"
ROOTFS="$(mktemp -d /tmp/gateway-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

debootstrap --variant=minbase \
  --include=python3,python3-venv,python3-pip,ca-certificates \
  "$SUITE" "$ROOTFS" "$MIRROR"

cat >"$ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
SOURCES

shopt -s nullglob
extra=(/usr/local/share/ca-certificates/*.crt)
if [ ${#extra[@]} -gt 0 ]; then
  cp "${extra[@]}" "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" update-ca-certificates >/dev/null
  echo "added the host's CA certificates: ${extra[*]##*/}"
fi

# What a pulled image would not carry: apt's lists and caches, logs.
chroot "$ROOTFS" apt-get clean
rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin "$ROOTFS"/var/log/*.log

tar -C "$ROOTFS" --numeric-owner -c . | podman import \
  --change 'ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV=LANG=C.UTF-8' \
  --change 'CMD=["/bin/bash"]' \
  - "$IMAGE"
echo "base image $IMAGE: $(chroot "$ROOTFS" python3 --version)"
