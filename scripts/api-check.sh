#!/usr/bin/env bash
# Part of `make test`: openapi.yaml passes Redocly's and Spectral's lint with no error, and
# schemathesis, run against `make run`'s program, finds no 5xx and no answer that differs from
# openapi.yaml (status code, content type, body schema), with a bounded number of examples.
#   API_CHECK_EXAMPLES   examples per operation and phase (default 25)
#   API_CHECK_SEED       schemathesis' seed (default 1: the same run every time)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python --lint

echo "== redocly lint openapi.yaml"
tools/lint/node_modules/.bin/redocly lint openapi.yaml
echo "== spectral lint openapi.yaml"
tools/lint/node_modules/.bin/spectral lint openapi.yaml --ruleset tools/lint/.spectral.yaml --fail-severity error

echo "== schemathesis against the local run"
# Per-key limits off: the run explores the API's logic, not the limiter (429 is documented too).
. scripts/lib/local-run.sh
start_local_run RATE_LIMIT_SECRET=off RATE_LIMIT_PUBLIC=off
key() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$LOCAL_KEYS" "$1"; }

check() {
  .venv/bin/schemathesis run openapi.yaml --url "$LOCAL_BASE" "$@" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing,stateful --max-examples "${API_CHECK_EXAMPLES:-25}" \
    --seed "${API_CHECK_SEED:-1}" --generation-database none --no-color --workers 1
}
echo "-- with the secret key, every operation"
check -H "x-api-key: $(key apiKey)" -H "x-api-secret: $(key apiSecret)"
echo "-- with the public key, the track-user operations"
check -H "x-api-key: $(key publicKey)" --include-tag track-user
