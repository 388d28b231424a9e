#!/usr/bin/env bash
# Create the project's virtual environment in .venv (once) and install requirements.txt into it.
# On a fresh machine this pulls the standard torch and torchvision builds (about 70 s; they run on CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt
