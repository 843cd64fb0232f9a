# backup-exporter container image.
#
#   docker build -t backup-exporter .
#   docker run --rm -p 9877:9877 backup-exporter --demo
#   docker run -d -p 9877:9877 \
#     -v /etc/backup-exporter:/etc/backup-exporter:ro backup-exporter
#
# Without a registry, deploy/container/build-offline.sh builds the same layout FROM scratch
# with podman (that image is the one CI runs).
#
# Build stage: the release profile of Cargo.toml (thin LTO, one codegen unit, stripped).
FROM docker.io/library/rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock build.rs ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked --bin backup-exporter

# Runtime: distroless with glibc only (TLS is rustls, no OpenSSL), as the image's non-root
# user (65532). No shell and no curl: the health check is the binary's own.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/backup-exporter /usr/local/bin/backup-exporter
USER 65532:65532
EXPOSE 9877
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/backup-exporter", "healthcheck", "--url", "http://127.0.0.1:9877/-/healthy"]
ENTRYPOINT ["/usr/local/bin/backup-exporter"]
CMD ["--config.file=/etc/backup-exporter/backup-exporter.yml"]
