#!/usr/bin/env bash
# The test command (what CI runs): installs from the lock file and the system packages the tests drive,
# then runs the whole suite against a real PostgreSQL (embedded when DATABASE_URL is unset).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test || { echo "La instalación falló." >&2; exit 2; }
.venv/bin/python -m pytest "$@"
code=$?
if [ "$code" -eq 5 ]; then
  # pytest's 5 means "no tests were collected": a selection that matched nothing is an error, not a pass.
  echo "No se recolectó ninguna prueba: revise la selección." >&2
  exit 5
fi
exit "$code"
