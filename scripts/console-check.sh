#!/usr/bin/env bash
# Part of `make test`: the console in a real browser (Debian's Chromium, driven by Playwright for
# Python) against `make run`'s program. Screenshots of the main pages: target/console-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python --browser --clients

echo "== tsc --checkJs on the console's modules"
tools/clients/node_modules/.bin/tsc -p functions/console/tsconfig.json

echo "== console in Chromium against the local run"
. scripts/lib/local-run.sh
start_local_run
CONSOLE_BASE="$LOCAL_BASE" CONSOLE_KEYS="$LOCAL_KEYS" CONSOLE_SCREENSHOTS=target/console-screenshots \
  .venv/bin/python functions/console/browser-tests/test_console.py
