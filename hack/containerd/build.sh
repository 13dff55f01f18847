#!/usr/bin/env bash
# Build containerd v2 (containerd, its runc shim, ctr) into bin/ from the Go module proxy, for the
# real-node bed (hack/cluster.sh). Why v2 and not Debian's 1.6: kubelet 1.37 reports
# kubelet_cri_losing_support{version="1.38.0"} with containerd 1.x (support ends with Kubernetes
# 1.38), so the bed runs what a current cluster runs. About 2.5 minutes cold on 2 cores; the Go
# build cache makes reruns take seconds.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
ver=$(go list -m -f "{{.Version}}" github.com/containerd/containerd/v2) # e.g. v2.4.2
want=(bin/containerd bin/containerd-shim-runc-v2 bin/ctr)
if [ -x bin/containerd ] && [ "$(bin/containerd --version | awk '{print $3}')" = "$ver" ] \
    && [ -x bin/containerd-shim-runc-v2 ] && [ -x bin/ctr ]; then
  exit 0
fi
mkdir -p bin
CGO_ENABLED=0 nice -n 10 go build -trimpath \
  -tags "no_btrfs no_devmapper no_zfs osusergo netgo" \
  -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$ver" \
  -o bin/ \
  github.com/containerd/containerd/v2/cmd/containerd \
  github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
  github.com/containerd/containerd/v2/cmd/ctr
for b in "${want[@]}"; do [ -x "$b" ] || { echo "error: $b was not built" >&2; exit 1; }; done
