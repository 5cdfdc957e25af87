#!/usr/bin/env bash
# Installs the pinned client libraries of this directory (tests/api/clients.rs runs them):
# Node packages from package-lock.json, Python packages into tests/clients/.venv, and,
# when missing and run as root on Debian, the chromium package. Idempotent.
set -euo pipefail
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ ! -x .venv/bin/python ] || [ requirements.txt -nt .venv ]; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r requirements.txt
  touch .venv
fi
if ! command -v chromium >/dev/null 2>&1 && [ -z "${CHROMIUM:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
  else
    echo "chromium is missing: install it (Debian: apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi
