#!/usr/bin/env bash
# Builds the example image (example/Dockerfile) in the engine that DOCKER_HOST (or the default
# socket) reaches, on a busybox-static base made with `docker import` (no registry needed).
#   scripts/example-image.sh           build layerlens-example:latest
#   scripts/example-image.sh --save    also write example/image.tar.gz (the archive shipped in the
#                                      repo for machines without an engine)
set -euo pipefail
cd "$(dirname "$0")/.."
DOCKER=${LAYERLENS_DOCKER:-/usr/bin/docker}
BASE=layerlens-example/busybox
if ! "$DOCKER" image inspect "$BASE" >/dev/null 2>&1; then
  BB=$(command -v busybox || true)
  [ -x /bin/busybox ] && BB=/bin/busybox
  [ -n "$BB" ] || { echo "example-image.sh: busybox is missing (apt-get install busybox-static)" >&2; exit 1; }
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/root/bin" "$tmp/root/etc" "$tmp/root/tmp" "$tmp/root/root" "$tmp/root/var" "$tmp/root/usr/bin" "$tmp/root/usr/sbin" "$tmp/root/sbin"
  cp "$BB" "$tmp/root/bin/busybox"
  chmod 0755 "$tmp/root/bin/busybox"; chmod 1777 "$tmp/root/tmp"; chmod 0700 "$tmp/root/root"
  "$BB" --list-full | while read -r applet; do
    case "$applet" in ""|bin/busybox|linuxrc|/*|*..*) continue ;; esac
    mkdir -p "$tmp/root/$(dirname "$applet")"
    [ -e "$tmp/root/$applet" ] || ln -s /bin/busybox "$tmp/root/$applet"
  done
  tar --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -C "$tmp/root" -cf "$tmp/rootfs.tar" .
  "$DOCKER" import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["sh"]' --message 'Layer Lens example base: busybox-static' "$tmp/rootfs.tar" "$BASE" >/dev/null
fi
# --network=none: RUN steps need no network, and daemons started with --bridge=none have no bridge.
DOCKER_BUILDKIT=1 "$DOCKER" build -q --network=none -t layerlens-example:latest example >/dev/null
echo "example-image.sh: built layerlens-example:latest" >&2
if [ "${1:-}" = "--save" ]; then
  "$DOCKER" save layerlens-example:latest | gzip -9 > example/image.tar.gz
  echo "example-image.sh: wrote example/image.tar.gz ($(stat -c %s example/image.tar.gz) bytes)" >&2
fi
