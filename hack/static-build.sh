#!/usr/bin/env bash
# Build exactly the binary the Dockerfile builds -- a static x86_64-unknown-linux-musl release
# build with the locked dependencies -- and check that it is statically linked and runs.
# A full release build of every dependency: about 8 minutes on 2 cores when cold.
# Prints the binary's path on success.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=x86_64-unknown-linux-musl

targets=$(rustup target list --installed)
grep -qx "$TARGET" <<<"$targets" || rustup target add "$TARGET"
# ring compiles a little C: musl-gcc (Debian musl-tools) builds it against musl's headers.
if ! command -v musl-gcc >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends musl-tools >/dev/null
fi

cargo build --release --locked --target "$TARGET" --bin kube-vrrp
bin="target/$TARGET/release/kube-vrrp"

desc=$(file -b "$bin")
echo "$bin: $desc"
case "$desc" in
  *"statically linked"* | *"static-pie linked"*) ;;
  *) echo "error: $bin is not statically linked" >&2; exit 1 ;;
esac
if ldd_out=$(ldd "$bin" 2>&1) && ! grep -Eq 'statically linked|not a dynamic executable' <<<"$ldd_out"; then
  echo "error: ldd lists shared libraries for $bin:" >&2
  echo "$ldd_out" >&2
  exit 1
fi
# It runs with no libc on the host side to lean on, and prints the checked-in CRD.
"$bin" --version
diff -u crds/virtualip.yaml <("$bin" crd) >/dev/null || { echo "error: $bin crd differs from crds/virtualip.yaml" >&2; exit 1; }
diff -u crds/virtualippool.yaml <("$bin" crd --pool) >/dev/null || { echo "error: $bin crd --pool differs from crds/virtualippool.yaml" >&2; exit 1; }
echo "static build ok: $bin"
