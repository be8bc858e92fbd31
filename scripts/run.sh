#!/usr/bin/env bash
# The run command: installs from the lock file, then database + migrations + demo data + web + worker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m app.cli run "$@"
