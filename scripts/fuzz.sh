#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for a bounded time each (FUZZTIME, 30s by
# default), one after another: Go fuzzes one target per `go test` run. `make test`
# already runs each target's seed corpus (f.Add and testdata/fuzz) as ordinary tests;
# this searches beyond them. A failing input is written to the package's testdata/fuzz
# folder, where `make test` then replays it for good.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
GO=${GO:-go}

scripts/dev-postgres.sh test
export HUDDLE_TEST_DATABASE_URL="${HUDDLE_TEST_DATABASE_URL:-$(cat .huddle/test-database-url)}"

failed=0
while read -r file target; do
  pkg="./$(dirname "$file")"
  echo "fuzz: $pkg $target for $FUZZTIME"
  if ! "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" "$pkg"; then
    failed=1
  fi
done < <(grep -rEo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+' . | grep -v '^./node_modules/' |
  sed -E 's#^\./##; s#:func # #' | sort)
exit "$failed"
