#!/usr/bin/env bash
# Part of `make test`: the console in a real browser (Debian's Chromium, driven by Playwright for
# Python) against `make run`'s program. Screenshots of the main pages: target/console-screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python --browser

echo "== console in Chromium against the local run"
cargo build --quiet --locked -p gamify-local
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); dynamo_port=$(free_port)
out=$(mktemp)
PORT=$port DYNAMODB_PORT=$dynamo_port target/debug/gamify-local --in-memory >"$out" 2>/dev/null &
run=$!
trap 'kill $run 2>/dev/null; wait $run 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 600); do grep -q ready "$out" && break; kill -0 $run || { cat "$out"; exit 1; }; sleep 0.1; done
keys=$(grep '^Demo account' "$out" | sed 's/^[^{]*//' | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["live"]))')
CONSOLE_BASE="http://127.0.0.1:$port" CONSOLE_KEYS="$keys" CONSOLE_SCREENSHOTS=target/console-screenshots \
  .venv/bin/python functions/console/browser-tests/test_console.py
