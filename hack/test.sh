#!/usr/bin/env bash
# Run every test: formatting, lints, unit and integration tests (network-namespace tests need
# root). Installs missing prerequisites first.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/root.sh # re-runs this script as root (sudo) when needed
hack/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
cargo test --all-targets -- --test-threads="${TEST_THREADS:-2}"
# The image's binary: the same static musl build the Dockerfile runs (no Docker engine here).
hack/static-build.sh
