# syntax=docker/dockerfile:1
# The kube-vrrp agent image: one static (musl) binary on distroless/static -- no shell, no libc,
# no package manager at run time.
#
# The build stage runs exactly the build of hack/static-build.sh, which CI can run without a
# container engine: `cargo build --release --locked --target x86_64-unknown-linux-musl`.
#
#   docker build -t kube-vrrp:0.1.0 .

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
# ring (TLS to the API server) compiles a little C: musl-gcc builds it against musl.
RUN apt-get update \
 && apt-get install -y --no-install-recommends musl-tools \
 && rm -rf /var/lib/apt/lists/* \
 && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin kube-vrrp \
 && cp target/x86_64-unknown-linux-musl/release/kube-vrrp /kube-vrrp

FROM gcr.io/distroless/static-debian12
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="kube-vrrp" \
      org.opencontainers.image.description="Kubernetes-native virtual IPs over standard VRRP (RFC 5798 v3, RFC 3768 v2)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/static-debian12"
COPY --from=build /kube-vrrp /kube-vrrp
# Root on purpose, with every capability but NET_ADMIN and NET_RAW dropped by the pod's
# securityContext (charts/kube-vrrp/templates/daemonset.yaml says why): Kubernetes puts a
# non-root container's added capabilities in the bounding set only, and file capabilities on the
# binary would need allowPrivilegeEscalation: true. The configuration cache is a root-owned
# hostPath, written 0600 (it holds PASS passwords).
USER 0:0
EXPOSE 9650
ENTRYPOINT ["/kube-vrrp"]
CMD ["agent"]
