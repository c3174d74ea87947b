#!/usr/bin/env bash
# Installs code-server (VS Code's server + web workbench, from npm) into a cache folder, for the
# end-to-end tests. Idempotent: does nothing when a working install is already there.
#
#   scripts/install-code-server.sh            # into $PWD/.cache/code-server
#   LAYERLENS_CODE_SERVER_DIR=/some/dir scripts/install-code-server.sh
#
# Why it is done by hand: without access to GitHub, a plain `npm install code-server` fails
# three ways (native prebuild downloads,
# @vscode/ripgrep's GitHub download, node-pty's `npx node-gyp` prompt). The order below avoids all
# three. Needs: node 20, npm, build-essential pkg-config python3 libkrb5-dev libx11-dev
# libxkbfile-dev libsecret-1-dev, and ripgrep (/usr/bin/rg).
#
# Prints the code-server entry point (…/out/node/entry.js) as its last line of stdout.
set -euo pipefail

VERSION="4.100.3"
DIR="${LAYERLENS_CODE_SERVER_DIR:-$PWD/.cache/code-server}"
CS="$DIR/node_modules/code-server"
ENTRY="$CS/out/node/entry.js"
MARKER="$DIR/.layerlens-installed-$VERSION"

log() { printf '[install-code-server] %s\n' "$*" >&2; }
die() { printf '[install-code-server] ERROR: %s\n' "$*" >&2; exit 1; }

# `code-server --version` writes a default config under $HOME and logs to stdout, so run it with a
# throwaway HOME inside the cache and keep only the version line ("4.100.3 <sha> with Code 1.100.3").
cs_version() {
  local probe="$DIR/.probe-home"
  mkdir -p "$probe"
  HOME="$probe" XDG_CONFIG_HOME="$probe/config" XDG_DATA_HOME="$probe/data" XDG_CACHE_HOME="$probe/cache" \
    node "$ENTRY" --version 2>/dev/null | grep -E '^[0-9]+\.[0-9]+\.[0-9]+ ' | head -n1
}

works() {
  [[ -f "$MARKER" && -f "$ENTRY" ]] || return 1
  local out
  out="$(cs_version)" || return 1
  [[ "$out" == "$VERSION "* ]]
}

if works; then
  log "code-server $VERSION already installed in $DIR"
  printf '%s\n' "$ENTRY"
  exit 0
fi

# Preconditions, checked up front so failures are explicit rather than deep inside npm.
command -v node >/dev/null || die "node not found"
command -v npm >/dev/null || die "npm not found"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[[ "$node_major" == "20" ]] || log "warning: code-server $VERSION declares engines.node 20; this is node $(node -v)"
RG="$(command -v rg || true)"
[[ -n "$RG" ]] || die "ripgrep (rg) not found; install Debian's 'ripgrep' (the npm package would download it from GitHub)"
for tool in make g++ python3 pkg-config; do
  command -v "$tool" >/dev/null || die "$tool not found; install build-essential pkg-config python3"
done
for pc in krb5-gssapi x11 xkbfile libsecret-1; do
  pkg-config --exists "$pc" || die "pkg-config cannot find $pc; install libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev"
done

start=$(date +%s)
log "installing code-server $VERSION into $DIR (cold: ~2-3 min on 2 cores)"
rm -f "$MARKER"
mkdir -p "$DIR"
cd "$DIR"

# 1. Own package.json so npm does not walk up into the enclosing project.
if [[ ! -f package.json ]]; then
  printf '{\n  "name": "layerlens-code-server-cache",\n  "private": true\n}\n' > package.json
fi

# node-pty's postinstall runs `npx node-gyp`, which waits for a "y" without a TTY.
export npm_config_yes=true
export npm_config_fund=false
export npm_config_audit=false
export npm_config_update_notifier=false

# 2. code-server itself, without running any install scripts.
log "npm install code-server@$VERSION --ignore-scripts"
npm install --no-save --ignore-scripts "code-server@$VERSION" >&2

# 3. The top-level native module (argon2): prebuild download fails, then builds from source.
log "npm rebuild argon2"
npm rebuild argon2 >&2

# 4. VS Code's own dependencies.
cd "$CS/lib/vscode"
log "lib/vscode: npm install --omit=dev --ignore-scripts"
npm install --omit=dev --ignore-scripts >&2

# 5. Seed ripgrep so @vscode/ripgrep's postinstall skips its GitHub download (it checks bin/).
mkdir -p node_modules/@vscode/ripgrep/bin
cp -f "$RG" node_modules/@vscode/ripgrep/bin/rg
chmod 755 node_modules/@vscode/ripgrep/bin/rg

# 6. Now run the install scripts of VS Code's dependencies (native builds: node-pty, kerberos, ...).
log "lib/vscode: npm rebuild"
npm rebuild >&2

# 7. What code-server's postinstall.sh does, by hand.
ln -sfn node_modules node_modules.asar
ln -sfn code-linux.sh bin/remote-cli/code-server
ln -sfn browser-linux.sh bin/helpers/browser.sh
cd extensions
log "lib/vscode/extensions: npm install --omit=dev"
npm install --omit=dev >&2
cd "$DIR"

# 8. Check it runs.
version="$(cs_version)" || die "code-server does not run after install"
[[ "$version" == "$VERSION "* ]] || die "unexpected code-server version: '$version'"
[[ -x "$CS/lib/vscode/node_modules/@vscode/ripgrep/bin/rg" ]] || die "ripgrep missing in lib/vscode"
touch "$MARKER"
log "installed code-server $version in $(( $(date +%s) - start ))s ($(du -sh "$DIR" | cut -f1))"
printf '%s\n' "$ENTRY"
