# Sourced by the checks that run against `make run`'s program (api-check, console-check,
# clients-check): builds it, starts it in memory on free ports, waits until it is ready and sets
#   LOCAL_BASE  its URL
#   LOCAL_KEYS  the demo account's live keys, as JSON ({"apiKey", "apiSecret", "publicKey"})
#   LOCAL_ACCOUNT  the demo account's id
# It stops when the sourcing script exits (a script with its own EXIT trap calls stop_local_run
# in it). Extra environment for the run: the arguments.
start_local_run() {
  cargo build --quiet --locked -p gamify-local
  local port dynamo_port out
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  port=$(free_port); dynamo_port=$(free_port)
  out=$(mktemp)
  env "$@" PORT="$port" DYNAMODB_PORT="$dynamo_port" target/debug/gamify-local --in-memory >"$out" 2>/dev/null &
  LOCAL_RUN_PID=$!
  LOCAL_RUN_OUT=$out
  trap stop_local_run EXIT
  for _ in $(seq 600); do
    grep -q ready "$out" && break
    kill -0 $LOCAL_RUN_PID || { cat "$out"; exit 1; }
    sleep 0.1
  done
  local account
  account=$(grep '^Demo account' "$out" | sed 's/^[^{]*//')
  LOCAL_BASE="http://127.0.0.1:$port"
  LOCAL_KEYS=$(python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])["live"]))' "$account")
  LOCAL_ACCOUNT=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["accountId"])' "$account")
  export LOCAL_BASE LOCAL_KEYS LOCAL_ACCOUNT
}

stop_local_run() {
  kill "$LOCAL_RUN_PID" 2>/dev/null || true
  wait "$LOCAL_RUN_PID" 2>/dev/null || true
  rm -f "$LOCAL_RUN_OUT"
}
