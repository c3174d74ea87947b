#!/usr/bin/env bash
# The one test command (`npm test`): build, make sure a Docker Engine is up (scripts/engine.sh),
# run the unit, stress and integration tiers (node --test), then the e2e tier (`npm run test:e2e`) when
# package.json defines it. Prints which tiers ran; exits non-zero if any tier failed or could
# not run. Integration tests never skip: without an engine they fail.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

TIERS=()
declare -A RESULT=()
record() { TIERS+=("$1"); RESULT[$1]=$2; }
banner() { printf '\n==== %s ====\n' "$*"; }

summary() {
  local t bad=0
  banner "test tiers"
  for t in "${TIERS[@]}"; do
    printf '  %-12s %s\n' "$t" "${RESULT[$t]}"
    case ${RESULT[$t]} in PASS*|ABSENT*) ;; *) bad=1 ;; esac
  done
  if ((bad)); then echo "RESULT: FAIL"; else echo "RESULT: PASS"; fi
  return "$bad"
}

# Test files (*.test.js) under a directory, sorted; one per line.
test_files() {
  [[ -d $1 ]] || return 0
  find "$1" -type f -name '*.test.js' | LC_ALL=C sort
}

# run_node_tier TIER DIR [NODE_FLAG...]: every test file under DIR, in one node --test run.
run_node_tier() {
  local tier=$1 dir=$2 files=()
  shift 2
  banner "$tier tests ($dir)"
  mapfile -t files < <(test_files "$dir")
  if ((${#files[@]} == 0)); then
    echo "no *.test.js files under $dir"
    record "$tier" "NOT RUN (no test files under $dir)"
    return
  fi
  if node --test --test-reporter=spec "$@" "${files[@]}"; then
    record "$tier" "PASS (${#files[@]} files)"
  else
    record "$tier" "FAIL"
  fi
}

# --- build -------------------------------------------------------------------------------------
banner "build (node scripts/build.mjs)"
if node scripts/build.mjs; then
  record build PASS
else
  record build FAIL
  record unit "NOT RUN (build failed)"
  record integration "NOT RUN (build failed)"
  summary
  exit 1
fi

# --- lint (src/core may not import vscode or the engine adapter; no shell strings) ------------
banner "lint (eslint src test bench)"
if node node_modules/eslint/bin/eslint.js src test bench; then record lint PASS; else record lint FAIL; fi

# --- engine ------------------------------------------------------------------------------------
STARTED_ENGINE=0
stop_engine() {
  if ((STARTED_ENGINE)); then
    banner "stopping the test engine"
    bash scripts/engine.sh stop || true
  fi
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

banner "engine"
ENGINE_OK=0
if bash scripts/engine.sh status; then
  if exports=$(bash scripts/engine.sh env); then
    eval "$exports"
    ENGINE_OK=1
  fi
else
  if exports=$(bash scripts/engine.sh start); then
    STARTED_ENGINE=1
    eval "$exports"
    ENGINE_OK=1
  else
    # Stop whatever half-started daemon might be left behind.
    STARTED_ENGINE=1
  fi
fi
if ((ENGINE_OK)); then
  record engine "PASS (DOCKER_HOST=$DOCKER_HOST)"
  export DOCKER_HOST
else
  record engine "FAIL (no Docker Engine: see scripts/engine.sh messages above)"
fi

# --- unit --------------------------------------------------------------------------------------
# Unit files run three at a time: most of their time is spent waiting on child processes and timers.
run_node_tier unit out/test/unit --test-concurrency=3

# --- stress (hostile scale, fuzz smoke: the slow pure-core cases, a tier of their own) ----------
run_node_tier stress out/test/stress

# --- integration (real engine) -----------------------------------------------------------------
# Run even without an engine: the tests fail loudly rather than skip.
run_node_tier integration out/test/integration

# --- e2e ---------------------------------------------------------------------------------------
if node -e 'process.exit(require("./package.json").scripts?.["test:e2e"] ? 0 : 1)'; then
  banner "e2e tests (npm run test:e2e)"
  if npm run --silent test:e2e; then record e2e PASS; else record e2e FAIL; fi
else
  record e2e "ABSENT (package.json has no test:e2e script)"
fi

summary
