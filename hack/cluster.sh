#!/usr/bin/env bash
# The real-node bed: a Kubernetes cluster of real kubelets and containerd, each node in its own
# network namespace on a bridge, with a control plane (kube-apiserver + etcd, kube-scheduler,
# kube-controller-manager) and a client, nothing in the root namespace. Needs root.
#
#   hack/cluster.sh up [N] [--services]   build what is missing, start the control plane and N
#                                   nodes (3); --services adds a pod network and kube-proxy
#                                   (LoadBalancer Services with real traffic; N <= 4)
#   hack/cluster.sh down            stop everything it started (by PID), delete its namespaces
#   hack/cluster.sh env             `export` lines to eval: KUBECONFIG, node names and netns, ...
#   hack/cluster.sh kubectl ARGS    kubectl against the bed (run in the control-plane namespace)
#   hack/cluster.sh helm ARGS       helm against the bed
#   hack/cluster.sh status          what is running
#   hack/cluster.sh kubelet stop|start I    stop or restart node I's kubelet (NotReady)
#   hack/cluster.sh apiserver stop|start    stop or restart the API server (same state)
#   hack/cluster.sh link I down|up          cut or restore node I's link (node loss)
#
# Addresses: 198.51.100.0/24 only, so the README's VIP 198.51.100.100 is on the nodes' subnet.
# Control plane .1: the API server listens on 198.51.100.1:443, which is also the `kubernetes`
# Service's ClusterIP (the Service range is 198.51.100.0/29), so in-cluster clients reach it
# without kube-proxy. Client .2, nodes .11, .12, ...
# With --services: kube-proxy (nftables mode) on every node, the Service range 203.0.113.0/26
# (the `kubernetes` ClusterIP 203.0.113.1, DNATed to .1:443), and a bridge pod network: node I's
# pods in 203.0.113.(48+16I)/28, routed between the nodes and from the control plane.
# What each choice is for (runc's oom_score_adj, nsenter, one mount namespace per node, ...) is
# in docs/real-nodes.md.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

STATE=${KUBE_VRRP_CLUSTER_DIR:-/tmp/kube-vrrp-cluster}
P=${KUBE_VRRP_CLUSTER_PREFIX:-kvc}
NET=198.51.100
CP_IP=$NET.1
CLIENT_IP=$NET.2
K8S_BIN=$REPO/hack/apiserver/bin
CTRD_BIN=$REPO/hack/containerd/bin
TOOLS=$REPO/hack/bin

log() { printf '[%4ss] %s\n' "$(($(date +%s) - ${T0:-$(date +%s)}))" "$*" >&2; }
die() { echo "hack/cluster.sh: $*" >&2; exit 1; }
node_ip() { echo "$NET.$((10 + $1))"; }
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

kubectl_() { in_ns "$P-cp" "$TOOLS/kubectl" --kubeconfig "$STATE/cp/admin.kubeconfig" "$@"; }
helm_() { in_ns "$P-cp" "$TOOLS/helm" --kubeconfig "$STATE/cp/admin.kubeconfig" "$@"; }

# Run "$@" until it succeeds, every $2 seconds, at most $1 seconds.
wait_for() {
  local limit=$1 every=$2 end
  shift 2
  end=$(($(date +%s) + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep "$every"
  done
}

build() {
  [ "$(id -u)" = 0 ] || die "needs root (network namespaces, containerd)"
  if [ -n "${KUBE_VRRP_CLUSTER_PREBUILT:-}" ]; then
    # From a test: cargo holds the build directory, so nothing is built here; hack/test.sh
    # built it all before the tests.
    local f
    eval "$(hack/image.sh --print)"
    for f in "$K8S_BIN/kubelet" "$K8S_BIN/kube-apiserver-embedded" "$K8S_BIN/kube-proxy" \
        "$CTRD_BIN/containerd" "$TOOLS/kubectl" "$TOOLS/helm" "$AGENT_ARCHIVE" "$PAUSE_ARCHIVE" \
        "$ECHO_ARCHIVE"; do
      [ -e "$f" ] || die "$f is missing: run hack/cluster.sh up once (or hack/test.sh)"
    done
    return 0
  fi
  local need=()
  command -v runc >/dev/null 2>&1 || need+=(runc)
  [ -x /usr/lib/cni/loopback ] || need+=(containernetworking-plugins)
  command -v openssl >/dev/null 2>&1 || need+=(openssl)
  if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
  hack/tools.sh >/dev/null
  local b
  for b in kube-apiserver-embedded kubelet kube-scheduler kube-controller-manager kube-proxy; do
    if [ ! -x "$K8S_BIN/$b" ] || [ hack/apiserver/go.mod -nt "$K8S_BIN/$b" ] \
        || [ hack/apiserver/main.go -nt "$K8S_BIN/kube-apiserver-embedded" ]; then
      hack/apiserver/build.sh
      break
    fi
  done
  hack/containerd/build.sh
  hack/image.sh >&2
}

start_network() {
  local n=$1 i
  ip netns add "$P-sw"
  ip -n "$P-sw" link set lo up
  ip -n "$P-sw" link add br0 type bridge mcast_snooping 0
  ip -n "$P-sw" link set br0 up
  attach "$P-cp" "$CP_IP" cp
  attach "$P-client" "$CLIENT_IP" client
  for i in $(seq 1 "$n"); do attach "$P-node$i" "$(node_ip "$i")" "n$i"; done
}

# attach NS ADDRESS PORT: a namespace whose eth0 is a port of the bridge (the veth is made in the
# switch namespace and its peer moved: nothing is created in the root namespace).
attach() {
  ip netns add "$1"
  ip -n "$1" link set lo up
  ip -n "$P-sw" link add "$3" type veth peer name eth0 netns "$1"
  ip -n "$P-sw" link set "$3" master br0 up
  ip -n "$1" addr add "$2/24" dev eth0
  ip -n "$1" link set eth0 up
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# spawn NAME NETNS COMMAND...: start a long-running process in a namespace, detached, logging to
# $STATE/logs/NAME.log, its PID in $STATE/pids/NAME.
spawn() {
  local name=$1 ns=$2
  shift 2
  setsid nsenter --net="/run/netns/$ns" "$@" >"$STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$STATE/pids/$name"
}

start_control_plane() {
  local cp=$STATE/cp
  apiserver start
  spawn scheduler "$P-cp" "$K8S_BIN/kube-scheduler" --kubeconfig "$cp/admin.kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 10259
  spawn controller-manager "$P-cp" "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$cp/admin.kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10257 \
    --service-account-private-key-file "$cp/sa.key" --root-ca-file "$cp/ca.crt" \
    --use-service-account-credentials=false --service-cluster-ip-range="$(service_range)" \
    --allocate-node-cidrs=false --node-monitor-grace-period=20s \
    --controllers='*,-bootstrapsigner,-tokencleaner'
  if services; then
    # kube-proxy's rights for the nodes' identities (they run it with the kubelet's
    # certificate), and routes to the pod networks.
    wait_for 60 1 kubectl_ apply -f - <<EOF
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: bed-node-proxier}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:node-proxier}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: system:nodes}]
EOF
    local j
    for j in $(seq 1 "$(cat "$STATE/nodes")"); do
      ip -n "$P-cp" route add "$(pod_cidr "$j")" via "$(node_ip "$j")"
    done
  fi
}

# Whether the bed has a pod network and kube-proxy (up --services).
services() { [ -e "$STATE/services" ]; }
# The Service range: without kube-proxy a /29 whose first address, the `kubernetes` Service's
# ClusterIP, is the API server's own address (in-cluster clients reach it directly); with
# kube-proxy 203.0.113.0/26 (kube-proxy rejects traffic to a ClusterIP that its DNAT leaves
# unchanged, so the ClusterIP cannot be the API server's address there).
service_range() { if services; then echo "$SVC_NET.0/26"; else echo "$NET.0/29"; fi; }
SVC_NET=203.0.113
pod_cidr() { echo "$SVC_NET.$((48 + 16 * $1))/28"; }

# The kubelet's client certificate (CN system:node:NAME, O system:nodes: the Node authorizer's
# identity) and its kubeconfig, kubelet configuration, containerd configuration and CNI config.
write_node_files() {
  local i=$1 d=$STATE/n$1 cp=$STATE/cp ip
  ip=$(node_ip "$i")
  mkdir -p "$d/cni" "$d/kubelet" "$d/pod-logs" "$d/host/var-lib-kube-vrrp" "$d/host/var-log-containers" \
    "$d/host/etc-kubernetes-manifests"
  openssl ecparam -name prime256v1 -genkey -noout -out "$d/client.key" 2>/dev/null
  openssl req -new -key "$d/client.key" -subj "/O=system:nodes/CN=system:node:node$i" \
    -out "$d/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n' >"$d/client.ext"
  openssl x509 -req -in "$d/client.csr" -CA "$cp/ca.crt" -CAkey "$cp/ca.key" -CAcreateserial \
    -days 7 -extfile "$d/client.ext" -out "$d/client.crt" 2>/dev/null
  cat >"$d/kubelet.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: bed, cluster: {server: "https://$CP_IP:443", certificate-authority: $cp/ca.crt}}]
users: [{name: node$i, user: {client-certificate: $d/client.crt, client-key: $d/client.key}}]
contexts: [{name: node$i, context: {cluster: bed, user: node$i}}]
current-context: node$i
EOF
  # cgroup v1 host (failCgroupV1: false); no QoS cgroups or node allocatable (shared cgroup
  # tree of one machine); images never garbage-collected (they cannot be pulled again here).
  cat >"$d/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
  x509: {clientCAFile: $cp/ca.crt}
authorization: {mode: AlwaysAllow}
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
failCgroupV1: false
containerRuntimeEndpoint: unix://$d/containerd.sock
podLogsDir: $d/pod-logs
staticPodPath: /etc/kubernetes/manifests
clusterDomain: cluster.local
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%"}
localStorageCapacityIsolation: false
serializeImagePulls: false
syncFrequency: 10s
fileCheckFrequency: 5s
nodeStatusUpdateFrequency: 5s
EOF
  # containerd 2 (config version 4): state per node; restrict_oom_score_adj because root here
  # lacks CAP_SYS_RESOURCE and runc could not lower the sandbox's oom_score_adj; runc state per
  # node; the local pause image; NRI off (its socket path is shared by the host).
  cat >"$d/containerd.toml" <<EOF
version = 4
root = '$d/containerd/root'
state = '$d/containerd/state'
imports = []
[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '$PAUSE_IMAGE'
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  # The pods' network namespaces under the state directory, not /run/netns: \`down\` unmounts
  # everything under the bed's directory, so none outlives the bed (a killed kubelet never
  # removes its sandboxes, and cni-* namespaces were left in the host's /run/netns).
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        Root = '$d/runc'
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '$d/cni'
[plugins.'io.containerd.nri.v1.nri']
  disable = true
[plugins.'io.containerd.server.v1.grpc']
  address = '$d/containerd.sock'
[plugins.'io.containerd.server.v1.ttrpc']
  address = '$d/containerd.sock.ttrpc'
EOF
  if services; then
    # A bridge per node (cni0, the pods' gateway), addresses from host-local with its state in
    # the node's directory; kube-proxy in nftables mode: only the `nft` command (no iptables),
    # rules in the node's own network namespace, the mode upstream is moving to. Conntrack
    # settings left alone (they are not per namespace).
    cat >"$d/cni/10-bed.conflist" <<EOF
{"cniVersion":"1.0.0","name":"bed","plugins":[{"type":"bridge","bridge":"cni0","isGateway":true,
 "ipMasq":false,"hairpinMode":true,"ipam":{"type":"host-local","dataDir":"$d/cni-ipam",
 "ranges":[[{"subnet":"$(pod_cidr "$i")"}]],"routes":[{"dst":"0.0.0.0/0"}]}}]}
EOF
    cat >"$d/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: $d/kubelet.kubeconfig}
hostnameOverride: node$i
clusterCIDR: $SVC_NET.64/26
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
    return 0
  fi
  # Only loopback: the agents run on the host network and never call CNI, but a node reports
  # NetworkReady (and loses its not-ready taint) only once a CNI configuration exists.
  echo '{"cniVersion":"1.0.0","name":"loopback-only","plugins":[{"type":"loopback"}]}' \
    >"$d/cni/10-loopback.conflist"
}

# start_node I: containerd and the kubelet of node I in its network namespace and in a private
# mount namespace that gives the node its own /var/lib/kube-vrrp (the chart's hostPath),
# /var/log/containers (hard-coded in the kubelet) and /etc/kubernetes/manifests (static pods).
start_node() {
  local i=$1 d=$STATE/n$1
  write_node_files "$i"
  spawn "node$i" "$P-node$i" unshare -m --propagation slave bash -c '
    set -e
    d=$1 ctrd=$2 k8s=$3 ip=$4 name=$5
    mkdir -p /var/lib/kube-vrrp /var/log/containers /etc/kubernetes/manifests
    mount --bind "$d/host/var-lib-kube-vrrp" /var/lib/kube-vrrp
    mount --bind "$d/host/var-log-containers" /var/log/containers
    mount --bind "$d/host/etc-kubernetes-manifests" /etc/kubernetes/manifests
    PATH="$ctrd:$PATH" containerd --config "$d/containerd.toml" >"$d/containerd.log" 2>&1 &
    echo $! >"$d/containerd.pid"
    for _ in $(seq 1 100); do [ -S "$d/containerd.sock" ] && break; sleep 0.1; done
    shift 5
    for archive in "$@"; do
      "$ctrd/ctr" --address "$d/containerd.sock" -n k8s.io images import "$archive" >/dev/null
    done
    "$k8s/kubelet" --config "$d/kubelet.yaml" --kubeconfig "$d/kubelet.kubeconfig" \
      --root-dir "$d/kubelet" --cert-dir "$d/kubelet/pki" --hostname-override "$name" \
      --node-ip "$ip" >>"$d/kubelet.log" 2>&1 &
    echo $! >"$d/kubelet.pid"
    wait
  ' bed "$d" "$CTRD_BIN" "$K8S_BIN" "$(node_ip "$i")" "node$i" "$REPO/$AGENT_ARCHIVE" \
    "$REPO/$PAUSE_ARCHIVE" "$REPO/$ECHO_ARCHIVE"
  if services; then
    ip netns exec "$P-node$i" sysctl -qw net.ipv4.ip_forward=1
    # The nodes have no default route: give the Service range one, so that the node's own
    # connections to a ClusterIP (the agents' in-cluster API access) get routed before
    # kube-proxy's DNAT in the output hook rewrites them.
    ip -n "$P-node$i" route add "$(service_range)" via "$CP_IP"
    local j
    for j in $(seq 1 "$(cat "$STATE/nodes")"); do
      [ "$j" = "$i" ] || ip -n "$P-node$i" route add "$(pod_cidr "$j")" via "$(node_ip "$j")"
    done
    spawn "kube-proxy$i" "$P-node$i" "$K8S_BIN/kube-proxy" --config "$d/kube-proxy.yaml"
  fi
}

# kubelet stop|start I: the node stays, its agent keeps running; without a kubelet the node goes
# NotReady after the controller manager's grace period (20 s here).
kubelet() {
  local i=${2:-} d=$STATE/n${2:-}
  [ -d "$d" ] || die "kubelet stop|start I: no node $i"
  case "$1" in
    stop) kill_pid "$d/kubelet.pid" ;;
    start)
      local mnt pid
      pid=$(cat "$STATE/pids/node$i")
      mnt=/proc/$pid/ns/mnt
      [ -e "$mnt" ] || die "node $i's mount namespace is gone"
      setsid nsenter --net="/run/netns/$P-node$i" --mount="$mnt" "$K8S_BIN/kubelet" \
        --config "$d/kubelet.yaml" --kubeconfig "$d/kubelet.kubeconfig" --root-dir "$d/kubelet" \
        --cert-dir "$d/kubelet/pki" --hostname-override "node$i" --node-ip "$(node_ip "$i")" \
        >>"$d/kubelet.log" 2>&1 </dev/null &
      echo $! >"$d/kubelet.pid"
      ;;
    *) die "kubelet stop|start I" ;;
  esac
}

apiserver() {
  case "${1:-}" in
    stop) kill_pid "$STATE/pids/apiserver" ;;
    start)
      rm -f "$STATE/cp/admin.kubeconfig"
      spawn apiserver "$P-cp" "$K8S_BIN/kube-apiserver-embedded" --dir "$STATE/cp" \
        --bind-address "$CP_IP" --port 443 --service-accounts --extra-sans "$SVC_NET.1" -- \
        --service-cluster-ip-range="$(service_range)" --endpoint-reconciler-type=lease \
        --kubelet-preferred-address-types=InternalIP
      wait_for 120 0.5 test -f "$STATE/cp/admin.kubeconfig" || die "the API server did not start"
      ;;
    *) die "apiserver stop|start" ;;
  esac
}

link() {
  [ -d "$STATE/n${1:-}" ] || die "link I down|up: no node ${1:-}"
  case "${2:-}" in
    down | up) ip -n "$P-sw" link set "n$1" "$2" ;;
    *) die "link I down|up" ;;
  esac
}

nodes_ready() {
  local ready
  ready=$(kubectl_ get nodes --no-headers 2>/dev/null | awk '$2 == "Ready"' | wc -l)
  [ "$ready" = "$1" ]
}

untainted() {
  [ -z "$(kubectl_ get nodes -o jsonpath='{.items[*].spec.taints}' 2>/dev/null)" ] \
    && kubectl_ get serviceaccount default >/dev/null 2>&1
}

up() {
  local n=3 with_services=
  while [ $# -gt 0 ]; do
    case "$1" in
      --services) with_services=1 ;;
      *) n=$1 ;;
    esac
    shift
  done
  [[ "$n" =~ ^[1-8]$ ]] || die "up N: N is 1..8 nodes"
  [ -z "$with_services" ] || [ "$n" -le 4 ] || die "up N --services: N is 1..4 nodes"
  [ ! -e "$STATE/nodes" ] || die "a bed is up ($STATE): hack/cluster.sh down first"
  T0=$(date +%s)
  build
  eval "$(hack/image.sh --print)"
  log "built"
  rm -rf "$STATE"
  mkdir -p "$STATE/logs" "$STATE/pids"
  echo "$n" >"$STATE/nodes"
  [ -z "$with_services" ] || touch "$STATE/services"
  start_network "$n"
  log "network namespaces $P-*"
  start_control_plane
  log "control plane at https://$CP_IP:443"
  local i
  for i in $(seq 1 "$n"); do start_node "$i"; done
  wait_for 180 1 nodes_ready "$n" || die "nodes not Ready: $STATE/n*/kubelet.log"
  log "$n nodes Ready"
  wait_for 120 1 untainted || die "nodes still tainted or no default ServiceAccount"
  log "ready: eval \"\$(hack/cluster.sh env)\"; hack/cluster.sh kubectl get nodes"
}

# kill_pid FILE: TERM the process named in FILE, KILL it after 10 s (never by name).
kill_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  [[ "$pid" =~ ^[0-9]+$ ]] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}

down() {
  local d ns pid
  for d in "$STATE"/n[0-9]*; do
    [ -d "$d" ] || continue
    kill_pid "$d/kubelet.pid"
    if [ -S "$d/containerd.sock" ]; then
      local ctr=("$CTRD_BIN/ctr" --address "$d/containerd.sock" -n k8s.io)
      for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
        "${ctr[@]}" tasks kill -s KILL "$t" >/dev/null 2>&1 || true
      done
      sleep 1
      for t in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
        "${ctr[@]}" tasks delete -f "$t" >/dev/null 2>&1 || true
      done
    fi
    kill_pid "$d/containerd.pid"
  done
  # Whatever still runs in a node's network namespace was started by this bed (the shims, the
  # pods on the host network): end it by PID, then the namespace.
  for ns in $(ip netns list 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 {print $1}'); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  for f in "$STATE"/pids/*; do [ -e "$f" ] && kill_pid "$f"; done
  if [ -d "$STATE" ]; then
    awk -v s="$STATE/" 'index($5, s) == 1 {print $5}' /proc/self/mountinfo | sort -r \
      | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  for ns in $(ip netns list 2>/dev/null | awk -v p="$P-" 'index($1, p) == 1 {print $1}'); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -f "$STATE/nodes" "$STATE/services"
}

env_() {
  [ -e "$STATE/nodes" ] || die "no bed is up: hack/cluster.sh up"
  local n i names=""
  n=$(cat "$STATE/nodes")
  for i in $(seq 1 "$n"); do names+="${names:+ }node$i"; done
  echo "export KUBECONFIG=$STATE/cp/admin.kubeconfig"
  echo "export KVC_API_SERVER=https://$CP_IP:443"
  echo "export KVC_CONTROL_NETNS=$P-cp"
  echo "export KVC_CLIENT_NETNS=$P-client"
  echo "export KVC_CLIENT_IP=$CLIENT_IP"
  echo "export KVC_SUBNET=$NET.0/24"
  echo "export KVC_NODES=\"$names\""
  for i in $(seq 1 "$n"); do
    echo "export KVC_NODE${i}_NETNS=$P-node$i KVC_NODE${i}_IP=$(node_ip "$i")"
  done
  echo "export KVC_STATE=$STATE"
  eval "$(hack/image.sh --print)"
  echo "export KVC_AGENT_IMAGE=$AGENT_IMAGE"
  echo "export KVC_ECHO_IMAGE=$ECHO_IMAGE"
  if services; then echo "export KVC_SERVICES=1"; fi
  echo "# kubectl and helm reach the API server from the control-plane namespace only:"
  echo "# hack/cluster.sh kubectl ...; or nsenter --net=/run/netns/$P-cp kubectl ..."
}

status() {
  [ -e "$STATE/nodes" ] || { echo "no bed is up"; return 0; }
  kubectl_ get nodes -o wide
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) down ;;
  env) env_ ;;
  kubectl) shift; kubectl_ "$@" ;;
  helm) shift; helm_ "$@" ;;
  status) status ;;
  kubelet) shift; kubelet "$@" ;;
  apiserver) shift; apiserver "$@" ;;
  link) shift; link "$@" ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
