#!/usr/bin/env bash
# `make test`: every test. The Rust integration tests start DynamoDB Local themselves (or use
# DYNAMODB_ENDPOINT when it is set); the end-to-end test starts the local run itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python

echo "== cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

echo "== cargo test"
# One test process at a time per binary keeps one DynamoDB Local per binary; tests inside a
# binary run in parallel against it.
cargo test --workspace --all-targets --locked

# OpenAPI lint and schemathesis against the local run.
scripts/api-check.sh

# Clients generated from openapi.yaml (Python, TypeScript) drive the story against the local run.
scripts/clients-check.sh

# The console in Chromium against the local run.
scripts/console-check.sh
