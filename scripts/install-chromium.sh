#!/usr/bin/env bash
# Debian's Chromium and its driver for the browser tests (tests/browser), idempotently: nothing
# happens when /usr/bin/chromium is there. Playwright drives this browser (its own browser
# download is not used). Without root or apt-get it only says so: the browser tests then skip
# with the reason.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "bootstrap: /usr/bin/chromium is missing and apt-get is not usable here (root needed);"
  echo "bootstrap: the browser tests will skip (apt-get install chromium chromium-driver)"
  exit 0
fi
echo "bootstrap: installing Debian's chromium and chromium-driver (browser tests)"
export DEBIAN_FRONTEND=noninteractive
# Another apt-get may hold the lock (parallel set-ups): wait for it rather than fail.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! { apt_get update -qq && apt_get install -y -qq chromium chromium-driver; } >/tmp/install-chromium.log 2>&1; then
  cat /tmp/install-chromium.log
  echo "bootstrap: installing chromium failed (log above); the browser tests will skip"
fi
