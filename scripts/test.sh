#!/usr/bin/env bash
# The project's test command (make test): installs what is missing, type-checks, runs every
# test, and ends with the plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh
scripts/ensure-node-deps.sh
mkdir -p test-results
status=0
npx tsc -p tsconfig.json --noEmit || status=1
npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json "$@" || status=1
node scripts/test-summary.mjs test-results/vitest.json || status=1
exit $status
