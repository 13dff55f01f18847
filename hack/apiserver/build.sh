#!/usr/bin/env bash
# Build the embedded kube-apiserver + etcd test server into bin/, and the kubelet, kube-scheduler,
# kube-controller-manager and kube-proxy of the same Kubernetes release for the real-node bed
# (hack/cluster.sh; tools pinned by go.mod's `tool` block).
# The first build compiles k8s.io/kubernetes (~6 min on 2 cores); the Go build
# cache makes later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"

# Kubernetes stamps its version at link time (hack/lib/version.sh); without
# this /version says v0.0.0-master and kubectl/helm complain.
ver=$(go list -m -f '{{.Version}}' k8s.io/kubernetes) # e.g. v1.37.2
major=${ver#v}
minor=${major#*.}
major=${major%%.*}
minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$ver -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean"
done

# -trimpath keeps the binary independent of this checkout's path; -s -w drop
# symbols (smaller, links faster). cgo is not needed.
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="$ldflags" -o bin/kube-apiserver-embedded .
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="$ldflags" -o bin/ \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler \
  k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-proxy
