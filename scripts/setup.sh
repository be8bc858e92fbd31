#!/usr/bin/env bash
# Installs the project from the lock file into .venv (idempotent: skips work already done).
# Usage: scripts/setup.sh [--test]   (--test also installs the system packages the tests drive)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.lock-installed
if [ ! -f "$stamp" ] || ! cmp -s requirements.lock "$stamp"; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . 2>/dev/null \
    || .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  cp requirements.lock "$stamp"
fi
if [ "${1:-}" = "--test" ]; then
  missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v pdfsig >/dev/null || missing+=(poppler-utils)
  # The Novo SGA connector's tests run against a real MariaDB started by the test session.
  { command -v mariadbd || [ -x /usr/sbin/mariadbd ]; } >/dev/null || missing+=(mariadb-server)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Instalando paquetes del sistema: ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ -f tests/oidc_provider/package-lock.json ] && [ ! -d tests/oidc_provider/node_modules ]; then
    (cd tests/oidc_provider && npm ci --silent --no-audit --no-fund)
  fi
fi
