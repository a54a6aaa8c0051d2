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
# One function per operation, and each parses every status the operation documents.
.venv/bin/python - "$out/gamify_client" <<'PY'
import glob, re, sys, yaml
doc = yaml.safe_load(open("openapi.yaml"))
operations = [(op["operationId"], {str(s) for s in op["responses"]})
              for ops in doc["paths"].values() for m, op in ops.items() if m in ("get", "put", "post", "delete", "patch")]
generated = [f for f in glob.glob(sys.argv[1] + "/api/*/*.py") if not f.endswith("__init__.py")]
problems = []
for operation_id, statuses in operations:
    name = re.sub(r"(?<!^)(?=[A-Z])", "_", operation_id).lower()
    found = [f for f in generated if f.endswith(f"/{name}.py")]
    if not found:
        problems.append(f"{operation_id}: not generated")
        continue
    parsed = set(re.findall(r"response\.status_code == (\d+)", open(found[0]).read()))
    if statuses - parsed:
        problems.append(f"{operation_id}: answers {sorted(statuses - parsed)} not parsed")
unparsed = len(problems)
# Every schema is a model, or stands for one: a string (ids, timestamps: typed inline) or a
# one-member allOf that only closes its member (MemberInput is MemberFields to the client).
models = {f.rsplit("/", 1)[1][:-3] for f in glob.glob(sys.argv[1] + "/models/*.py")}
snake = lambda n: re.sub(r"(?<!^)(?=[A-Z])", "_", n).lower()
schemas = doc["components"]["schemas"]
aliases = 0
for name, schema in schemas.items():
    if snake(name) in models:
        continue
    members = schema.get("allOf", [])
    if schema.get("type") in ("string", ["string", "null"]) or (len(members) == 1 and snake(members[0]["$ref"].split("/")[-1]) in models
                                          and set(schema) <= {"allOf", "unevaluatedProperties", "description"}):
        aliases += 1
        continue
    problems.append(f"schema {name}: no model")
print(f"schemas: {len(schemas)} in openapi.yaml, {len(schemas) - aliases} models and {aliases} strings or aliases")
print(f"operations: {len(operations)} in openapi.yaml, {len(generated)} generated; "
      f"{sum(len(s) for _, s in operations)} documented answers, {'all' if not unparsed else 'not all'} parsed")
if problems or len(generated) != len(operations):
    sys.exit("clients-check: " + "; ".join(problems or ["a generated function matches no operation"]))
PY

. scripts/lib/local-run.sh
start_local_run
trap 'stop_local_run; rm -rf "$out"' EXIT

# The README's two examples, as written but for the run's URL, with its keys (so they cannot go
# stale).
.venv/bin/python - "$out" <<'PY'
import re, sys
readme = open("README.md").read()
section = readme[readme.index("## Clients"):readme.index("## Performance and cost")]
base = __import__("os").environ["LOCAL_BASE"]
python = re.search(r"```python\n(.*?)```", section, re.S).group(1).replace("http://127.0.0.1:3000", base)
ts = re.search(r"```ts\n(.*?)```", section, re.S).group(1).replace("http://127.0.0.1:3000", base)
keys = "import json, os\n_k = json.loads(os.environ['LOCAL_KEYS'])\nAPI_KEY, API_SECRET = _k['apiKey'], _k['apiSecret']\n"
open(sys.argv[1] + "/readme_example.py", "w").write(keys + python + "assert member.external_id == 'user_12345'\nprint('readme python example: ok')\n")
header = "const { apiKey: API_KEY, apiSecret: API_SECRET } = JSON.parse(process.env.LOCAL_KEYS ?? '{}') as { apiKey: string; apiSecret: string };\n"
open("tools/clients/readme.ts", "w").write(header + ts)
PY

echo "== openapi-typescript + tsc --strict"
tools/clients/node_modules/.bin/openapi-typescript openapi.yaml -o tools/clients/api.d.ts --default-non-nullable false
tools/clients/node_modules/.bin/tsc -p tools/clients/tsconfig.json

echo "== the story through both clients against the local run"
.venv/bin/python tools/clients/story.py "$out"
node tools/clients/build/story.js
PYTHONPATH="$out" .venv/bin/python "$out/readme_example.py"
# The member exists now: the TypeScript example prints the API's error code for it.
node tools/clients/build/readme.js 2>&1 | tee "$out/readme-ts.txt"
grep -qx conflict "$out/readme-ts.txt"
