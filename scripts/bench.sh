#!/usr/bin/env bash
# npm run bench: every benchmark under bench/ (compiled to out/bench/bench-*.js), each printing its
# figures as ratios against a baseline measured in the same script. Needs a Docker Engine for the
# engine benchmarks (scripts/engine.sh starts a private one when DOCKER_HOST does not answer).
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs
if ! bash scripts/engine.sh status >/dev/null 2>&1; then eval "$(bash scripts/engine.sh start)"; trap 'bash scripts/engine.sh stop' EXIT; else eval "$(bash scripts/engine.sh env)"; fi
for b in out/bench/bench-*.js; do
  echo "==== $b"
  node "$b"
done
