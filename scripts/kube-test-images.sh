#!/usr/bin/env bash
# Build, offline, the images the Kubernetes suites use on a real cluster
# (HERODO_TEST_KUBECONFIG): each is this host's Debian binary with the shared libraries it
# links, on top of localhost/busybox:test (scripts/test-image.sh builds that):
#   localhost/herodo/registry:test  docker-registry serving :5000 (storage /var/lib/registry)
#   localhost/herodo/sshd:test      sshd on :22, root by key only (host keys made at start)
#   localhost/herodo/buildah:test   buildah + crun, vfs storage, chroot isolation
# Idempotent (an image that exists is kept; FORCE=1 rebuilds). With OUT=DIR each is also saved
# as DIR/NAME.tar (oci-archive) for `ctr -n k8s.io images import` on the cluster's node.
# The fake API server of the tests needs none of them (its node runs the host's binaries).
set -euo pipefail
BASE=localhost/busybox:test
here=$(cd "$(dirname "$0")" && pwd)
podman image exists "$BASE" 2>/dev/null || "$here/test-image.sh"

# Copy binaries and every library they link into the mounted root $1.
add_bins() {
    local root=$1
    shift
    local f lib
    for f in "$@"; do
        mkdir -p "$root$(dirname "$f")"
        cp -L "$f" "$root$f"
        for lib in $(ldd "$f" 2>/dev/null | awk '/=>/ {print $3} /^[ \t]*\// {print $1}'); do
            [ -e "$root$lib" ] && continue
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
    done
}

build() {
    local image=$1 setup=$2
    shift 2
    if [ -z "${FORCE:-}" ] && podman image exists "$image" 2>/dev/null; then
        echo "have $image"
    else
        local ctr mnt
        ctr=$(buildah from "$BASE")
        mnt=$(buildah mount "$ctr")
        "$setup" "$mnt"
        buildah umount "$ctr" >/dev/null
        buildah config "$@" "$ctr"
        buildah commit -q "$ctr" "$image" >/dev/null
        buildah rm "$ctr" >/dev/null
        echo "built $image"
    fi
    if [ -n "${OUT:-}" ]; then
        mkdir -p "$OUT"
        local tar="$OUT/$(echo "$image" | tr '/:' '__').tar"
        rm -f "$tar"
        skopeo copy -q "containers-storage:$image" "oci-archive:$tar:$image"
        echo "saved $tar"
    fi
}

registry_root() {
    add_bins "$1" /usr/bin/docker-registry
    mkdir -p "$1/etc/docker/registry" "$1/var/lib/registry"
    cat > "$1/etc/docker/registry/config.yml" <<'EOF'
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
EOF
}

sshd_root() {
    add_bins "$1" /usr/sbin/sshd /usr/bin/ssh-keygen
    mkdir -p "$1/etc/ssh" "$1/run/sshd" "$1/root/.ssh" "$1/var/empty"
    chmod 700 "$1/root/.ssh"
    echo 'sshd:x:74:74:sshd:/var/empty:/bin/false' >> "$1/etc/passwd"
    cat > "$1/etc/ssh/sshd_config" <<'EOF'
Port 22
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile /root/.ssh/authorized_keys
EOF
    cat > "$1/start-sshd" <<'EOF'
#!/bin/sh
/usr/bin/ssh-keygen -A >/dev/null
mkdir -p /run/sshd
exec /usr/sbin/sshd -D -e
EOF
    chmod 755 "$1/start-sshd"
}

buildah_root() {
    add_bins "$1" /usr/bin/buildah /usr/bin/crun
    mkdir -p "$1/etc/containers" "$1/var/lib/containers" "$1/tmp"
    cat > "$1/etc/containers/policy.json" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
    printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
        > "$1/etc/containers/storage.conf"
    printf 'unqualified-search-registries = []\n' > "$1/etc/containers/registries.conf"
}

build localhost/herodo/registry:test registry_root \
    --entrypoint '["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]' \
    --cmd '[]' --port 5000
build localhost/herodo/sshd:test sshd_root --entrypoint '["/start-sshd"]' --cmd '[]' --port 22
build localhost/herodo/buildah:test buildah_root --env STORAGE_DRIVER=vfs \
    --env BUILDAH_ISOLATION=chroot --cmd '["sleep", "86400"]'
