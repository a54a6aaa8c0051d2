#!/usr/bin/env bash
# Part of `make test`: clients generated from openapi.yaml cover the whole API and work.
#   - openapi-python-client generates the Python client with no warning and one function per
#     operation of openapi.yaml; ruff formats it;
#   - openapi-typescript generates the TypeScript types, and tsc --strict compiles the openapi-fetch
#     example against them;
#   - both drive the README's story against `make run`'s program (tools/clients/story.{py,ts}).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python --clients
export PATH="$PWD/.venv/bin:$PATH"  # the generator runs ruff from the venv

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== openapi-python-client generate"
log="$out/generate.log"
if ! openapi-python-client generate --path openapi.yaml --meta none --output-path "$out/gamify_client" >"$log" 2>&1; then
  cat "$log"; echo "clients-check: the Python client did not generate" >&2; exit 1
fi
cat "$log"
# Anything but "Generating …" is a warning or an error: a schema or an operation left out.
if grep -v -e '^Generating ' -e '^$' "$log" >/dev/null; then
  echo "clients-check: openapi-python-client warned (above); every schema and operation must generate" >&2; exit 1
fi
generated=$(find "$out/gamify_client/api" -name '*.py' ! -name '__init__.py' | wc -l)
documented=$(.venv/bin/python -c '
import yaml
doc = yaml.safe_load(open("openapi.yaml"))
print(sum(m in ("get", "put", "post", "delete", "patch") for ops in doc["paths"].values() for m in ops))')
echo "operations: $documented in openapi.yaml, $generated generated"
[ "$generated" = "$documented" ] || { echo "clients-check: not every operation generated" >&2; exit 1; }

echo "== openapi-typescript + tsc --strict"
tools/clients/node_modules/.bin/openapi-typescript openapi.yaml -o tools/clients/api.d.ts --default-non-nullable false
tools/clients/node_modules/.bin/tsc -p tools/clients/tsconfig.json

echo "== the story through both clients against the local run"
. scripts/lib/local-run.sh
start_local_run
.venv/bin/python tools/clients/story.py "$out"
node tools/clients/build/story.js
