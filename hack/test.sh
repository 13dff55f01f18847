#!/usr/bin/env bash
# Run every test: formatting, lints, unit and integration tests (network-namespace tests need
# root). Installs missing prerequisites first.
set -euo pipefail
cd "$(dirname "$0")/.."

. hack/root.sh # re-runs this script as root (sudo) when needed
hack/deps.sh
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# bench/floor (the idle-CPU floor bench/run measures) is a package of its own.
cargo fmt --manifest-path bench/floor/Cargo.toml -- --check
CARGO_TARGET_DIR=target/floor cargo clippy --manifest-path bench/floor/Cargo.toml --all-targets -- -D warnings
CARGO_TARGET_DIR=target/floor cargo test --manifest-path bench/floor/Cargo.toml
# hack/deps.sh built the image's binary (the static musl build the Dockerfile runs) and its OCI
# archive; the real-node tests use them as built (cargo holds the build directory meanwhile).
KUBE_VRRP_CLUSTER_PREBUILT=1 cargo test --all-targets -- --test-threads="${TEST_THREADS:-2}"
