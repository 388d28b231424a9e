#!/usr/bin/env bash
# Set up, then run the whole test suite (about 8.5 minutes on 2 cores). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pytest "$@"
