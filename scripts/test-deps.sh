#!/usr/bin/env bash
# Provisions what the end-to-end tests (./e2e) need beyond Go and PostgreSQL: Debian's
# Chromium, which chromedp drives headless. Installs it only when /usr/bin/chromium is
# missing, so it is quick to run again. The e2e tests fail (never skip) without it.
set -euo pipefail

[ -x /usr/bin/chromium ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "test-deps: need root or sudo to install Chromium" >&2; exit 1; }
  SUDO="sudo"
fi

echo "test-deps: installing Chromium from the distribution's packages"
$SUDO apt-get update -qq
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
/usr/bin/chromium --version
