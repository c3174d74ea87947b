#!/usr/bin/env bash
# The README's first command: set up everything and show Layer Lens on the bundled example.
#   bash scripts/try.sh            # opens example/ in VS Code (desktop `code` if on PATH, else
#                                  # code-server on 127.0.0.1, URL printed; Ctrl-C stops it)
#   LAYERLENS_TRY_PORT=8123 bash scripts/try.sh
# With a Docker Engine answering (DOCKER_HOST, a docker context or the default socket) it builds
# the example image there; without one the extension reads example/image.tar.gz instead.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '\033[1m[layer lens]\033[0m %s\n' "$*" >&2; }

# 1. System packages (Debian), only what is missing.
missing=()
command -v busybox >/dev/null || [ -x /bin/busybox ] || missing+=(busybox-static)
[ -x /usr/bin/docker ] || missing+=(docker.io)
if ! command -v code >/dev/null; then
  command -v rg >/dev/null || missing+=(ripgrep)
  dpkg -s build-essential libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config >/dev/null 2>&1 \
    || missing+=(build-essential pkg-config python3 libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev)
fi
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. Node dependencies and the build.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
say "building"
node scripts/build.mjs --no-tsc

# 3. The example image: built in the engine when one answers, else the shipped archive is used.
if /usr/bin/docker version >/dev/null 2>&1; then
  say "a Docker Engine answers: building layerlens-example:latest"
  bash scripts/example-image.sh
else
  say "no Docker Engine answers: the example uses example/image.tar.gz"
fi
say "the CLI on the same image:"
if /usr/bin/docker image inspect layerlens-example:latest >/dev/null 2>&1; then
  node dist/cli.js analyze layerlens-example:latest || true
else
  node dist/cli.js analyze example/image.tar.gz || true
fi

# 4. VS Code with the extension under development.
if command -v code >/dev/null; then
  say "opening example/ in VS Code"
  exec code --extensionDevelopmentPath="$ROOT" "$ROOT/example"
fi
CS_ENTRY=$(bash scripts/install-code-server.sh | tail -n1)
STATE=$ROOT/.cache/try
EXT=$STATE/extensions/layerlens.layer-lens-0.1.0
rm -rf "$EXT"; mkdir -p "$EXT" "$STATE/user/User" "$STATE/home"
cp -r package.json README.md CHANGELOG.md media dist "$EXT/"
cat > "$STATE/user/User/settings.json" <<'JSON'
{ "workbench.startupEditor": "none", "extensions.ignoreRecommendations": true,
  "extensions.autoUpdate": false, "telemetry.telemetryLevel": "off", "git.enabled": false }
JSON
PORT=${LAYERLENS_TRY_PORT:-8123}
say "starting code-server: open http://127.0.0.1:$PORT/?folder=$ROOT/example  (Ctrl-C to stop)"
exec env HOME="$STATE/home" XDG_CONFIG_HOME="$STATE/home/.config" XDG_DATA_HOME="$STATE/home/.local/share" \
  node "$CS_ENTRY" --auth none --bind-addr "127.0.0.1:$PORT" --user-data-dir "$STATE/user" \
  --extensions-dir "$STATE/extensions" --disable-telemetry --disable-update-check --disable-workspace-trust \
  "$ROOT/example"
