#!/usr/bin/env bash
# Run every test: formatting, lints, unit and integration tests (network-namespace tests need
# root). Installs missing prerequisites first.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/root.sh # re-runs this script as root (sudo) when needed
hack/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# hack/deps.sh built the image's binary (the static musl build the Dockerfile runs) and its OCI
# archive; the real-node tests use them as built (cargo holds the build directory meanwhile).
KUBE_VRRP_CLUSTER_PREBUILT=1 cargo test --all-targets -- --test-threads="${TEST_THREADS:-2}"
