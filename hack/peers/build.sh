#!/usr/bin/env bash
# Build the Kubernetes peers the benchmark compares kube-vrrp with (bench/peers.rs) into bin/:
# MetalLB's controller and speaker (go.universe.tf/metallb, layer 2; pinned by go.mod's `tool`
# block, built from the Go module proxy, no source in this repository) and lease-announcer
# (./lease-announcer: client-go leader election on a Lease, kube-vip's ARP mode stand-in).
# The first build downloads and compiles client-go/controller-runtime/memberlist (a few minutes
# on 2 cores); the Go build cache makes later runs take seconds. MetalLB's CRDs are read by the
# bench from the module cache (`go list -m -f '{{.Dir}}' go.universe.tf/metallb`).
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bin
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="-s -w" -o bin/ \
  go.universe.tf/metallb/controller go.universe.tf/metallb/speaker
CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags="-s -w" -o bin/lease-announcer ./lease-announcer
go list -m -f '{{.Dir}}' go.universe.tf/metallb >bin/metallb-dir
