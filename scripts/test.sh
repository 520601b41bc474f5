#!/usr/bin/env bash
# The project's test command (make test): installs what is missing, type-checks, runs every
# test, and ends with the plain "N passed, N failed" line.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-system-deps.sh
scripts/ensure-node-deps.sh
# The interop tests need a stock Ironic conductor (test/interop/ironic/install.sh: root and
# apt; ~1 s when already there). Without it they are skipped with the reason.
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  test/interop/ironic/install.sh || echo "interop: Ironic could not be installed; the interop tests will be skipped" >&2
fi
mkdir -p test-results
status=0
npx tsc -p tsconfig.json --noEmit || status=1
npx vitest run --reporter=default --reporter=json --outputFile=test-results/vitest.json "$@" || status=1
node scripts/test-summary.mjs test-results/vitest.json || status=1
exit $status
