#!/usr/bin/env bash
# Set up, then run the whole test suite (about 8 minutes on 2 cores). Extra arguments go to pytest
# (-m "not slow": the fast subset).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
.venv/bin/python -m pytest "$@"
