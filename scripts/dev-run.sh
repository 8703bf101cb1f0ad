#!/usr/bin/env bash
# make run: brings Huddle up for development. Without HUDDLE_DATABASE_URL it provisions
# a local PostgreSQL (scripts/dev-postgres.sh); with it, it uses that database and
# touches nothing else. A development secret key is generated once and kept in the
# git-ignored .huddle/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${HUDDLE_DEV_DIR:-.huddle}"
mkdir -p "$dir"

if [ -z "${HUDDLE_DATABASE_URL:-}" ]; then
  scripts/dev-postgres.sh
  HUDDLE_DATABASE_URL=$(cat "$dir/database-url")
  export HUDDLE_DATABASE_URL
fi

if [ ! -s "$dir/secret-key" ]; then
  (umask 077; head -c 32 /dev/urandom | base64 > "$dir/secret-key")
fi
export HUDDLE_SECRET_KEY="${HUDDLE_SECRET_KEY:-$(cat "$dir/secret-key")}"
export HUDDLE_ENV="${HUDDLE_ENV:-development}"
export HUDDLE_ADDR="${HUDDLE_ADDR:-:8080}"
port="${HUDDLE_ADDR##*:}"
# localhost is a secure context for browsers, so Secure and Partitioned cookies work over http.
export HUDDLE_BASE_URL="${HUDDLE_BASE_URL:-http://localhost:$port}"
export HUDDLE_LOG_FORMAT="${HUDDLE_LOG_FORMAT:-text}"

go build -o "$dir/huddle" ./cmd/huddle
"$dir/huddle" migrate
dev_platform="${HUDDLE_DEV_PLATFORM_ADDR:-127.0.0.1:8081}"
echo
echo "Huddle is starting on $HUDDLE_BASE_URL/"
echo "Open the development platform to launch it as an educator or a learner: http://$dev_platform/"
echo
exec "$dir/huddle" serve
