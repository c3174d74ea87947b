#!/usr/bin/env bash
# Re-record the image histories used by the Dockerfile ↔ history mapping tests.
#
#   scripts/record-histories.sh [--dockerd PATH] [--suffix SUFFIX] [--only NAME[,NAME...]]
#
# Starts a PRIVATE dockerd (PATH, default /usr/sbin/dockerd) with its own state under a temp dir,
# imports a busybox-static rootfs as `llbase:1`, builds every fixture under
# test/fixtures/dockerfiles/ with BuildKit (DOCKER_BUILDKIT=1) and with the legacy builder
# (DOCKER_BUILDKIT=0), and writes test/fixtures/histories/<fixture>.<builder><SUFFIX>.json:
#   { fixture, dockerfile, builder, engine, buildArgs, target,
#     history: [{created_by, empty_layer, comment}]   (the image config's history, bottom first)
#     sizes:   [bytes per history entry]              (the engine API's history Size, bottom first)
#     diffIds: [...], config: {...} }                 (rootfs diff_ids, a few config fields)
# A fixture a builder cannot build (heredocs or RUN --mount with the legacy builder, heredocs with
# an old BuildKit) is reported and skipped. The daemon is stopped and its dirs removed at the end.
#
# The recorded set was made with two engines:
#   Debian bookworm docker.io 20.10.24 (BuildKit v0.8), the installed /usr/sbin/dockerd:
#       scripts/record-histories.sh --suffix -engine20
#   Debian trixie docker.io 26.1.5 (BuildKit v0.13; heredocs, COPY --chmod/--link), default names,
#   its dockerd taken from the .deb without installing anything:
#       D=/tmp/ll-apt; mkdir -p $D/lists/partial $D/cache/archives/partial
#       MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
#       echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >$D/sources.list
#       O="-o Dir::Etc::sourcelist=$D/sources.list -o Dir::Etc::sourceparts=/nonexistent -o Dir::State::Lists=$D/lists -o Dir::Cache=$D/cache"
#       apt-get $O update && (cd $D && apt-get $O download docker.io) && dpkg-deb -x $D/docker.io_*.deb $D/root
#       scripts/record-histories.sh --dockerd $D/root/usr/sbin/dockerd
# Client: Debian's /usr/bin/docker 20.10 (override with LAYERLENS_DOCKER); it speaks to both.
# Needs root (dockerd), busybox-static (/bin/busybox), curl, node.
set -euo pipefail

DOCKERD=/usr/sbin/dockerd
SUFFIX=
ONLY=
while (($#)); do
  case "$1" in
    --dockerd) DOCKERD=$2; shift 2 ;;
    --suffix) SUFFIX=$2; shift 2 ;;
    --only) ONLY=$2; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FIX=$ROOT/test/fixtures/dockerfiles
OUT=$ROOT/test/fixtures/histories
DOCKER=${LAYERLENS_DOCKER:-/usr/bin/docker}
STATE=$(mktemp -d /tmp/ll-rec.XXXXXX)
SOCK=$STATE/docker.sock
export DOCKER_HOST=unix://$SOCK
mkdir -p "$OUT"

cleanup() {
  if [[ -f $STATE/docker.pid ]]; then
    local pid; pid=$(cat "$STATE/docker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  # overlay mounts may linger under the data root
  grep -o " $STATE/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount "$m" 2>/dev/null || true; done
  rm -rf "$STATE"
}
trap cleanup EXIT

"$DOCKERD" --host "$DOCKER_HOST" --data-root "$STATE/root" --exec-root "$STATE/exec" \
  --pidfile "$STATE/docker.pid" --iptables=false --bridge=none >"$STATE/dockerd.log" 2>&1 &
for _ in $(seq 1 60); do "$DOCKER" version >/dev/null 2>&1 && break; sleep 0.5; done
ENGINE=$("$DOCKER" version --format '{{.Server.Version}}')
echo "engine $ENGINE at $DOCKER_HOST" >&2

# Base image: busybox-static and its applet links, plus a passwd/group for USER.
mkdir -p "$STATE/rootfs/bin" "$STATE/rootfs/etc" "$STATE/rootfs/tmp" "$STATE/rootfs/root"
cp /bin/busybox "$STATE/rootfs/bin/busybox"
chroot "$STATE/rootfs" /bin/busybox --install -s /bin
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$STATE/rootfs/etc/passwd"
printf 'root:x:0:\n' >"$STATE/rootfs/etc/group"
tar -C "$STATE/rootfs" -c . | "$DOCKER" import - llbase:1 >/dev/null

# name | context dir | build args (space separated K=V) | target | tag to give the result
FIXTURES=(
  "basic|basic|||"
  "args|args|VERSION=2.5.0 FLAVOR=extra||"
  "args-defaults|args|||"
  "multistage|multistage|||"
  "multistage-target-test|multistage||test|"
  "multistage-target-build|multistage||build|"
  "multistage-target-tools|multistage||tools|"
  "mounts|mounts|||"
  "shell-exec|shell-exec|||"
  "heredoc|heredoc|||"
  "escape|escape|||"
  "chain|chain|||"
  "onbuild-base|onbuild-base|||llonbuild:1"
  "onbuild-child|onbuild-child|||"
  "misc|misc|MODE=slow||"
  "copy-chmod|copy-chmod|||"
)

record() { # builder name dir args target tag
  local builder=$1 name=$2 dir=$3 args=$4 target=$5 tag=$6
  local img="llfixture/$name:$builder" bk=0 a
  [[ $builder == buildkit ]] && bk=1
  local cmd=(build --network=host -t "$img")
  [[ -n $tag ]] && cmd+=(-t "$tag")
  for a in $args; do cmd+=(--build-arg "$a"); done
  [[ -n $target ]] && cmd+=(--target "$target")
  cmd+=("$FIX/$dir")
  if ! DOCKER_BUILDKIT=$bk "$DOCKER" "${cmd[@]}" >"$STATE/build.log" 2>&1; then
    echo "SKIP $name ($builder): $(grep -iE 'error|unknown|requires|non-zero' "$STATE/build.log" | tail -1)" >&2
    return 0
  fi
  "$DOCKER" save "$img" -o "$STATE/img.tar"
  rm -rf "$STATE/img" && mkdir "$STATE/img" && tar -C "$STATE/img" -xf "$STATE/img.tar"
  curl -sf --unix-socket "$SOCK" "http://localhost/images/$(printf '%s' "$img" | sed 's#/#%2F#g')/history" >"$STATE/api-history.json"
  local out="$OUT/$name.$builder$SUFFIX.json"
  FIXTURE=$name DIR=$dir BUILDER=$builder ENGINE=$ENGINE ARGS=$args TARGET=$target IMG_DIR="$STATE/img" \
  API="$STATE/api-history.json" node - >"$out" <<'JS'
const fs = require('fs');
const path = require('path');
const e = process.env;
const manifest = JSON.parse(fs.readFileSync(path.join(e.IMG_DIR, 'manifest.json'), 'utf8'));
const config = JSON.parse(fs.readFileSync(path.join(e.IMG_DIR, manifest[0].Config), 'utf8'));
const api = JSON.parse(fs.readFileSync(e.API, 'utf8')).reverse(); // the API lists newest first
const history = (config.history || []).map((h) => ({
  created_by: h.created_by ?? '',
  empty_layer: h.empty_layer === true,
  ...(h.comment !== undefined ? { comment: h.comment } : {}),
}));
if (api.length !== history.length) throw new Error(`history lengths differ: ${api.length} vs ${history.length}`);
const c = config.config || {};
const pick = {};
for (const k of ['Env', 'Cmd', 'Entrypoint', 'WorkingDir', 'User', 'Labels', 'ExposedPorts', 'Volumes', 'Shell', 'OnBuild', 'StopSignal', 'Healthcheck']) {
  if (c[k] !== undefined && c[k] !== null && c[k] !== '') pick[k] = c[k];
}
const buildArgs = {};
for (const kv of (e.ARGS || '').split(' ').filter(Boolean)) { const i = kv.indexOf('='); buildArgs[kv.slice(0, i)] = kv.slice(i + 1); }
const out = {
  fixture: e.FIXTURE,
  dockerfile: `test/fixtures/dockerfiles/${e.DIR}/Dockerfile`,
  builder: e.BUILDER,
  engine: e.ENGINE,
  buildArgs,
  target: e.TARGET || null,
  history,
  sizes: api.map((h) => h.Size),
  diffIds: config.rootfs.diff_ids,
  config: pick,
};
process.stdout.write(JSON.stringify(out, null, 2) + '\n');
JS
  echo "recorded $out" >&2
}

for builder in buildkit legacy; do
  for f in "${FIXTURES[@]}"; do
    IFS='|' read -r name dir args target tag <<<"$f"
    if [[ -n $ONLY && ",$ONLY," != *",$name,"* ]]; then continue; fi
    record "$builder" "$name" "$dir" "$args" "$target" "$tag"
  done
done
