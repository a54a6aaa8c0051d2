#!/usr/bin/env bash
# `make bench`: the measurements of BENCHMARKS.md. Builds the release binaries (the profile the
# Lambda zips use, for this machine's architecture), then runs them:
#   - gamify-bench: cold start, HTTP throughput vs raw DynamoDB Local, progress latency
#     (writes benchmarks/results.json and benchmarks/chart.svg; options --runs, --seconds, --logs, --members);
#   - the criterion bench of the handler overhead.
# The capacity budgets are tests (`make test`), not timings.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== release build"
# Two builds: the functions alone, so their binaries are the ones Lambda runs (building them with
# the local tools would unify the domain crate's `local` feature into them).
cargo build --release --locked \
  -p authorizer -p logs -p members -p points -p leaderboards -p programs -p progress -p progress-reads -p track-user -p webhooks
cargo build --release --locked -p gamify-local -p gamify-bench

echo "== cold start, HTTP throughput, progress latency"
target/release/gamify-bench "$@"

echo "== handler overhead (criterion)"
cargo bench --locked -p app --bench handlers
