#!/usr/bin/env bash
# Provisions what the tests need beyond Go and PostgreSQL: Debian's Chromium, which
# chromedp drives headless in the end-to-end tests (./e2e), axe-core (from
# package-lock.json) for their accessibility checks, and Debian's PgBouncer, which
# cmd/huddle's tests start in transaction mode in front of the test database. Each is
# installed only when missing, so it is quick to run again. The tests fail (never
# skip) without them.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test-deps: need root or sudo to install Chromium and PgBouncer" >&2; exit 1; }
  SUDO="sudo"
fi

packages=()
[ -x /usr/bin/chromium ] || packages+=(chromium)
command -v npm >/dev/null || packages+=(nodejs npm)
[ -x /usr/sbin/pgbouncer ] || packages+=(pgbouncer)
if [ ${#packages[@]} -gt 0 ]; then
  echo "test-deps: installing ${packages[*]} from the distribution's packages"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi

if [ ! -f node_modules/axe-core/axe.min.js ]; then
  echo "test-deps: installing axe-core from package-lock.json"
  npm ci --no-audit --no-fund --silent
fi
