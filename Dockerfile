# execgate: the gateway and the bundled runner in one image.
#
#   docker build -t execgate .          # or: docker compose build
#
# The gateway runs as the unprivileged `execgate` user (the default); the runner
# needs root and the privileges compose.yaml's `runner` service grants
# (README: "Containers").

# The Rust toolchain the binary is built with: the official image's tag.
ARG RUST_VERSION=1.95.0

# ---- plan: the dependency layer's input — manifests, the lock file, and every
# Rust source replaced by a stub, so that changing code never invalidates the
# (long) dependency build below, only a changed Cargo.toml or Cargo.lock does.
FROM rust:${RUST_VERSION}-bookworm AS plan
WORKDIR /src
COPY . .
RUN find . -name '*.rs' | while read -r f; do echo 'fn main() {}' > "$f"; done \
 && find . -type f ! -name '*.rs' ! -name Cargo.toml ! -name Cargo.lock -delete \
 && find . -depth -type d -empty -delete

# ---- build
FROM rust:${RUST_VERSION}-bookworm AS build
# libz-ng-sys (Pingora's compression) builds zlib-ng with cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Cargo.toml's `container` profile: release without debug info, opt-level 2.
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never
# Empty (the default): the binary is built here from the sources. A path inside
# the build context instead ships the execgate binary found there, built
# outside for this image's Debian (glibc 2.36) — the CI's own build, which
# scripts/test-container stages under target/container-bin/ (.dockerignore
# lets that one file through). Either way the runtime stage is the same.
ARG EXECGATE_PREBUILT=
COPY --from=plan /src/ ./
RUN [ -n "$EXECGATE_PREBUILT" ] || cargo build --profile container --locked --bin execgate
COPY . .
# The copied sources keep the build context's times, which may be older than
# the stub build's output: touch them so cargo rebuilds the workspace crates.
RUN if [ -n "$EXECGATE_PREBUILT" ]; then \
      install -m 0755 "$EXECGATE_PREBUILT" /usr/local/bin/execgate; \
    else \
      find src crates -name '*.rs' -exec touch {} + \
      && cargo build --profile container --locked --bin execgate \
      && install -m 0755 target/container/execgate /usr/local/bin/execgate; \
    fi \
 && /usr/local/bin/execgate --version

# ---- runtime
FROM debian:bookworm-slim
ARG RUST_VERSION
LABEL org.opencontainers.image.title="execgate" \
      org.opencontainers.image.description="A security gateway for code-execution services (Piston, Judge0, generic JSON) with a bundled sandbox runner" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.base.name="debian:bookworm-slim" \
      org.opencontainers.image.source="https://github.com/execgate/execgate"
# What config/runner.toml's languages run: python3, gcc and g++ (with libc
# headers and binutils), bash, node. python3 also serves the HEALTHCHECK.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 gcc g++ libc6-dev bash nodejs \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin execgate
COPY --from=build /usr/local/bin/execgate /usr/local/bin/execgate
COPY deploy/docker/healthcheck /usr/local/bin/execgate-healthcheck
COPY config/ /opt/execgate/config/
COPY rules/ /opt/execgate/rules/
WORKDIR /opt/execgate
USER execgate
# Proxy and admin API (the admin API belongs on loopback or a private network).
EXPOSE 8080 9090
# The gateway stops accepting on SIGTERM and lets executions in flight finish.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
  CMD ["execgate-healthcheck", "http://127.0.0.1:9090/healthz"]
ENTRYPOINT ["execgate"]
CMD ["gateway", "--config", "config/compose.toml"]
