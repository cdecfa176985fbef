#!/usr/bin/env bash
# What `make bench` needs beyond `make install`, idempotently: pyvips (with its own libvips from
# PyPI) in .venv, and wrk from Debian when apt-get is there (else the Python load generator is used).
# thumbor gets its own virtualenv from bench/thumbor.py (it pins Pillow < 13).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! .venv/bin/python -c 'import pyvips' >/dev/null 2>&1; then
  echo "bench: installing pyvips into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[bench]'
fi
if ! command -v wrk >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "bench: installing wrk from Debian"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq wrk >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } ||
      echo "bench: wrk could not be installed; the Python load generator is used"
  else
    echo "bench: wrk is not installed; the Python load generator is used"
  fi
fi
