#!/usr/bin/env bash
# Provisions a local PostgreSQL for development and tests on Debian or Ubuntu:
# installs the distribution's server if missing, starts the packaged cluster with
# pg_ctlcluster (no systemd here, and PostgreSQL refuses to run as root), and makes
# sure the huddle role and database exist. Safe to run again: each step checks first.
# Does nothing when the caller brought its own database: HUDDLE_DATABASE_URL for
# `make run`, HUDDLE_TEST_DATABASE_URL (a superuser URL) for `make test` (argument "test").
set -euo pipefail

if [ "${1:-}" = "test" ]; then
  [ -n "${HUDDLE_TEST_DATABASE_URL:-}" ] && exit 0
elif [ -n "${HUDDLE_DATABASE_URL:-}" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "dev-postgres: need root or sudo to install and start PostgreSQL" >&2; exit 1; }
  SUDO="sudo"
fi

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  echo "dev-postgres: installing PostgreSQL from the distribution's packages"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi

# The newest installed server version; create its default cluster if the package did not.
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$version main$"; then
  $SUDO pg_createcluster "$version" main >/dev/null
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $4}' | grep -q online; then
  $SUDO pg_ctlcluster "$version" main start
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1==v && $2=="main" {print $3}')

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}
psql_pg() { as_postgres psql -p "$port" -X -q -v ON_ERROR_STOP=1 "$@"; }

# Wait briefly for the server to accept connections after a fresh start.
for _ in $(seq 1 30); do
  as_postgres pg_isready -q -p "$port" && break
  sleep 0.5
done

# huddle runs the service and owns its database. huddle_test is for the test suite
# only: pgtestdb clones a template database per test, and marking a template takes a
# superuser. Both listen on localhost only, as the packaged cluster does by default.
if [ "$(psql_pg -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'huddle'")" != "1" ]; then
  psql_pg -c "CREATE ROLE huddle LOGIN PASSWORD 'huddle'"
fi
if [ "$(psql_pg -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'huddle_test'")" != "1" ]; then
  psql_pg -c "CREATE ROLE huddle_test LOGIN SUPERUSER PASSWORD 'huddle_test'"
fi
if [ "$(psql_pg -tAc "SELECT 1 FROM pg_database WHERE datname = 'huddle'")" != "1" ]; then
  psql_pg -c "CREATE DATABASE huddle OWNER huddle"
fi
# Later steps (make run, make test) read the address from here.
dir="${HUDDLE_DEV_DIR:-.huddle}"
mkdir -p "$dir"
echo "postgres://huddle:huddle@localhost:$port/huddle?sslmode=disable" > "$dir/database-url"
echo "postgres://huddle_test:huddle_test@localhost:$port/postgres?sslmode=disable" > "$dir/test-database-url"
