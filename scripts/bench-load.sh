#!/usr/bin/env bash
# make bench, second half: plays the two launch mixes of the performance issue over HTTP
# against a Huddle this script starts itself, on a database of its own, for a short,
# bounded time each, and prints huddle-load's report (CPU per launch for Huddle and
# its database's PostgreSQL backends until the job queue drained, launches/s, p50/p99,
# commits, WAL flushes and, where pg_stat_statements is loaded, statements per launch,
# and Huddle's memory idle and under load).
#
#   start-of-term: 1,000 learners and educators (5%) across 20 courses, each person
#                  enrolled in 4; 90% of launches the person's first into that course;
#                  educators' launches queue roster reads, which the platform answers
#   returning:     the same people, each launched once before measuring (untimed), all
#                  launches returning
#
# BENCH_LOAD_DURATION (5s) bounds each mix; BENCH_LOAD_LAUNCHES, when set, runs each mix
# for exactly that many launches instead (at most 2 minutes), so two builds measured
# back to back play the same mix of first and returning launches whatever their
# speed on a shared machine. BENCH_LOAD_CONCURRENCY (32) sets the
# connections; BENCH_LOAD_RATE, when set, adds two start-of-term runs paced at that many
# launches/s (the p99 target is stated at 500): one against a Huddle just started, one
# after 1,000 launches by other people into other courses (huddle-load --prime), as a
# rush meets an instance that has been serving. The machine is shared: the load
# average is printed with the figures. BENCH_LOAD_LOG names a file to keep Huddle's log in;
# BENCH_LOAD_HUDDLE a huddle binary to measure instead of this tree's (before and after).
# BENCH_LOAD_LIVE, when set, adds a live-update run with that many event streams on one
# board (huddle-load --live; the target is stated at 5,000).
set -euo pipefail
cd "$(dirname "$0")/.."

admin_url="${HUDDLE_TEST_DATABASE_URL:-$(cat .huddle/test-database-url)}"
duration="${BENCH_LOAD_DURATION:-5s}"
concurrency="${BENCH_LOAD_CONCURRENCY:-32}"
length=(--duration "$duration")
if [ -n "${BENCH_LOAD_LAUNCHES:-}" ]; then
  length=(--duration 2m --launches "$BENCH_LOAD_LAUNCHES")
fi
work=$(mktemp -d)
db="huddle_bench_$$"
huddle_pid=""

cleanup() {
  if [ -n "$huddle_pid" ]; then
    kill "$huddle_pid" 2>/dev/null || true
    wait "$huddle_pid" 2>/dev/null || true
  fi
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  if [ -n "${BENCH_LOAD_LOG:-}" ]; then
    cp "$work/huddle.log" "$BENCH_LOAD_LOG" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/" ./cmd/huddle ./cmd/huddle-load
if [ -n "${BENCH_LOAD_HUDDLE:-}" ]; then
  cp "$BENCH_LOAD_HUDDLE" "$work/huddle" # another build of Huddle, to compare with
fi
psql -q "$admin_url" -c "CREATE DATABASE $db" >/dev/null
# The same URL with the bench database's name in place of the administrative one.
db_url=$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$admin_url" "$db")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

export HUDDLE_DATABASE_URL="$db_url"
export HUDDLE_SECRET_KEY
HUDDLE_SECRET_KEY=$(head -c 32 /dev/urandom | base64)
"$work/huddle" migrate >"$work/migrate.log" 2>&1
# Statements per launch where the cluster loads pg_stat_statements; elsewhere the
# report says they are unknown.
psql -q "$db_url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1 || true

start_huddle() {
  # Development mode lets the load generator's platform live on plain http on
  # loopback; the development platform is switched off. Every launch comes from
  # 127.0.0.1, so the per-address login limit is lifted for the measurement.
  HUDDLE_ENV=development HUDDLE_DEV_PLATFORM_ADDR=off HUDDLE_ADDR="127.0.0.1:$port" \
    HUDDLE_BASE_URL="http://localhost:$port" HUDDLE_LOG_FORMAT=text HUDDLE_LOGINS_PER_MINUTE=100000000 \
    "$work/huddle" serve >>"$work/huddle.log" 2>&1 &
  huddle_pid=$!
  for _ in $(seq 100); do
    if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
      sleep 1 # let start-up work (periodic jobs run on start) settle before the idle reading
      return
    fi
    sleep 0.1
  done
  echo "bench-load: Huddle did not become ready; its log:" >&2
  tail -n 30 "$work/huddle.log" >&2
  exit 1
}

stop_huddle() {
  kill "$huddle_pid"
  wait "$huddle_pid" 2>/dev/null || true
  huddle_pid=""
}

run_mix() {
  local name=$1
  shift
  start_huddle
  echo
  echo "== $name: $* (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$work/huddle-load" --target "http://localhost:$port" --huddle-pid "$huddle_pid" \
    --concurrency "$concurrency" "${length[@]}" --drain-timeout 3m --users 1000 --courses 20 "$@"
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: other work counts in it)"
  stop_huddle
}

echo "bench-load: $(nproc) cores; PostgreSQL $(psql -tA "$admin_url" -c 'SHOW server_version'), synchronous_commit $(psql -tA "$admin_url" -c 'SHOW synchronous_commit')"
run_mix start-of-term --courses-per-user 4 --educators 0.05 --first 0.9
run_mix returning --courses-per-user 4 --educators 0.05 --warm-up
if [ -n "${BENCH_LOAD_RATE:-}" ]; then
  run_mix "start-of-term paced, Huddle just started" --courses-per-user 4 --educators 0.05 --first 0.9 --rate "$BENCH_LOAD_RATE"
  run_mix "start-of-term paced, Huddle serving" --courses-per-user 4 --educators 0.05 --first 0.9 --rate "$BENCH_LOAD_RATE" --prime 1000
fi
if [ -n "${BENCH_LOAD_LIVE:-}" ]; then
  start_huddle
  echo
  echo "== live updates: $BENCH_LOAD_LIVE streams (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  "$work/huddle-load" --target "http://localhost:$port" --huddle-pid "$huddle_pid" --live "$BENCH_LOAD_LIVE" --posts 20
  stop_huddle
fi
