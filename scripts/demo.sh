#!/usr/bin/env bash
# Set up, then run the main job: train the U-Net (a short run; --full for the course's 200 epochs),
# evaluate it on the held-out slices and write metrics.json and figures to runs/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m lesson.demo "$@"
