#!/usr/bin/env bash
# The Kubernetes lab (`hack/lab.sh kubernetes`): three real nodes (kubelet + containerd, each in a
# network namespace; hack/cluster.sh), the chart installed with helm, a VirtualIP applied with
# kubectl, `kubectl get vip` before and after a node loss and a rolling update, with what a
# client pinging the VIP every 10 ms saw. Tears everything down at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

VIP=198.51.100.100
say() { printf '\n== %s\n' "$*"; }
k() { hack/cluster.sh kubectl "$@"; }

trap 'hack/cluster.sh down' EXIT
say "bringing up 3 nodes (builds what is missing on the first run)"
hack/cluster.sh up 3
eval "$(hack/cluster.sh env)"

say "helm install (the image built by hack/image.sh, loaded on every node)"
hack/cluster.sh helm install kube-vrrp charts/kube-vrrp --namespace kube-vrrp --create-namespace \
  --set image.repository="${KVC_AGENT_IMAGE%:*}" --set image.tag="${KVC_AGENT_IMAGE##*:}" \
  --set image.pullPolicy=Never --wait --timeout 180s >/dev/null
k get pods -n kube-vrrp -o wide

say "kubectl apply a VirtualIP (node1 150, node2 100, node3 50)"
cat >"$KVC_STATE/web.yaml" <<EOF
apiVersion: kubevrrp.io/v1alpha1
kind: VirtualIP
metadata: {name: web}
spec:
  vrid: 51
  addresses: [$VIP/32]
  priorities:
  - {nodeName: node1, priority: 150}
  - {nodeName: node2, priority: 100}
  - {nodeName: node3, priority: 50}
EOF
k apply -f "$KVC_STATE/web.yaml"
for _ in $(seq 1 60); do [ "$(k get vip web -o jsonpath='{.status.master}')" = node1 ] && break; sleep 0.5; done
k get vip

# ping_during SECONDS COMMAND...: run COMMAND while the client pings the VIP every 10 ms (for
# at most SECONDS); print what the client saw.
ping_during() {
  local seconds=$1 log=$KVC_STATE/ping.log
  shift
  ip netns exec "$KVC_CLIENT_NETNS" ping -n -q -i 0.01 -W 1 -w "$seconds" "$VIP" >"$log" 2>&1 &
  local ping=$!
  sleep 1
  "$@"
  sleep 1
  kill -INT "$ping" 2>/dev/null || true
  wait "$ping" || true
  echo "client: $(grep 'packets transmitted' "$log")"
}

node_loss() {
  hack/cluster.sh link 1 down
  echo "node1's link cut at $(date +%T.%N | cut -c1-12)"
  for _ in $(seq 1 100); do ip -n "$KVC_NODE2_NETNS" -o addr show dev eth0 | grep -q " $VIP/" && break; sleep 0.05; done
  echo "node2 holds $VIP at $(date +%T.%N | cut -c1-12)"
  for _ in $(seq 1 60); do [ "$(k get vip web -o jsonpath='{.status.master}')" = node2 ] && break; sleep 0.5; done
  k get vip
}
say "node loss: node1's link cut (1 s adverts: the bound is 3.6 s)"
ping_during 12 node_loss

say "node1 back: it preempts"
hack/cluster.sh link 1 up
for _ in $(seq 1 60); do [ "$(k get vip web -o jsonpath='{.status.master}')" = node1 ] && break; sleep 0.5; done
k get vip

rolling_update() {
  hack/cluster.sh helm upgrade kube-vrrp charts/kube-vrrp -n kube-vrrp --reuse-values \
    --set-string podAnnotations.lab="$(date +%s)" --wait --timeout 300s >/dev/null
  k rollout status -n kube-vrrp daemonset/kube-vrrp --timeout=180s
  for _ in $(seq 1 60); do [ "$(k get vip web -o jsonpath='{.status.master}')" = node1 ] && break; sleep 0.5; done
}
say "rolling update of the DaemonSet (every agent replaced, one node at a time)"
ping_during 300 rolling_update
k get vip
k get pods -n kube-vrrp -o wide

say "tearing down"
