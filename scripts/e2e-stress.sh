#!/usr/bin/env bash
# Runs the browser tests (./e2e) three times in a row while stress-ng keeps two cores
# busy, as on a CI runner or a laptop doing other work: a wait that holds only on an
# idle machine fails here. Installs stress-ng from the distribution's packages if
# missing, prints each run's duration, stops stress-ng on exit, and fails if any run
# fails. Uses the same database and test dependencies as `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
GO=${GO:-go}

if ! command -v stress-ng >/dev/null; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "e2e-stress: need root or sudo to install stress-ng" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "e2e-stress: installing stress-ng from the distribution's packages"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends stress-ng >/dev/null
fi

scripts/dev-postgres.sh test
scripts/test-deps.sh
export HUDDLE_TEST_DATABASE_URL="${HUDDLE_TEST_DATABASE_URL:-$(cat .huddle/test-database-url)}"
"$GO" test -count=1 -run '^$' ./e2e >/dev/null # build once, outside the timed runs

stress-ng --cpu 2 --quiet &
stress=$!
trap 'kill "$stress" 2>/dev/null; wait "$stress" 2>/dev/null || true' EXIT

failed=0
for run in $(seq 1 "$RUNS"); do
  start=$(date +%s)
  if "$GO" test -count=1 -timeout 15m ./e2e; then result=passed; else result=FAILED; failed=1; fi
  echo "e2e-stress: run $run of $RUNS under stress-ng --cpu 2: $result in $(( $(date +%s) - start )) s"
done
exit "$failed"
