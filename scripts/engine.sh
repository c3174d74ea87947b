#!/usr/bin/env bash
# Make sure a Docker Engine is available for Layer Lens tests.
#
#   scripts/engine.sh start    use $DOCKER_HOST if it answers; else start a private dockerd
#                              (installing Debian's docker.io first if dockerd is missing, as root).
#                              Prints `export DOCKER_HOST=...` on stdout:  eval "$(scripts/engine.sh start)"
#   scripts/engine.sh env      print `export DOCKER_HOST=...` for the engine that answers now (no start)
#   scripts/engine.sh status   exit 0 if an engine answers (says which), 1 if none
#   scripts/engine.sh stop     stop the private dockerd (never touches an engine given by DOCKER_HOST)
#
# The private daemon keeps everything under a state dir: $LAYERLENS_ENGINE_DIR, default
# $PWD/.cache/engine (socket docker.sock, data-root root/, exec-root exec/, pidfile docker.pid,
# log dockerd.log). It runs with --iptables=false --bridge=none (no container networking).
# Starting twice gives one daemon. Exits non-zero with a clear message when no engine can be had.
# Client: Debian's /usr/bin/docker (override with LAYERLENS_DOCKER).
set -euo pipefail

die() { printf 'engine.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'engine.sh: %s\n' "$*" >&2; }

DOCKER_CLI=${LAYERLENS_DOCKER:-/usr/bin/docker}
STATE=${LAYERLENS_ENGINE_DIR:-$PWD/.cache/engine}
TIMEOUT=${LAYERLENS_ENGINE_TIMEOUT:-90}
case "$STATE" in /*) ;; *) STATE=$PWD/$STATE ;; esac
SOCK=$STATE/docker.sock
PIDFILE=$STATE/docker.pid
LOG=$STATE/dockerd.log
DATA_ROOT=$STATE/root
EXEC_ROOT=$STATE/exec
# Unix socket paths are limited to 108 bytes; containerd nests sockets under the exec-root.
if (( ${#EXEC_ROOT} + 33 > 100 )); then
  EXEC_ROOT=/tmp/layerlens-engine-$(printf '%s' "$STATE" | sha1sum | cut -c1-12)
fi
if (( ${#SOCK} > 100 )); then
  SOCK=$EXEC_ROOT/docker.sock
fi
PRIVATE_HOST=unix://$SOCK

# answers HOST: true if the docker client gets a server version from HOST ("" = the env as is).
answers() {
  local host=$1
  [[ -x $DOCKER_CLI ]] || return 1
  if [[ -n $host ]]; then
    DOCKER_HOST=$host DOCKER_CONTEXT= timeout 15 "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1
  else
    timeout 15 "$DOCKER_CLI" version --format '{{.Server.Version}}' >/dev/null 2>&1
  fi
}

print_export() {
  printf 'export DOCKER_HOST=%q\n' "$1"
}

private_pid() {
  local pid
  [[ -f $PIDFILE ]] || return 1
  pid=$(tr -dc '0-9' <"$PIDFILE")
  [[ -n $pid ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  printf '%s\n' "$pid"
}

external_ok() {
  [[ -n ${DOCKER_HOST:-} && ${DOCKER_HOST} != "$PRIVATE_HOST" ]] && answers ""
}

ensure_dockerd() {
  if command -v dockerd >/dev/null 2>&1 && [[ -x $DOCKER_CLI ]]; then
    return 0
  fi
  [[ $(id -u) -eq 0 ]] || die "dockerd or $DOCKER_CLI is missing and this is not root: install Debian's docker.io (apt-get install docker.io) or set DOCKER_HOST to a running engine"
  command -v apt-get >/dev/null 2>&1 || die "dockerd is missing and apt-get is not available: install a Docker Engine or set DOCKER_HOST"
  say "installing Debian's docker.io (dockerd missing)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io >&2 \
    || die "apt-get install docker.io failed"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is still not on PATH"
  [[ -x $DOCKER_CLI ]] || die "docker.io installed but $DOCKER_CLI is missing"
}

wait_answer() {
  local pid=$1 deadline=$((SECONDS + TIMEOUT))
  while ((SECONDS < deadline)); do
    if answers "$PRIVATE_HOST"; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      say "dockerd exited; last lines of $LOG:"
      tail -n 25 "$LOG" >&2 || true
      die "the private dockerd did not start"
    fi
    sleep 0.5
  done
  say "last lines of $LOG:"
  tail -n 25 "$LOG" >&2 || true
  die "the private dockerd did not answer on $PRIVATE_HOST within ${TIMEOUT}s"
}

cmd_start() {
  if external_ok; then
    say "using the engine at DOCKER_HOST=$DOCKER_HOST"
    print_export "$DOCKER_HOST"
    return 0
  fi
  if [[ -n ${DOCKER_HOST:-} && ${DOCKER_HOST} != "$PRIVATE_HOST" ]]; then
    say "DOCKER_HOST=$DOCKER_HOST does not answer; starting a private engine instead"
  fi
  local pid
  if pid=$(private_pid); then
    wait_answer "$pid"
    say "private engine already running (pid $pid) on $PRIVATE_HOST"
    print_export "$PRIVATE_HOST"
    return 0
  fi
  ensure_dockerd
  [[ $(id -u) -eq 0 ]] || die "no engine answers and starting a private dockerd needs root (or set DOCKER_HOST to a running engine)"
  mkdir -p "$STATE" "$DATA_ROOT" "$EXEC_ROOT"
  rm -f "$PIDFILE" "$SOCK"
  printf '{}\n' >"$STATE/daemon.json"
  say "starting dockerd (state $STATE, log $LOG)"
  # setsid: the daemon must not die with the caller's process group (e.g. on Ctrl-C of a test).
  setsid dockerd \
    --host "$PRIVATE_HOST" \
    --data-root "$DATA_ROOT" \
    --exec-root "$EXEC_ROOT" \
    --pidfile "$PIDFILE" \
    --config-file "$STATE/daemon.json" \
    --iptables=false --ip-masq=false --bridge=none \
    </dev/null >>"$LOG" 2>&1 &
  local launcher=$! deadline=$((SECONDS + 20))
  # dockerd writes its pidfile early; until then watch the launcher.
  until pid=$(private_pid); do
    if ! kill -0 "$launcher" 2>/dev/null && ! private_pid >/dev/null; then
      say "dockerd exited at once; last lines of $LOG:"
      tail -n 25 "$LOG" >&2 || true
      die "the private dockerd did not start"
    fi
    ((SECONDS < deadline)) || die "dockerd wrote no pidfile at $PIDFILE within 20s (see $LOG)"
    sleep 0.2
  done
  wait_answer "$pid"
  say "private engine up (pid $pid) on $PRIVATE_HOST"
  print_export "$PRIVATE_HOST"
}

cmd_env() {
  if external_ok; then print_export "$DOCKER_HOST"; return 0; fi
  if private_pid >/dev/null && answers "$PRIVATE_HOST"; then print_export "$PRIVATE_HOST"; return 0; fi
  die "no engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}; private engine at $PRIVATE_HOST not running): run scripts/engine.sh start"
}

cmd_status() {
  if external_ok; then say "engine at DOCKER_HOST=$DOCKER_HOST answers"; return 0; fi
  local pid
  if pid=$(private_pid) && answers "$PRIVATE_HOST"; then say "private engine (pid $pid) answers on $PRIVATE_HOST"; return 0; fi
  say "no engine answers"
  return 1
}

kill_wait() {
  local pid=$1 secs=$2 deadline
  kill -TERM "$pid" 2>/dev/null || return 0
  deadline=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "pid $pid still alive after ${secs}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
}

cmd_stop() {
  local pid cpid mp
  if pid=$(private_pid); then
    say "stopping private dockerd (pid $pid)"
    kill_wait "$pid" 30
  else
    say "no private dockerd running (state $STATE)"
  fi
  # The managed containerd normally exits with dockerd.
  if [[ -f $EXEC_ROOT/containerd/containerd.pid ]]; then
    cpid=$(tr -dc '0-9' <"$EXEC_ROOT/containerd/containerd.pid")
    if [[ -n $cpid ]] && kill -0 "$cpid" 2>/dev/null; then
      say "stopping leftover containerd (pid $cpid)"
      kill_wait "$cpid" 10
    fi
  fi
  # Leftover overlay/netns mounts under our own dirs only (deepest first).
  if [[ -r /proc/self/mountinfo ]]; then
    while IFS= read -r mp; do
      umount -l -- "$mp" 2>/dev/null || true
    done < <(awk -v a="$STATE" -v b="$EXEC_ROOT" '{p=$5; if (p==a || index(p, a"/")==1 || p==b || index(p, b"/")==1) print p}' /proc/self/mountinfo | awk '{print length, $0}' | sort -rn | cut -d' ' -f2-)
  fi
  rm -f "$PIDFILE" "$SOCK"
}

case ${1:-} in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) printf 'usage: %s start|stop|env|status\n' "$0" >&2; exit 64 ;;
esac
