#!/usr/bin/env bash
# Create the project's virtual environment in .venv (once), install requirements.txt and requirements-dev.txt
# (the test suite, ruff) into it, and the kit itself, editable, with its command: .venv/bin/unet-course (after
# `source .venv/bin/activate`, plain `unet-course`).
# On a fresh machine this pulls the standard torch and torchvision builds (about 70 s; they run on CPU).
# The grader's sandbox needs bubblewrap, and with --with-browser (the test suite) the report's browser test
# needs headless Chromium: installed here with apt-get when we are root on Debian/Ubuntu.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=""
command -v bwrap >/dev/null 2>&1 || missing="$missing bubblewrap"
if [ "${1:-}" = "--with-browser" ] && ! command -v chromium >/dev/null 2>&1; then missing="$missing chromium"; fi
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing) >/dev/null
  else
    echo "WARNING: not installed:$missing (the grader's sandbox needs bubblewrap; the report's browser test, Chromium)." >&2
  fi
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
# Editable: the command runs this clone's code, notebooks and templates. No build isolation: setuptools comes
# with requirements-dev.txt, so that this step needs no network.
.venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
