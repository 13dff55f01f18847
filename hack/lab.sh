#!/usr/bin/env bash
# The netns lab: builds kube-vrrp, runs 3 nodes and a client in network namespaces on a bridge,
# prints the election, a node loss with the client-visible gap, a planned handover; tears down.
# `hack/lab.sh kubernetes`: the same story on real kubelets with helm and kubectl
# (hack/lab-kubernetes.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. hack/root.sh # re-runs this script as root (sudo) when needed
if [ "${1:-}" = kubernetes ]; then
  exec hack/lab-kubernetes.sh
fi
if ! command -v ping >/dev/null || ! command -v ip >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iputils-ping iproute2 >/dev/null
fi
cargo build --release --quiet --bin kube-vrrp
cargo build --release --quiet --example lab
KUBE_VRRP_BIN="$PWD/target/release/kube-vrrp" exec target/release/examples/lab
