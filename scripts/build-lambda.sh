#!/usr/bin/env bash
# Release build of every function for AWS Lambda (arm64, provided.al2023), zipped under
# target/lambda/<function>/bootstrap.zip — what `sam deploy` uploads.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --python
rustup target add aarch64-unknown-linux-gnu >/dev/null
# cargo-lambda finds the zig linker (pip package ziglang, its dependency) through the venv on PATH.
export PATH="$PWD/.venv/bin:$PATH"
start=$(date +%s)
# Every crate under functions/ is a Lambda function; -p keeps local-only features out of them.
packages=()
for dir in functions/*/; do packages+=(-p "$(basename "$dir")"); done
.venv/bin/cargo-lambda lambda build --release --arm64 --output-format zip "${packages[@]}"
echo "build-lambda: $(( $(date +%s) - start )) s"
for f in target/lambda/*/bootstrap.zip; do
  printf '%-40s %8d bytes\n' "$f" "$(stat -c %s "$f")"
done
