#!/usr/bin/env bash
# Build the agent's container image without a container engine or a registry: an OCI image archive
# FROM scratch holding the static musl binary of hack/static-build.sh, with the Dockerfile's final
# stage's entrypoint, command, user, port and labels (tests/image.rs fails when the two drift
# apart), a local pause image for the real-node bed's pod sandboxes, and a tiny HTTP server
# image (hack/image/echo.c) as the backend of its LoadBalancer Service tests.
#
#   hack/image.sh            build the archives (what is missing or out of date); print their paths
#   hack/image.sh --print    print the archives' paths and the agent image's name only
#
# Load the agent archive where there is no registry: `ctr -n k8s.io images import FILE`
# (hack/cluster.sh does this on every node) or `podman load -i FILE`; with a registry, build the
# Dockerfile instead (README "Building the image").
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
out=hack/image/out
agent_ref="localhost/kube-vrrp:$version"
pause_ref="localhost/pause:kube-vrrp"
agent_tar="$out/kube-vrrp-$version.oci.tar"
pause_tar="$out/pause.oci.tar"
echo_ref="localhost/echo:kube-vrrp"
echo_tar="$out/echo.oci.tar"

if [ "${1:-}" = "--print" ]; then
  echo "AGENT_IMAGE=$agent_ref AGENT_ARCHIVE=$agent_tar PAUSE_IMAGE=$pause_ref PAUSE_ARCHIVE=$pause_tar ECHO_IMAGE=$echo_ref ECHO_ARCHIVE=$echo_tar"
  exit 0
fi

mkdir -p "$out"
bin=$(hack/static-build.sh | sed -n 's/^static build ok: //p')
[ -x "$bin" ] || { echo "error: hack/static-build.sh gave no binary" >&2; exit 1; }

if [ ! -x "$out/pause" ] || [ hack/image/pause.c -nt "$out/pause" ]; then
  command -v musl-gcc >/dev/null 2>&1 || {
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends musl-tools >/dev/null
  }
  musl-gcc -static -Os -s -o "$out/pause" hack/image/pause.c
fi
if [ ! -x "$out/echo" ] || [ hack/image/echo.c -nt "$out/echo" ]; then
  musl-gcc -static -Os -s -o "$out/echo" hack/image/echo.c
fi

# The Dockerfile's final stage, field for field (tests/image.rs compares them).
python3 hack/image/oci.py "$agent_tar" "$agent_ref" \
  --file "$bin=/kube-vrrp" \
  --entrypoint '["/kube-vrrp"]' --cmd '["agent"]' --user 0:0 --expose 9650/tcp \
  --label org.opencontainers.image.title=kube-vrrp \
  --label "org.opencontainers.image.description=Kubernetes-native virtual IPs over standard VRRP (RFC 5798 v3, RFC 3768 v2)" \
  --label "org.opencontainers.image.version=$version" \
  --label org.opencontainers.image.base.name=scratch
python3 hack/image/oci.py "$pause_tar" "$pause_ref" \
  --file "$out/pause=/pause" --entrypoint '["/pause"]'
# The backend of the LoadBalancer Service tests: HTTP on 8080, answers with pod and node names.
python3 hack/image/oci.py "$echo_tar" "$echo_ref" \
  --file "$out/echo=/echo" --entrypoint '["/echo"]' --user 65534:65534 --expose 8080/tcp

echo "agent binary: $(stat -c %s "$bin") bytes; image archive (gzip layer, as pulled): $(stat -c %s "$agent_tar") bytes"
