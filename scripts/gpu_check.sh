#!/usr/bin/env bash
# The GPU acceptance run in one command (see benchmarks/gpu_check.py): the course's recipe with the project's
# loop, the course's loop beside it, held-out scores, the release notebook as a student runs it, and three
# submissions graded in full mode. Writes benchmarks/results/gpu-<device>.json and .md; exit 1 if a check fails.
# --tiny runs the same steps small, on any device.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh      # a fresh checkout: create .venv first
exec .venv/bin/python -m benchmarks.gpu_check "$@"
