#!/usr/bin/env bash
# Set up, then run the whole test suite (times: docs/benchmarks.md). Extra arguments go to pytest
# (-m "not slow": the fast subset; -m data: the tests that depend on the data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --with-browser
.venv/bin/python -m pytest "$@"
