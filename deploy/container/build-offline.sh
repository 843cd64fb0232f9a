#!/usr/bin/env bash
# Builds the container image without an image registry: the release binary, the shared
# libraries `ldd` lists, Debian's CA bundle and the nonroot user, staged as a root
# filesystem and built FROM scratch with podman (Containerfile.offline).
#
#   bash deploy/container/build-offline.sh [IMAGE]     (default localhost/backup-exporter:ci)
#
# Needs cargo, podman and Debian's ca-certificates. Run the image as
#   CONTAINERS_CONF=deploy/container/containers.conf podman --runtime runc \
#     --cgroup-manager=cgroupfs run --rm --network host --user 65532:65532 --read-only \
#     --cap-drop ALL localhost/backup-exporter:ci --demo
set -euo pipefail
cd "$(dirname "$0")/../.."
image=${1:-localhost/backup-exporter:ci}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/container/containers.conf}

cargo build --release --locked --bin backup-exporter
binary=target/release/backup-exporter
bundle=/etc/ssl/certs/ca-certificates.crt
[ -s "$bundle" ] || { echo "no CA bundle at $bundle (apt-get install ca-certificates)" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
install -D -m 0755 "$binary" "$root/usr/local/bin/backup-exporter"
# The libraries it links, and the dynamic loader, at the paths the binary asks for.
for lib in $(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
  install -D -m 0755 "$(readlink -f "$lib")" "$root$lib"
done
install -D -m 0644 "$bundle" "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$stage/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$stage/group"
install -D -m 0644 "$stage/passwd" "$root/etc/passwd"
install -D -m 0644 "$stage/group" "$root/etc/group"
install -d -m 0755 "$root/etc/backup-exporter"
install -d -m 1777 "$root/tmp"
install -d -m 0700 -o 65532 -g 65532 "$root/home/nonroot" "$root/var/lib/backup-exporter"
cp deploy/container/Containerfile.offline "$stage/Containerfile"

podman --runtime runc --cgroup-manager=cgroupfs build --quiet --format docker \
  --tag "$image" --file "$stage/Containerfile" "$stage" >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "built $image: $((size / 1024 / 1024)) MiB ($size bytes)"
